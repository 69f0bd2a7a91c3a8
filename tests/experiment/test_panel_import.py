"""import_panels: file names, practice answers, all-or-nothing imports, skipping known files."""

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from PIL import Image

import experiment.panel_import as panel_import
from experiment.digits import digit_unit_panels_write, practice_panels_write
from experiment.models import Experiment, Panel
from experiment.panel_images import image_8bit
from experiment.panel_import import (
    PanelImportError,
    panels_import_dir,
    practice_from_name,
    unit_from_name,
)
from experiment.services import panel_display_bytes, panel_register


@pytest.mark.parametrize(
    ("stem", "layer", "unit"),
    [
        ("fc6_0042", "fc6", 42),
        ("unit0042", "", 42),
        ("42", "", 42),
        ("conv5-unit_7", "conv5", 7),
        ("alexnet.fc8.12", "alexnet.fc8", 12),
    ],
)
def test_unit_index_is_the_number_ending_the_file_name(stem, layer, unit):
    assert unit_from_name(stem) == (layer, unit)


@pytest.mark.parametrize("stem", ["fc6", "panel", "img 42", "42a"])
def test_names_without_a_unit_are_refused(stem):
    with pytest.raises(ValueError, match="no unit index"):
        unit_from_name(stem)


def test_a_unit_index_the_database_cannot_hold_is_refused():
    assert unit_from_name("fc6_2147483647") == ("fc6", 2**31 - 1)
    with pytest.raises(ValueError, match="unit index 2147483648 is above the largest"):
        unit_from_name("fc6_2147483648")


@pytest.mark.parametrize(
    ("stem", "answer", "label"),
    [
        ("yes_dog", "yes", "dog"),
        ("yes-digit-3_2", "yes", "digit 3"),
        ("yes-digit-3", "yes", "digit 3"),
        ("yes_dog_12", "yes", "dog"),
        ("no_noise_1", "no", ""),
        ("NO", "no", ""),
    ],
)
def test_practice_answer_and_label_come_from_the_file_name(stem, answer, label):
    assert practice_from_name(stem) == (answer, label)


def test_practice_names_without_an_answer_need_the_flag():
    with pytest.raises(ValueError, match="start with yes or no and a separator"):
        practice_from_name("yesterday")
    # --answer: any name works, and only a yes_/no_ name gives a label (IMG_1234 is no "IMG")
    assert practice_from_name("IMG_1234", "yes") == ("yes", "")
    assert practice_from_name("yes_dog", "yes") == ("yes", "dog")


def test_import_registers_units_with_display_images_and_skips_known_files(experiment, tmp_path):
    digit_unit_panels_write(tmp_path, layer="fc6", units=3, images=4)
    result = panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")
    assert len(result.imported) == 3
    panel = Panel.objects.get(unit=2)
    assert (panel.network, panel.layer, panel.is_practice) == ("alexnet", "fc6", False)
    assert Path(panel.display_image.path).is_file() and Path(panel.image.path).is_file()
    again = panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")
    assert (len(again.imported), len(again.skipped)) == (0, 3)
    assert Panel.objects.count() == 3


def test_practice_import_stores_intended_answers(experiment, tmp_path):
    practice_panels_write(tmp_path)
    panels_import_dir(experiment=experiment, directory=tmp_path, practice=True)
    answers = dict(Panel.objects.values_list("source", "intended_answer"))
    assert answers["import/practice/yes-digit-3.png"] == "yes"
    assert answers["import/practice/no-pixel-noise.png"] == "no"
    assert Panel.objects.get(intended_label="digit 3").is_practice


def test_a_bad_file_is_named_and_nothing_is_imported(experiment, tmp_path, settings):
    digit_unit_panels_write(tmp_path, layer="fc6", units=2, images=4)
    (tmp_path / "fc6_0099.png").write_bytes(b"not an image at all")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(PanelImportError) as raised:
        panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")
    assert "fc6_0099.png: " in str(raised.value)
    assert "notes.txt: " in str(raised.value)
    assert "nothing was stored" in str(raised.value)
    assert not Panel.objects.exists()
    assert not Path(settings.MEDIA_ROOT).exists() or not any(Path(settings.MEDIA_ROOT).rglob("*.*"))


def test_a_failure_while_storing_removes_the_files_already_written(
    experiment, tmp_path, settings, monkeypatch
):
    digit_unit_panels_write(tmp_path, layer="fc6", units=3, images=4)
    real_register = panel_import.panel_register
    calls = []

    def register_then_fail(**kwargs):
        calls.append(kwargs)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_register(**kwargs)

    # The disk filling up mid-import is a true boundary we cannot cause for real.
    monkeypatch.setattr(panel_import, "panel_register", register_then_fail)
    with pytest.raises(OSError, match="disk full"):
        panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")
    assert not Panel.objects.exists()
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.*"))


def test_main_panels_need_a_network_and_a_layer(experiment, tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / "42.png")
    with pytest.raises(PanelImportError, match="--network"):
        panels_import_dir(experiment=experiment, directory=tmp_path)
    with pytest.raises(PanelImportError, match="no layer"):
        panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")
    result = panels_import_dir(
        experiment=experiment, directory=tmp_path, network="alexnet", layer="fc8"
    )
    assert (result.imported[0].layer, result.imported[0].unit) == ("fc8", 42)


def test_missing_or_empty_folders_are_refused(experiment, tmp_path):
    with pytest.raises(PanelImportError, match="is not a folder"):
        panels_import_dir(experiment=experiment, directory=tmp_path / "nope", network="a")
    with pytest.raises(PanelImportError, match="no files"):
        panels_import_dir(experiment=experiment, directory=tmp_path, network="a")


def test_command_imports_and_reports_errors_as_command_errors(experiment, tmp_path, capsys):
    digit_unit_panels_write(tmp_path, layer="conv5", units=2, images=4)
    call_command("import_panels", str(tmp_path), experiment="study", network="alexnet")
    out = capsys.readouterr().out
    assert "Imported 2 panels" in out and "alexnet conv5: 2 panels" in out
    with pytest.raises(
        CommandError, match="No experiment .other. .existing: study.; create it in the admin"
    ):
        call_command("import_panels", str(tmp_path), experiment="other", network="alexnet")
    (tmp_path / "broken.png").write_bytes(b"")
    with pytest.raises(CommandError, match="broken.png"):
        call_command("import_panels", str(tmp_path), experiment="study", network="alexnet")


def test_files_named_for_another_layer_than_layer_are_flagged(experiment, tmp_path, capsys):
    digit_unit_panels_write(tmp_path / "a", layer="fc6", units=2, images=4)
    call_command("import_panels", str(tmp_path / "a"), experiment="study", network="alexnet",
                 layer="fc7")  # fmt: skip
    out = capsys.readouterr().out
    assert "2 files are named for another layer than --layer stored them as" in out
    assert "fc6_0000.png as fc7" in out
    digit_unit_panels_write(tmp_path / "b", layer="alexnet_fc8", units=1, images=4)
    call_command("import_panels", str(tmp_path / "b"), experiment="study", network="alexnet",
                 layer="fc8")  # fmt: skip
    assert "named for another layer" not in capsys.readouterr().out


def test_panels_imported_after_the_lists_are_built_are_flagged(experiment, tmp_path, capsys):
    from experiment.services import experiment_lists_build

    digit_unit_panels_write(tmp_path / "a", layer="conv5", units=2, images=4)
    call_command("import_panels", str(tmp_path / "a"), experiment="study", network="alexnet")
    experiment_lists_build(experiment=experiment, lists=2, seed=1)
    assert "in no list" not in capsys.readouterr().out
    digit_unit_panels_write(tmp_path / "b", layer="fc6", units=1, images=4)
    call_command("import_panels", str(tmp_path / "b"), experiment="study", network="alexnet")
    assert "1 main panels of study are in no list" in capsys.readouterr().out


def test_panel_register_leaves_no_file_behind_when_the_row_is_refused(
    experiment, tmp_path, settings
):
    path = digit_unit_panels_write(tmp_path, layer="fc6", units=1, images=4)[0]
    with pytest.raises(IntegrityError):
        panel_register(experiment=experiment, image_path=path, source="bad", unit=-1)
    assert not Panel.objects.exists()
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.*"))


def test_a_second_panel_for_a_unit_is_refused_and_nothing_is_stored(experiment, tmp_path):
    """fc6_42.png and fc6_0042.png are both unit 42: the analysis pools a unit's ratings."""
    first, second = tmp_path / "first", tmp_path / "second"
    digit_unit_panels_write(first, layer="fc6", units=2, images=4)
    panels_import_dir(experiment=experiment, directory=first, network="alexnet")
    digit_unit_panels_write(second, layer="fc6", units=3, images=4)
    (second / "fc6_0001.png").rename(second / "fc6_01.png")
    with pytest.raises(PanelImportError, match=r"fc6_01.png: unit 1 of alexnet fc6 already has"):
        panels_import_dir(experiment=experiment, directory=second, network="alexnet")
    assert Panel.objects.count() == 2


def test_two_files_of_one_unit_in_a_folder_name_each_other(experiment, tmp_path):
    """Not "already has a panel (its namesake)": nothing of the unit is stored yet."""
    digit_unit_panels_write(tmp_path, layer="fc6", units=2, images=4)
    shutil.copy(tmp_path / "fc6_0001.png", tmp_path / "fc6_1.png")
    with pytest.raises(PanelImportError) as refused:
        panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")
    assert "fc6_1.png: unit 1 of alexnet fc6 is also fc6_0001.png in this folder" in str(
        refused.value
    )
    assert "already has a panel" not in str(refused.value)
    assert not Panel.objects.exists()


def test_a_layer_spelled_otherwise_than_before_is_refused(experiment, tmp_path):
    digit_unit_panels_write(tmp_path / "a", layer="fc6", units=1, images=4)
    panels_import_dir(experiment=experiment, directory=tmp_path / "a", network="alexnet")
    digit_unit_panels_write(tmp_path / "b", layer="FC6", units=3, images=4)
    with pytest.raises(PanelImportError, match="alexnet FC6 is spelled alexnet fc6"):
        panels_import_dir(experiment=experiment, directory=tmp_path / "b", network="alexnet")


def test_a_network_spelled_otherwise_than_before_is_refused_in_another_layer_too(
    experiment, tmp_path
):
    digit_unit_panels_write(tmp_path / "a", layer="fc8", units=1, images=4)
    panels_import_dir(experiment=experiment, directory=tmp_path / "a", network="alexnet")
    digit_unit_panels_write(tmp_path / "b", layer="fc6", units=2, images=4)
    with pytest.raises(PanelImportError, match="AlexNet fc6 is spelled alexnet fc6"):
        panels_import_dir(experiment=experiment, directory=tmp_path / "b", network="AlexNet")
    assert Panel.objects.count() == 1


def test_the_database_keeps_one_main_panel_per_unit(experiment):
    panel_fields = dict(experiment=experiment, network="alexnet", layer="fc6", unit=3)
    Panel.objects.create(source="a", image="a.png", display_image="a.jpg", **panel_fields)
    with pytest.raises(IntegrityError):
        Panel.objects.create(source="b", image="b.png", display_image="b.jpg", **panel_fields)


def test_a_folder_of_folders_says_to_import_each(experiment, tmp_path):
    (tmp_path / "fc6").mkdir()
    (tmp_path / "fc8").mkdir()
    with pytest.raises(PanelImportError, match="only folders: fc6, fc8; import each on its own"):
        panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")


def test_generate_panels_output_says_to_use_register_panels(experiment, tmp_path):
    """Its settings and activations would be lost through import_panels."""
    layer = tmp_path / "fc8"
    (layer / "unit_00003").mkdir(parents=True)
    (layer / "planned_units.json").write_text('{"units": [3]}')
    for name in ("panel.png", "activations.json"):
        (layer / "unit_00003" / name).write_text("")
    with pytest.raises(PanelImportError, match=f"register_panels {layer} --experiment SLUG"):
        panels_import_dir(experiment=experiment, directory=layer, network="alexnet")
    unit = layer / "unit_00003"
    with pytest.raises(PanelImportError, match=f"one unit's folder.*register_panels {layer} "):
        panels_import_dir(experiment=experiment, directory=unit, network="alexnet")
    # The network's folder above: not "import each folder", which import_panels refuses.
    with pytest.raises(PanelImportError, match=r"layer folders of generate_panels \(fc8\)"):
        panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")
    assert not Panel.objects.exists()


def test_a_16_bit_grey_panel_keeps_its_greys_on_the_display_copy():
    grey = Image.new("I;16", (20, 20), 32768)  # mid-grey on a 0-65535 scale
    display = Image.open(io.BytesIO(panel_display_bytes(grey)))
    assert abs(display.getpixel((10, 10))[0] - 128) <= 2


def test_a_16_bit_grey_png_panel_keeps_its_greys_on_the_display_copy(experiment, tmp_path):
    """Pillow's own convert clips 16-bit values at 255: the display copy would be white."""
    Image.fromarray(np.full((20, 20), 40000, dtype=np.uint16)).save(tmp_path / "yes_grey.png")
    [panel] = panels_import_dir(experiment=experiment, directory=tmp_path, practice=True).imported
    with panel.display_image.open() as stream:
        display = np.asarray(Image.open(stream))
    assert display.mean() == pytest.approx(40000 / 65535 * 255, abs=2)


@pytest.mark.parametrize(
    ("image", "grey"),
    [
        (Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)), 255),  # I;16
        (Image.new("I;16B", (4, 4), 32768), 128),
        (Image.fromarray(np.full((4, 4), 1000, dtype=np.int32)), 4),  # "I" of 16-bit values
        (Image.new("L", (4, 4), 77), 77),
        (Image.new("P", (4, 4), 0), 0),
    ],
    ids=lambda value: getattr(value, "mode", ""),
)
def test_image_8bit_scales_16_bit_greys_and_keeps_8_bit_modes(image, grey):
    converted = image_8bit(image)
    assert converted.mode == "RGB"
    assert np.asarray(converted).min() == np.asarray(converted).max() == grey


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (Image.new("F", (4, 4), 0.5), "floating-point image; save it as an 8- or 16-bit"),
        (Image.new("I", (4, 4), 70000), "values 70000 to 70000, beyond 0-65535; save it as"),
        (Image.new("I", (4, 4), -1), "values -1 to -1, beyond 0-65535"),
    ],
)
def test_image_8bit_refuses_what_has_no_8_bit_reading(image, message):
    with pytest.raises(ValueError, match=message):
        image_8bit(image)


def test_a_stored_original_is_named_by_its_format_not_its_file_name(experiment, tmp_path):
    """A GIF named yes_cat.html must not be served as a web page from the study's site."""
    Image.new("RGB", (20, 20), "red").save(tmp_path / "yes_cat.html", "GIF")
    [panel] = panels_import_dir(experiment=experiment, directory=tmp_path, practice=True).imported
    assert panel.image.name.endswith(".gif")


def test_a_format_browsers_do_not_show_is_refused_with_what_to_do(experiment, tmp_path):
    Image.new("RGB", (20, 20), "red").save(tmp_path / "fc6_0001.tif", "TIFF")
    with pytest.raises(PanelImportError, match="a TIFF image, which browsers do not show; convert"):
        panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")
    assert not Panel.objects.exists()


def test_a_failed_import_leaves_no_experiment_it_would_have_created(db, tmp_path):
    from experiment.models import Experiment

    (tmp_path / "broken.png").write_bytes(b"")
    with pytest.raises(CommandError, match="broken.png"):
        call_command("import_panels", str(tmp_path), "--create", experiment="new", practice=True)
    assert not Experiment.objects.filter(slug="new").exists()


def test_deleting_panels_or_their_experiment_deletes_their_files_once_committed(
    experiment, tmp_path, django_capture_on_commit_callbacks
):
    digit_unit_panels_write(tmp_path, layer="fc6", units=2, images=4)
    panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")
    first, second = Panel.objects.order_by("unit")
    files = [Path(f.path) for panel in (first, second) for f in (panel.image, panel.display_image)]
    assert all(path.is_file() for path in files)
    with pytest.raises(RuntimeError), transaction.atomic():
        Panel.objects.get(id=first.id).delete()
        raise RuntimeError("rolled back: the row is back, so are its files")
    assert all(path.is_file() for path in files)
    with django_capture_on_commit_callbacks(execute=True):
        first.delete()
    assert [path.exists() for path in files] == [False, False, True, True]
    with django_capture_on_commit_callbacks(execute=True):
        experiment.delete()
    assert not any(path.exists() for path in files)


@pytest.mark.django_db
def test_a_media_folder_that_cannot_be_written_is_a_message_and_imports_nothing(tmp_path, settings):
    """A file where MEDIA_ROOT/panels should be (or a full or read-only disk): no traceback,
    no panel, and no experiment that --create made."""
    digit_unit_panels_write(tmp_path / "in", layer="fc6", units=2, images=4)
    Path(settings.MEDIA_ROOT).mkdir()
    (Path(settings.MEDIA_ROOT) / "panels").write_text("")
    with pytest.raises(CommandError) as refused:
        call_command("import_panels", str(tmp_path / "in"), experiment="new", create=True,
                     network="alexnet")  # fmt: skip
    message = str(refused.value)
    assert message.startswith("Nothing was imported (an import is all or none): ")
    assert f"{settings.MEDIA_ROOT}/panels" in message and "Not a directory" in message
    assert message.endswith("Run the same command again once that is mended.")
    assert not Panel.objects.exists() and not Experiment.objects.exists()


def test_an_empty_answer_lets_each_practice_file_name_give_its_own(experiment, tmp_path):
    """`--answer ""` is the default: a script may pass it for a folder of named files."""
    practice_panels_write(tmp_path)
    options = ["--experiment", "study", "--practice", "--answer", ""]
    call_command("import_panels", str(tmp_path), *options, stdout=io.StringIO())
    answers = dict(Panel.objects.values_list("source", "intended_answer"))
    assert answers["import/practice/yes-digit-3.png"] == "yes"
    assert answers["import/practice/no-pixel-noise.png"] == "no"
    unnamed = tmp_path / "more"
    unnamed.mkdir()
    (tmp_path / "yes-digit-3.png").rename(unnamed / "IMG_1234.png")
    with pytest.raises(CommandError, match="IMG_1234.png: a practice file name must start"):
        call_command("import_panels", str(unnamed), *options, stdout=io.StringIO())


def test_an_answer_for_main_panels_is_refused(experiment, tmp_path):
    """Main panels have no right answer: the flag was dropped without a word."""
    practice_panels_write(tmp_path)
    with pytest.raises(CommandError, match="--answer yes applies to practice panels: add --pr"):
        call_command("import_panels", str(tmp_path), "--experiment", "study", "--answer", "yes")
    assert not Panel.objects.exists()


def test_a_file_name_that_is_not_utf8_is_named_and_nothing_is_imported(experiment, tmp_path):
    """A zip unpacked from another system can leave Latin-1 bytes in a name: refused by name."""
    digit_unit_panels_write(tmp_path, layer="fc6", units=2, images=4)
    Image.new("RGB", (10, 10)).save(tmp_path / "caf\udce9_fc6_0002.png")  # b"caf\xe9_fc6..."
    with pytest.raises(PanelImportError) as raised:
        panels_import_dir(experiment=experiment, directory=tmp_path, network="alexnet")
    assert "caf\\udce9_fc6_0002.png: the file name is not UTF-8 text" in str(raised.value)
    assert not Panel.objects.exists()


def test_names_longer_than_the_database_keeps_are_refused(experiment, tmp_path):
    Image.new("RGB", (10, 10)).save(tmp_path / f"yes_{'a' * 240}.png")
    with pytest.raises(PanelImportError, match="intended label taken from the file name has 240"):
        panels_import_dir(experiment=experiment, directory=tmp_path, practice=True)
    (tmp_path / f"yes_{'a' * 240}.png").rename(tmp_path / "fc6_0001.png")
    with pytest.raises(PanelImportError, match=r"network name \(--network\) has 120 characters"):
        panels_import_dir(experiment=experiment, directory=tmp_path, network="n" * 120)
    with pytest.raises(PanelImportError, match=r"layer name \(--layer\) has 101 characters"):
        panels_import_dir(experiment=experiment, directory=tmp_path, network="n", layer="l" * 101)
    assert not Panel.objects.exists()
