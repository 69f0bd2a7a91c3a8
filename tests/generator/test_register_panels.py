"""register_panels: panels made elsewhere registered without the networks; weights that moved."""

import errno
import json
import math
import shutil
from io import StringIO
from pathlib import Path

import pytest

pytest.importorskip("pytest_django")  # the GPU machine runs these folders without Django

from django.core.files.storage import FileSystemStorage  # noqa: E402
from django.core.management import CommandError, call_command  # noqa: E402

from experiment.models import Experiment, Panel  # noqa: E402
from tests.generator.test_generate_panels import generate  # noqa: E402

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment():
    return Experiment.objects.create(slug="study", title="Study")


@pytest.fixture
def gpu_machine(tmp_path, demo_models, monkeypatch):
    """Panels of units 0-2 made with the demo models in a folder that is gone afterwards,
    as on a GPU machine the study's server never sees; returns the copied output folder."""
    models = tmp_path / "gpu" / "models"
    shutil.copytree(demo_models[0], models)
    monkeypatch.setenv("AM_MODELS_DIR", str(models))
    made = generate(tmp_path / "gpu", units="0-2")
    copied = shutil.copytree(made, tmp_path / "server" / "fc8")
    shutil.rmtree(tmp_path / "gpu")
    monkeypatch.setenv("AM_MODELS_DIR", str(tmp_path / "nowhere"))
    return copied


def test_a_copied_folder_is_registered_without_networks_or_weights(gpu_machine, experiment, capsys):
    call_command("register_panels", str(gpu_machine), "--experiment", "study")
    panels = Panel.objects.filter(experiment=experiment).order_by("unit")
    assert [p.source for p in panels] == ["demo/fc8/0", "demo/fc8/1", "demo/fc8/2"]
    assert panels[0].metadata["settings"]["iterations"] == 2
    assert len(panels[0].metadata["seeds"]) == 4
    assert "registered 3 new panels of demo fc8 in experiment study" in capsys.readouterr().out
    call_command("register_panels", str(gpu_machine), "--experiment", "study")
    assert "registered 0 new panels" in capsys.readouterr().out
    assert Panel.objects.filter(experiment=experiment).count() == 3


def test_a_damaged_copy_registers_nothing_and_names_every_damaged_file(gpu_machine, experiment):
    (gpu_machine / "unit_00001" / "activations.json").unlink()
    panel = gpu_machine / "unit_00002" / "panel.png"
    panel.write_bytes(panel.read_bytes()[:-100])  # a copy cut short
    with pytest.raises(CommandError) as refused:
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    message = str(refused.value)
    assert "2 of 3 units are incomplete, damaged or not made by the folder's settings" in message
    assert "Nothing was registered" in message
    assert "unit_00001: activations.json: [Errno 2]" in message
    assert "unit_00002: panel.png:" in message
    assert not Panel.objects.exists()


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"images": 5, "unit": 1}, "activations.json: no image records"),
        ({"images": [], "unit": 1}, "activations.json: no image records"),
        ({"images": [{"index": 0}], "unit": 1}, "activations.json: image record 0 is damaged"),
    ],
)
def test_damaged_image_records_register_nothing(gpu_machine, experiment, records, message):
    (gpu_machine / "unit_00001" / "activations.json").write_text(json.dumps(records))
    with pytest.raises(CommandError, match=f"unit_00001: {message}"):
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    assert not Panel.objects.exists()


def test_a_unit_missing_pictures_is_not_registered(gpu_machine, experiment):
    """As a second run into the same folder could once leave it."""
    for name in ("001.png", "002.png"):
        (gpu_machine / "unit_00002" / "images" / name).unlink()
    with pytest.raises(CommandError, match=r"unit_00002: images/001.png: missing \(and 1 more\)"):
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    assert not Panel.objects.exists()


def test_a_damaged_planned_units_file_registers_nothing(gpu_machine, experiment):
    (gpu_machine / "planned_units.json").write_text("[]")
    with pytest.raises(CommandError, match="planned_units.json does not hold"):
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    assert not Panel.objects.exists()


def test_a_full_media_folder_keeps_no_panel_of_the_folder_and_says_so(
    gpu_machine, experiment, monkeypatch, settings
):
    calls, real = [], FileSystemStorage._save

    def save_then_fail(storage, name, content):
        calls.append(name)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(storage, name, content)

    # A full disk half-way through storing cannot be made for real here.
    monkeypatch.setattr(FileSystemStorage, "_save", save_then_fail)
    with pytest.raises(CommandError) as refused:
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    assert str(refused.value) == (
        f"Cannot register {gpu_machine}: {settings.MEDIA_ROOT}: No space left on device (free "
        "space on that disk). None of its panels were stored. Run the same command again once "
        "that is mended: panels already stored are skipped."
    )
    assert not Panel.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_unit_folders_of_another_run_or_unit_are_refused(gpu_machine, experiment):
    """A folder copied in from a run with other settings, or under another unit's name, would
    otherwise be registered as this run's unit of that number."""
    shutil.copytree(gpu_machine / "unit_00000", gpu_machine / "unit_00007")
    other = gpu_machine / "unit_00001" / "settings.json"
    other.write_text(json.dumps(json.loads(other.read_text()) | {"layer": "conv5"}))
    with pytest.raises(CommandError) as refused:
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    message = str(refused.value)
    assert "unit_00001: made with other settings (differing: layer)" in message
    assert "unit_00007: activations.json holds the images of unit 0" in message
    assert not Panel.objects.exists()


def test_units_the_run_was_asked_for_but_not_copied_are_named(gpu_machine, experiment, capsys):
    shutil.rmtree(gpu_machine / "unit_00002")  # a copy made while the run was still going
    call_command("register_panels", str(gpu_machine), "--experiment", "study")
    printed = capsys.readouterr().out
    assert (
        "registered 2 new panels of demo fc8 in experiment study (2 units in the folder)" in printed
    )
    assert "1 units generate_panels was asked for are not in" in printed and "(2)" in printed


def test_panels_of_one_layer_made_otherwise_are_pointed_out(
    gpu_machine, experiment, tmp_path, demo_models, monkeypatch, capsys
):
    """Other units with other settings are not refused (no unit has two panels), but said."""
    call_command("register_panels", str(gpu_machine), "--experiment", "study")
    monkeypatch.setenv("AM_MODELS_DIR", str(demo_models[0]))
    other = generate(tmp_path / "other", "--seed", "7", units="5")
    call_command("register_panels", str(other), "--experiment", "study")
    assert "not all made the same way (settings differ: base_seed)" in capsys.readouterr().out


def test_a_folder_without_panels_or_experiment_is_a_clear_error(tmp_path, experiment):
    with pytest.raises(CommandError, match="holds no finished units of generate_panels"):
        call_command("register_panels", str(tmp_path), "--experiment", "study")
    with pytest.raises(CommandError, match="missing does not exist"):
        call_command("register_panels", str(tmp_path / "missing"), "--experiment", "study")
    with pytest.raises(CommandError, match="No experiment 'nope'"):
        call_command("register_panels", str(tmp_path), "--experiment", "nope")


def test_a_bad_second_folder_is_named_and_the_first_stays_registered(
    gpu_machine, tmp_path, experiment
):
    message = rf"^{tmp_path} holds no finished units.*\({gpu_machine} registered above\.\)$"
    with pytest.raises(CommandError, match=message):
        call_command(
            "register_panels", str(gpu_machine), str(tmp_path), "--experiment", "study",
            stdout=StringIO(),
        )  # fmt: skip
    assert experiment.panels.count() > 0


def test_the_folder_of_a_network_says_to_give_its_layer_folders(gpu_machine, experiment):
    with pytest.raises(CommandError, match=r"holds the folders of layers \(fc8\), not units"):
        call_command("register_panels", str(gpu_machine.parent), "--experiment", "study")


def test_the_same_weights_at_another_path_resume_a_run_but_other_weights_do_not(
    tmp_path, demo_models, monkeypatch, experiment
):
    """The weights' digests, not their paths, say whether a run may go on in a folder."""
    monkeypatch.setenv("AM_MODELS_DIR", str(demo_models[0]))
    first, moved = tmp_path / "first.pt", tmp_path / "moved" / "net.pt"
    moved.parent.mkdir()
    for path in (first, moved):
        shutil.copy(demo_models[0] / "demo_net.pt", path)
    generate(tmp_path, "--weights", str(first), units="0")
    generate(tmp_path, "--weights", str(moved), "--experiment", "study", units="0-1")
    assert Panel.objects.filter(experiment=experiment).count() == 2
    moved.write_bytes(moved.read_bytes() + b"retrained")
    with pytest.raises(CommandError, match="differing: weights_sha256"):
        generate(tmp_path, "--weights", str(moved), units="0-2")


def test_a_folder_settings_file_lacking_what_registration_reads_is_named(gpu_machine, experiment):
    settings = gpu_machine / "settings.json"
    settings.write_text(json.dumps({"iterations": 100}))  # edited by hand, or cut short
    with pytest.raises(CommandError) as refused:
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    assert f"{settings} is damaged or incomplete: it lacks network, layer" in str(refused.value)
    assert not Panel.objects.exists()


def test_a_file_given_for_a_folder_is_called_a_file(gpu_machine, experiment):
    with pytest.raises(CommandError, match=r"settings.json is a file, not a folder: give the"):
        call_command("register_panels", str(gpu_machine / "settings.json"), "--experiment", "study")


@pytest.mark.filterwarnings("ignore:overflow encountered")
@pytest.mark.parametrize("activation", [math.nan, 1.7e308])  # the largest ones: a mean of inf
def test_a_unit_with_a_non_finite_number_is_named_and_nothing_stored(
    gpu_machine, experiment, settings, activation
):
    """JSON has no NaN: the database would refuse the panel's metadata, or read it back as null."""
    path = gpu_machine / "unit_00001" / "activations.json"
    records = json.loads(path.read_text())
    for record in records["images"]:
        record["activation"] = activation
    path.write_text(json.dumps(records))  # as a diverged sampling could once write it
    with pytest.raises(CommandError, match=r"unit_00001: .*(NaN|infinite)") as refused:
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    assert "1 of 3 units" in str(refused.value)
    assert not Panel.objects.exists()
    assert not list(settings.MEDIA_ROOT.rglob("*.*"))


def test_a_panel_the_database_refuses_is_not_called_a_concurrent_registration(
    gpu_machine, experiment, monkeypatch, settings
):
    from generator import services

    real = services.panel_register

    def second_out_of_range(**kwargs):  # a value a CHECK constraint refuses
        return real(**kwargs | ({"unit": -1} if kwargs["unit"] == 1 else {}))

    monkeypatch.setattr(services, "panel_register", second_out_of_range)
    with pytest.raises(CommandError) as refused:
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    message = str(refused.value)
    assert "the database refused the panel of unit 1" in message
    assert "nothing of this folder was registered" in message
    assert "meanwhile" not in message
    assert not Panel.objects.exists()
    assert not list(settings.MEDIA_ROOT.rglob("*.*"))


def test_panels_stored_meanwhile_by_another_registration_say_to_run_again(
    gpu_machine, experiment, monkeypatch, settings
):
    from experiment.services import design

    real = design.panel_refusal_raise

    def other_registration_stores(*, experiment, source, is_practice=False):
        # Between this registration's look for the panel and its store: the window of a race
        # between two processes, which one test process cannot open for real.
        if source == "demo/fc8/1":
            Panel.objects.create(
                experiment=experiment, source=source, network="demo", layer="fc8", unit=1
            )
        real(experiment=experiment, source=source, is_practice=is_practice)

    monkeypatch.setattr(design, "panel_refusal_raise", other_registration_stores)
    with pytest.raises(CommandError, match="another registration stored some of these panels "):
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    assert not Panel.objects.exists()
    assert not list(settings.MEDIA_ROOT.rglob("*.*"))


def test_ctrl_c_while_a_panel_file_is_written_leaves_no_file_and_says_stopped(
    gpu_machine, experiment, monkeypatch, settings
):
    from django.core.files.storage import FileSystemStorage

    real, writes = FileSystemStorage._save, []

    def interrupted(self, name, content):
        saved = real(self, name, content)
        writes.append(saved)
        if len(writes) == 3:  # the second panel's full-size file, written but not yet named
            raise KeyboardInterrupt
        return saved

    monkeypatch.setattr(FileSystemStorage, "_save", interrupted)
    stopped = r"^Stopped while registering .*fc8, whose panels are stored all or none"
    with pytest.raises(CommandError, match=stopped) as e:
        call_command("register_panels", str(gpu_machine), "--experiment", "study")
    assert e.value.returncode == 130
    assert not Panel.objects.exists()
    assert len(writes) == 3 and not list(settings.MEDIA_ROOT.rglob("*.*"))
