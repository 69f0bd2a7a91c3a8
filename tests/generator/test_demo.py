"""The demo network and generator: data, training, saved files and reconstruction."""

import errno

import pytest
import torch

from generator.am import demo
from generator.am.demo import (
    DEMO_GENERATOR_FILE,
    DEMO_NET_FILE,
    DemoTraining,
    accuracy,
    active_units,
    digits_dataset,
    load_demo,
    models_dir,
    split_digits,
    train_demo,
    train_demo_net,
)
from generator.am.networks import get_network, load_network


def test_digits_are_grey_rgb_images_in_the_unit_range():
    images, labels = digits_dataset()
    assert images.shape == (1797, 3, 32, 32) and labels.shape == (1797,)
    assert images.min() >= 0 and images.max() <= 1
    assert torch.equal(images[:, 0], images[:, 2])
    assert set(labels.tolist()) == set(range(10))


def test_demo_spec_mirrors_alexnet_layer_names():
    spec = get_network("demo")
    assert list(spec.layers) == ["conv5", "fc6", "fc7", "fc8"]
    assert spec.class_names[3] == "three" and spec.num_classes == 10


def test_training_saves_both_files_and_the_net_classifies_held_out_digits(demo_models):
    folder, report = demo_models
    assert (folder / DEMO_NET_FILE).is_file() and (folder / DEMO_GENERATOR_FILE).is_file()
    assert report["heldout_accuracy"] >= 0.9
    net, _ = load_demo(folder)
    _, _, test_x, test_y = split_digits(DemoTraining())
    assert accuracy(net.model, test_x, test_y) == pytest.approx(report["heldout_accuracy"])


def test_generator_inverts_the_fc6_code_of_held_out_digits(demo_pair):
    net, generator = demo_pair
    _, _, test_x, test_y = split_digits(DemoTraining())
    with torch.no_grad():
        code = net.activations(net.preprocess(test_x), ["fc6"], pre_relu=False)["fc6"]
        rebuilt = generator.images(code).clamp(0, 1)
    assert rebuilt.shape == test_x.shape
    assert (rebuilt - test_x).pow(2).mean() < 0.5 * test_x.var()
    assert accuracy(net.model, rebuilt, test_y) >= 0.8


def test_training_is_deterministic():
    images, labels = digits_dataset()
    settings = DemoTraining(net_epochs=1, batch_size=32)
    first = train_demo_net(images[:96], labels[:96], settings)
    second = train_demo_net(images[:96], labels[:96], settings)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_models_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AM_MODELS_DIR", str(tmp_path))
    assert models_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match=r"demo_net.pt.*python -m generator.am.train_demo"):
        load_network("demo")
    torch.save(get_network("demo").builder().state_dict(), tmp_path / DEMO_NET_FILE)
    with pytest.raises(FileNotFoundError, match="demo_generator.pt"):
        load_demo(tmp_path)


@pytest.mark.parametrize("layer, count", [("fc6", 6), ("conv5", 4)])
def test_active_units_are_spread_over_units_the_digits_drive(demo_pair, layer, count):
    net, _ = demo_pair
    units = active_units(net, layer, count)
    assert len(units) == count and units == sorted(set(units))
    images, _ = digits_dataset(net.spec.input_size)
    with torch.no_grad():
        values = net.activations(net.preprocess(images), [layer], pre_relu=False)[layer]
    peaks = values.amax(dim=(2, 3)) if values.dim() == 4 else values
    assert ((peaks[:, units] > 0).float().mean(dim=0) >= 0.05).all()
    with pytest.raises(ValueError, match=f"units of {layer} are active.*asked for 9999"):
        active_units(net, layer, 9999)


def test_a_models_folder_that_cannot_be_written_is_refused_before_training(tmp_path, monkeypatch):
    """Not after the training's seconds (a file in place of the folder; a read-only folder,
    faked, as the tests may run as root, who may write anywhere)."""

    def trained(*args):
        raise AssertionError("trained before the folder was checked")

    monkeypatch.setattr(demo, "train_demo_net", trained)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"file is a file, not a folder for the demo files"):
        train_demo(tmp_path / "file")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    (tmp_path / "read-only").mkdir()
    (tmp_path / "read-only").chmod(0o555)
    monkeypatch.setattr(demo.tempfile, "TemporaryFile", refused)
    with pytest.raises(ValueError, match=r"cannot be written to .*read-only \(Permission denied"):
        train_demo(tmp_path / "read-only")


def test_train_demo_says_which_models_folder_cannot_be_written(tmp_path):
    pytest.importorskip("pytest_django")  # the GPU machine runs this folder without Django
    from django.core.management import CommandError, call_command

    (tmp_path / "models").write_text("")
    with pytest.raises(CommandError, match=r"models is a file, not a folder .*--models"):
        call_command("train_demo", "--models", str(tmp_path / "models"))


def torch_save_on_a_full_disk(state, stream):
    """torch.save as it fails on a full disk: the OSError of a write, then a RuntimeError of its
    zip writer's own (what users saw: "[enforce fail at inline_container.cc:672]")."""
    stream.write(b"PK" * 1000)
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError:
        raise RuntimeError("[enforce fail at inline_container.cc:672]")  # noqa: B904 as torch


@pytest.mark.parametrize("cause", ["full disk", "unknown"])
def test_a_failed_save_leaves_no_partial_file_and_names_the_file(tmp_path, monkeypatch, cause):
    """A .partial left behind held the space the rerun needed; the earlier file is kept."""
    path = tmp_path / DEMO_NET_FILE
    path.write_bytes(b"earlier")
    failing = torch_save_on_a_full_disk
    if cause == "unknown":  # torch's writer of a named file: a RuntimeError, nothing more

        def failing(state, stream):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")

    monkeypatch.setattr(demo.torch, "save", failing)
    with pytest.raises(OSError) as failed:
        demo._save_atomic({"w": torch.zeros(3)}, path)
    if cause == "full disk":
        assert (failed.value.errno, failed.value.filename) == (errno.ENOSPC, str(path))
    else:
        assert str(failed.value).startswith(f"{path} could not be saved ([enforce fail")
    assert [p.name for p in tmp_path.iterdir()] == [DEMO_NET_FILE]
    assert path.read_bytes() == b"earlier"


@pytest.fixture
def quick_training(monkeypatch):
    """train_demo's training at a test's size (the command trains with the defaults)."""
    real = demo.train_demo
    monkeypatch.setattr(
        demo,
        "train_demo",
        lambda folder: real(folder, DemoTraining(net_epochs=1, generator_epochs=1)),
    )


def test_train_demo_trains_again_over_a_damaged_file_and_keeps_it_aside(
    demo_models, tmp_path, quick_training, capsys
):
    """A file cut short is not the demo network: skipping it would leave `make demo` broken."""
    pytest.importorskip("pytest_django")  # the GPU machine runs this folder without Django
    from django.core.management import call_command

    folder = tmp_path / "models"
    folder.mkdir()
    for name in (DEMO_NET_FILE, DEMO_GENERATOR_FILE):
        (folder / name).write_bytes((demo_models[0] / name).read_bytes())
    cut = (folder / DEMO_NET_FILE).read_bytes()[:1000]
    (folder / DEMO_NET_FILE).write_bytes(cut)
    call_command("train_demo", "--models", str(folder))
    printed = capsys.readouterr().out
    assert f"Cannot read {folder / DEMO_NET_FILE} as PyTorch weights" in printed
    assert f"Moved it to {folder / DEMO_NET_FILE}.unusable; training again" in printed
    assert "already in" not in printed and "Saved" in printed
    assert (folder / f"{DEMO_NET_FILE}.unusable").read_bytes() == cut
    load_demo(folder)  # both load now
    call_command("train_demo", "--models", str(folder))
    assert "already in" in capsys.readouterr().out


def test_train_demo_refuses_an_empty_models_folder(tmp_path, monkeypatch):
    """An empty path is the current folder: the demo files would land wherever one stands."""
    pytest.importorskip("pytest_django")
    from django.core.management import CommandError, call_command

    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError, match="--models is empty: give the folder"):
        call_command("train_demo", "--models", "")
    monkeypatch.setenv("AM_MODELS_DIR", "")
    assert models_dir() == demo.PROJECT_ROOT / "var" / "models"
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("count", ["0", "-3"])
def test_demo_units_refuses_a_count_below_one(count):
    pytest.importorskip("pytest_django")
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=f"--count must be at least 1, not {count}"):
        call_command("demo_units", "--layer", "fc6", "--count", count)


def test_demo_units_without_trained_files_names_them_and_the_command_that_trains_them(
    tmp_path, monkeypatch
):
    pytest.importorskip("pytest_django")
    from django.core.management import CommandError, call_command

    monkeypatch.setenv("AM_MODELS_DIR", str(tmp_path))
    torch.save(get_network("demo").builder().state_dict(), tmp_path / DEMO_NET_FILE)
    (tmp_path / DEMO_NET_FILE).write_bytes((tmp_path / DEMO_NET_FILE).read_bytes()[:1000])
    with pytest.raises(CommandError) as refused:
        call_command("demo_units", "--layer", "fc6")
    message = str(refused.value)
    assert f"Cannot read {tmp_path / DEMO_NET_FILE} as PyTorch weights" in message
    assert f"{tmp_path / DEMO_GENERATOR_FILE}. Run `python manage.py train_demo`" in message
    assert "--weights" not in message and "--generator-weights" not in message


def test_train_demo_on_a_full_disk_says_so_and_leaves_no_partial_file(
    tmp_path, quick_training, monkeypatch
):
    pytest.importorskip("pytest_django")
    from django.core.management import CommandError, call_command

    monkeypatch.setattr(demo.torch, "save", torch_save_on_a_full_disk)
    with pytest.raises(CommandError) as refused:
        call_command("train_demo", "--models", str(tmp_path))
    assert str(refused.value) == (
        f"The demo files cannot be saved in {tmp_path}: {tmp_path / DEMO_NET_FILE}: No space left "
        "on device (free space on that disk). Run train_demo again once that is mended."
    )
    assert not any(tmp_path.iterdir())
