"""tile_panel: practice panels from a folder of photographs."""

import errno
import io

import pytest

pytest.importorskip("pytest_django")  # the GPU machine runs these folders without Django

import numpy as np  # noqa: E402
from django.core.management import CommandError, call_command  # noqa: E402
from PIL import Image  # noqa: E402


def photos(folder, count):
    """Photographs of other sizes and shapes, each one flat colour (its index as red)."""
    folder.mkdir()
    for index in range(count):
        size = (40 + index, 30) if index % 2 else (25, 50)
        Image.new("RGB", size, (index * 10, 0, 0)).save(folder / f"{index:02d}.jpg", quality=100)
    return folder


def test_photos_become_square_tiles_in_name_order(tmp_path, capsys):
    folder = photos(tmp_path / "dogs", 7)
    call_command("tile_panel", str(folder), "--out", str(tmp_path / "yes_dog.png"),
                 "--grid", "2x3", "--size", "20")  # fmt: skip
    panel = np.asarray(Image.open(tmp_path / "yes_dog.png"))
    assert panel.shape == (2 * 20 + 2, 3 * 20 + 2 * 2, 3)  # 2 px white lines between tiles
    reds = [panel[row * 22 + 10, col * 22 + 10, 0] for row in range(2) for col in range(3)]
    assert np.allclose(reds, [0, 10, 20, 30, 40, 50], atol=3)  # the first six, by name
    printed = capsys.readouterr().out
    assert "2 rows of 3 images" in printed and "64 x 42 px" in printed
    assert "Used the first 6 of 7 images by name; left out 1: 06.jpg" in printed


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--grid", "3x3"], "holds 7 images .* the grid takes 9"),
        (["--size", "5"], "give 16 to 1024 px"),
        (["--grid", "3"], "ROWSxCOLS"),
    ],
)
def test_bad_requests_say_what_is_wrong(tmp_path, extra, message):
    folder = photos(tmp_path / "dogs", 7)
    with pytest.raises(CommandError, match=message):
        call_command("tile_panel", str(folder), "--out", str(tmp_path / "p.png"), *extra)
    assert not (tmp_path / "p.png").exists()


def test_hidden_files_are_left_out_and_transparency_is_white(tmp_path):
    folder = photos(tmp_path / "toys", 2)
    (folder / "._00.jpg").write_bytes(b"macOS resource fork, not an image")
    clear = Image.new("RGBA", (30, 30), (255, 0, 0, 0))  # red, but fully transparent
    clear.save(folder / "02.png")
    call_command("tile_panel", str(folder), "--out", str(tmp_path / "p.png"),
                 "--grid", "1x3", "--size", "16")  # fmt: skip
    panel = np.asarray(Image.open(tmp_path / "p.png"))
    assert tuple(panel[8, 2 * 18 + 8]) == (255, 255, 255)


def test_an_out_that_is_a_folder_is_refused(tmp_path):
    folder = photos(tmp_path / "dogs", 4)
    (tmp_path / "panel.png").mkdir()
    with pytest.raises(CommandError, match=r"panel.png is a folder; name the panel file"):
        call_command("tile_panel", str(folder), "--out", str(tmp_path / "panel.png"),
                     "--grid", "2x2")  # fmt: skip


def test_the_out_folder_is_made_as_the_docs_example_needs(tmp_path):
    """`tile_panel photos/dogs --out practice/yes_dog.png` on a fresh checkout."""
    folder = photos(tmp_path / "dogs", 4)
    out = tmp_path / "practice" / "yes_dog.png"
    call_command(
        "tile_panel", str(folder), "--out", str(out), "--grid", "2x2", stdout=io.StringIO()
    )
    assert out.is_file()
    (tmp_path / "file").write_text("")
    with pytest.raises(CommandError, match="file is a file, not a folder"):
        call_command("tile_panel", str(folder), "--out", str(tmp_path / "file" / "p.png"),
                     "--grid", "2x2")  # fmt: skip


def test_an_out_in_the_photo_folder_is_refused(tmp_path):
    """The next run would tile the panel itself as one of the photographs."""
    folder = photos(tmp_path / "dogs", 4)
    with pytest.raises(CommandError, match="lies in .*dogs, whose images are tiled"):
        call_command("tile_panel", str(folder), "--out", str(folder / "yes_dog.png"),
                     "--grid", "2x2")  # fmt: skip
    assert not (folder / "yes_dog.png").exists()


def test_an_out_on_a_full_disk_keeps_the_earlier_panel_and_says_so(tmp_path, monkeypatch):
    """Written beside and renamed into place: the earlier panel is not lost half-way."""
    folder = photos(tmp_path / "dogs", 4)
    out = tmp_path / "practice" / "p.png"
    call_command("tile_panel", str(folder), "--out", str(out), "--grid", "2x2", "--size", "32")
    earlier = out.read_bytes()
    real = Image.Image.save

    def half_then_full(self, stream, *args, **kwargs):
        real(self, stream, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")  # the disk filled as it wrote

    monkeypatch.setattr(Image.Image, "save", half_then_full)
    with pytest.raises(CommandError) as refused:
        call_command("tile_panel", str(folder), "--out", str(out), "--grid", "2x2")
    assert str(refused.value) == (
        f"--out {out} cannot be written: No space left on device (free space on that disk); "
        "the earlier p.png is kept as it was"
    )
    assert out.read_bytes() == earlier and [p.name for p in out.parent.iterdir()] == ["p.png"]


def test_the_default_panel_is_5_rows_of_4_tiles_of_227_px(tmp_path):
    """The size docs/experiment.md gives: 4 x 227 + 3 x 2 px wide, 5 x 227 + 4 x 2 px high."""
    folder = photos(tmp_path / "dogs", 20)
    call_command("tile_panel", str(folder), "--out", str(tmp_path / "p.png"), stdout=io.StringIO())
    assert Image.open(tmp_path / "p.png").size == (914, 1143)


@pytest.mark.parametrize("inside", ["panel.png", "images/000.png"])
def test_a_generated_units_files_are_not_replaced(tmp_path, inside):
    """Its panel was replaced unnoticed: resuming and registering then took the new one."""
    folder = photos(tmp_path / "dogs", 4)
    unit = tmp_path / "out" / "unit_00001"
    (unit / "images").mkdir(parents=True)
    (tmp_path / "out" / "settings.json").write_text("{}")
    (unit / "panel.png").write_bytes(b"generated")
    (unit / "images" / "000.png").write_bytes(b"generated")
    with pytest.raises(CommandError, match=r"lies in .*unit_00001, a unit generate_panels made"):
        call_command("tile_panel", str(folder), "--out", str(unit / inside), "--grid", "2x2")
    assert (unit / inside).read_bytes() == b"generated"
