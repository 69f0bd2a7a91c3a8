"""The generate_panels and train_demo commands: files, panels in the experiment, resume, errors."""

import errno
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytest_django")  # the GPU machine runs these folders without Django

import torch  # noqa: E402
from django.core.management import CommandError, call_command  # noqa: E402
from PIL import Image  # noqa: E402

from experiment.models import Experiment, Panel, Participant  # noqa: E402
from generator.am import outputs  # noqa: E402

pytestmark = pytest.mark.django_db


@pytest.fixture
def models(demo_models, monkeypatch):
    """The session's trained demo files as the default models folder."""
    monkeypatch.setenv("AM_MODELS_DIR", str(demo_models[0]))
    return demo_models[0]


@pytest.fixture
def experiment():
    return Experiment.objects.create(slug="study", title="Study")


def generate(tmp_path, *extra, units="0-1", layer="fc8"):
    args = [
        "--network",
        "demo",
        "--layer",
        layer,
        "--units",
        units,
        "--images",
        "4",
        "--grid",
        "2x2",
        "--iterations",
        "2",
        "--batch",
        "3",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "out"),
        *extra,
    ]
    call_command("generate_panels", *args)
    return tmp_path / "out"


def test_panels_are_written_registered_and_summarised(tmp_path, models, experiment, capsys):
    out = generate(tmp_path, "--experiment", "study")
    for unit in (0, 1):
        folder = out / f"unit_{unit:05d}"
        assert {p.name for p in folder.iterdir()} == {
            "panel.png",
            "panel_web.jpg",
            "images",
            "activations.json",
            "quality.json",
            "settings.json",
        }
    panels = Panel.objects.filter(experiment=experiment).order_by("unit")
    assert [p.source for p in panels] == ["demo/fc8/0", "demo/fc8/1"]
    assert panels[0].metadata["settings"]["iterations"] == 2
    assert len(panels[0].metadata["seeds"]) == 4
    assert "class_hit_rate" in panels[0].metadata["quality"]
    assert panels[0].display_image.name.endswith(".jpg")
    printed = capsys.readouterr().out
    assert "Quality over 2 units" in printed and "classified as the target class" in printed
    assert "Registered 2 new panels in experiment study" in printed


def test_panels_made_but_not_registered_on_a_full_media_folder_say_how_to_register_them(
    tmp_path, models, experiment, settings
):
    Path(settings.MEDIA_ROOT).mkdir()
    (Path(settings.MEDIA_ROOT) / "panels").write_text("")  # as a read-only or full disk would
    with pytest.raises(CommandError) as refused:
        generate(tmp_path, "--experiment", "study")
    out = tmp_path / "out"
    assert str(refused.value).startswith(f"The panels are in {out} but none was registered: ")
    assert str(refused.value).endswith(
        f"Once that is mended, run register_panels {out} --experiment study (or this command "
        "again)."
    )
    assert not Panel.objects.exists() and outputs.done_units(out, [0, 1]) == [0, 1]


def test_a_full_disk_keeps_the_finished_units_and_says_how_to_go_on(tmp_path, models, capsys):
    def disk_full_in_unit_1(path):
        if "unit_00001" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(path)

    real_fsync = outputs._fsync
    with pytest.MonkeyPatch.context() as patch:  # where a full disk refuses the unit's files
        patch.setattr(outputs, "_fsync", disk_full_in_unit_1)
        with pytest.raises(CommandError) as stopped:
            generate(tmp_path)
    out = tmp_path / "out"
    assert str(stopped.value) == (
        f"Stopped: {out}: No space left on device (free space on that disk). 1 of this run's 2 "
        f"units are finished in {out} and kept; run the same command again to make the rest."
    )
    assert sorted(p.name for p in out.iterdir() if p.name.startswith((".partial", "unit_"))) == [
        "unit_00000"
    ]  # the half unit is removed: it held the space the rerun needs
    generate(tmp_path)
    assert outputs.done_units(out, [0, 1]) == [0, 1]


def test_a_second_run_resumes_and_registers_nothing_twice(tmp_path, models, experiment, capsys):
    generate(tmp_path, "--experiment", "study", units="0")
    generate(tmp_path, "--experiment", "study", units="0-1")
    assert "1 already done" in capsys.readouterr().out
    assert Panel.objects.filter(experiment=experiment).count() == 2


def test_a_unit_made_with_other_settings_is_not_registered_beside_the_first(
    tmp_path, models, experiment
):
    generate(tmp_path, "--experiment", "study", units="0")
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(CommandError, match=r"unit 0 \(differing: base_seed\).*another experiment"):
        generate(other, "--experiment", "study", "--seed", "5", units="0-1")
    panels = Panel.objects.filter(experiment=experiment)
    assert [p.metadata["settings"]["base_seed"] for p in panels] == [0]  # unit 1 not added


def test_a_unit_with_an_imported_panel_is_not_registered_again(tmp_path, models, experiment):
    from PIL import Image

    from experiment.services import panel_register

    Image.new("RGB", (20, 20)).save(tmp_path / "unit_0.png")
    panel_register(
        experiment=experiment,
        image_path=tmp_path / "unit_0.png",
        source="import/demo/fc8/unit_0.png",
        network="demo",
        layer="fc8",
        unit=0,
    )
    with pytest.raises(CommandError, match=r"unit 0 \(a panel imported from import/demo/fc8/"):
        generate(tmp_path, "--experiment", "study", units="0-1")
    assert Panel.objects.filter(experiment=experiment).count() == 1


def test_encoder_weights_are_loaded_and_recorded(tmp_path, models):
    """A mistyped path stops the run; the corrected command then uses the same folder."""
    import json

    with pytest.raises(CommandError, match=r"not found: .*missing.pt"):
        generate(tmp_path, "--encoder-weights", str(tmp_path / "missing.pt"), units="0")
    with pytest.raises(CommandError, match=r"The encoder network: Weights file .* does not match"):
        generate(tmp_path, "--encoder-weights", str(models / "demo_generator.pt"), units="0")
    copy = tmp_path / "encoder.pt"
    copy.write_bytes((models / "demo_net.pt").read_bytes())
    out = generate(tmp_path, "--encoder-weights", str(copy), units="0")
    saved = json.loads((out / "unit_00000" / "settings.json").read_text())
    assert saved["encoder_weights"] == str(copy)


def test_an_interrupted_run_leaves_no_half_written_unit(tmp_path, models, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.grid, "web_size", interrupt)  # dies half-way through a unit
    with pytest.raises(CommandError, match="Stopped: 0 of this run's 1 units"):
        generate(tmp_path, units="0")
    assert outputs.done_units(tmp_path / "out", [0]) == []
    monkeypatch.undo()
    monkeypatch.setenv("AM_MODELS_DIR", str(models))
    out = generate(tmp_path, units="0")
    assert outputs.done_units(out, [0]) == [0]
    assert not list(out.glob(".partial-*"))


def test_a_resume_refuses_damaged_or_foreign_unit_folders_before_any_work(tmp_path, models):
    """Counted as done, they would be skipped, and registered as this run's units."""
    out = generate(tmp_path, units="0-1")
    (out / "unit_00000" / "quality.json").unlink()
    other = out / "unit_00001" / "settings.json"
    other.write_text(json.dumps(json.loads(other.read_text()) | {"iterations": 7}))
    with pytest.raises(CommandError) as refused:
        generate(tmp_path, units="0-2")
    message = str(refused.value)
    assert "2 unit folder(s) in" in message and "cannot count as done" in message
    assert "unit_00000: quality.json: [Errno 2]" in message
    assert "unit_00001: made with other settings (differing: iterations)" in message
    assert "Move them out of" in message
    assert outputs.done_units(out, [0, 1, 2]) == [0, 1]  # nothing made, nothing removed
    for unit in (0, 1):
        shutil.move(out / f"unit_{unit:05d}", tmp_path / f"aside_{unit}")
    generate(tmp_path, units="0-2")
    assert outputs.done_units(out, [0, 1, 2]) == [0, 1, 2]


def test_a_panel_measured_against_another_reference_set_is_the_same_panel(
    tmp_path, models, experiment, capsys
):
    """The reference set changes the quality report, not the pictures: no conflict, no mix."""
    generate(tmp_path, "--experiment", "study", units="0")
    (tmp_path / "natural").mkdir()
    Image.new("RGB", (8, 8), (90, 30, 200)).save(tmp_path / "natural" / "one.png")
    generate(
        tmp_path / "other", "--reference", str(tmp_path / "natural"), "--experiment", "study",
        units="0-1",
    )  # fmt: skip
    assert experiment.panels.count() == 2
    assert "not all made the same way" not in capsys.readouterr().out


def test_panels_the_experiment_would_refuse_are_not_generated(tmp_path, models, experiment):
    """Found before the sampling, not after hours of it."""
    generate(tmp_path, "--experiment", "study", units="0")
    with pytest.raises(CommandError) as refused:
        generate(tmp_path / "other", "--experiment", "study", "--seed", "3", units="0-1")
    message = str(refused.value)
    assert "already has demo/fc8 panels for these units, made otherwise" in message
    assert "unit 0 (differing: base_seed)" in message and "Nothing was generated" in message
    assert not (tmp_path / "other" / "out").exists()

    Participant.objects.create(experiment=experiment, external_id="p1")
    with pytest.raises(
        CommandError, match=r"has participants, so its lists are fixed .*\(demo/fc8/1\)"
    ):
        generate(tmp_path / "third", "--experiment", "study", units="0-1")
    assert not (tmp_path / "third" / "out").exists()
    generate(tmp_path, "--experiment", "study", units="0")  # nothing new: a rerun goes through


def test_torchrun_ranks_share_the_units_without_overlap(tmp_path, models, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(CommandError, match="MASTER_ADDR and MASTER_PORT is not set"):
        generate(tmp_path, units="0-4")
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    out = generate(tmp_path, units="0-4")
    assert outputs.done_units(out, list(range(5))) == [1, 3]
    monkeypatch.setenv("RANK", "0")
    generate(tmp_path, units="0-4")
    assert outputs.done_units(out, list(range(5))) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--network", "nonet"], "Unknown network 'nonet'; registered networks: .*demo"),
        (["--layer", "fc99"], "Unknown layer 'fc99' for network 'demo'; known: .*fc8"),
        (["--units", "8-10"], "Unit 10 is out of range for layer 'fc8', which has units 0-9"),
        (["--units", "two"], "Bad unit list 'two'"),
        (["--grid", "2by2"], "grid '2by2' is not of the form ROWSxCOLS"),
        (["--images", "5"], "5 images per unit do not fill a 2x2 grid"),
        (["--device", "tpu"], "--device 'tpu': use cuda, cuda:N or cpu"),
        (["--method", "dream"], "method must be one of ppgn, pixel, not 'dream'"),
        (["--method", "pixel", "--threshold", "0.5"], "pixel method does not use threshold"),
        (["--threshold", "1"], "threshold is a probability: give one below 1, or -1 for none"),
        (["--method", "pixel", "--eps1", "1e-7"], "pixel method does not use eps1"),
        (["--pixel-lr", "0.1"], "ppgn method does not use pixel_lr"),
        (["--lr", "nan"], "lr must be a finite number, not nan"),
        (["--lr", "-1"], "lr must be above 0, not -1"),
        (["--eps3", "-1"], "eps3 must be 0 or more, not -1"),
        (["--cpu-threads", "100000"], "--cpu-threads 100000: this run may use .* CPUs"),
        (["--weights", "/"], "target network 'demo' is a folder, not a file: /\\."),
        (["--reference", "/no/such/folder"], "reference folder /no/such/folder does not exist"),
        (
            ["--experiment", "nope"],
            "No experiment 'nope'.*import_panels --create.*, or leave out --experiment",
        ),
        (["--spatial", "corner"], "spatial must be one of centre, max, not 'corner'"),
        (["--crop", "rf"], "crop must be one of input, receptive-field, not 'rf'"),
        (["--crop", "receptive-field"], "applies to conv layers; a unit of fc8"),
        (["--reset-every", "-1"], "reset_every must be 0 or more, not -1"),
        (["--encoder", "lenet"], "Unknown network 'lenet'; registered networks: .*caffenet"),
        (["--encoder", "googlenet"], "'googlenet' cannot serve generator 'demo': it inverts"),
    ],
)
def test_bad_arguments_stop_with_a_clear_message(tmp_path, arguments, message):
    args = {
        "--network": "demo",
        "--layer": "fc8",
        "--units": "0-1",
        "--images": "4",
        "--grid": "2x2",
        "--out": str(tmp_path / "out"),
    }
    args.update(dict(zip(arguments[::2], arguments[1::2], strict=True)))
    with pytest.raises(CommandError, match=message):
        call_command("generate_panels", *[item for pair in args.items() for item in pair])
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("unit_*"))


def test_an_out_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("")
    with pytest.raises(CommandError, match=r"--out .*taken/fc8: .*taken is a file; give a folder"):
        call_command(
            "generate_panels", "--network", "demo", "--layer", "fc8", "--units", "0",
            "--out", str(tmp_path / "taken" / "fc8"),
        )  # fmt: skip


def test_missing_weights_name_the_file_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AM_MODELS_DIR", str(tmp_path / "empty"))
    with pytest.raises(CommandError, match=r"demo_net.pt.*trained by the project"):
        generate(tmp_path, units="0")


def test_train_demo_skips_existing_files_unless_forced(models, capsys):
    call_command("train_demo", "--models", str(models))
    assert "already in" in capsys.readouterr().out


def test_the_gpu_speed_options_change_how_not_what_is_made(tmp_path, models):
    """--channels-last is an execution option: accepted, and not part of the saved settings."""
    import json

    out = generate(tmp_path, "--channels-last", units="0")
    assert (out / "unit_00000" / "panel.png").exists()
    assert "channels_last" not in json.loads((out / "unit_00000" / "settings.json").read_text())
    with pytest.raises(CommandError, match="the pixel method does not apply --compile"):
        generate(tmp_path / "pixel", "--method", "pixel", "--compile", units="0")
    assert not (tmp_path / "pixel" / "out").exists()


def test_sampler_options_are_saved_with_the_panel(tmp_path, models):
    """Spatial max, post-ReLU targets, resets and the threshold are part of the settings."""
    import json

    options = ["--spatial", "max", "--post-relu", "--reset-every", "5", "--threshold", "0.5"]
    out = generate(tmp_path, *options, units="3", layer="conv5")
    saved = json.loads((out / "unit_00003" / "settings.json").read_text())
    assert (saved["spatial"], saved["pre_relu"]) == ("max", False)
    assert (saved["reset_every"], saved["threshold"]) == (5, 0.5)


def test_resuming_with_another_method_names_the_method_not_the_weights(tmp_path, models):
    """The pixel method records no generator, so the weights' digests differ too: the message
    blamed the generator's weights file."""
    generate(tmp_path, units="0")
    with pytest.raises(CommandError) as refused:
        generate(tmp_path, "--method", "pixel", units="1")
    message = str(refused.value)
    assert "(differing: " in message and "method" in message
    assert "use the same settings to resume, or another --out folder" in message
    assert "weights file" not in message


def test_step_sizes_from_the_command_line_are_saved_with_the_panel(tmp_path, models):
    """ppgn's Places script takes eps1 = 1e-7; options left out keep ppgn's defaults."""
    import json

    out = generate(tmp_path, "--eps1", "1e-7", "--lr", "2", "--lr-end", "1e-10", units="0")
    saved = json.loads((out / "unit_00000" / "settings.json").read_text())
    assert (saved["eps1"], saved["lr"], saved["lr_end"]) == (1e-7, 2.0, 1e-10)
    assert (saved["eps2"], saved["eps3"]) == (1.0, 1e-17)


def test_target_options_that_change_nothing_on_the_layer_are_refused(tmp_path, models):
    """They would count as other settings: no resume, no registration beside the others."""
    with pytest.raises(CommandError, match="--spatial max applies to conv layers"):
        generate(tmp_path, "--spatial", "max", layer="fc8")
    with pytest.raises(CommandError, match="--post-relu: no ReLU follows fc8"):
        generate(tmp_path, "--post-relu", layer="fc8")
    with pytest.raises(CommandError, match="uses no generator nor encoder; leave out --encoder"):
        generate(tmp_path, "--method", "pixel", "--encoder", "demo", layer="fc8")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_bad_reference_image_stops_the_run_before_any_work(tmp_path, models):
    """Not after the output folder is claimed and the networks are loaded."""
    (tmp_path / "ref").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "ref" / "a.png")
    (tmp_path / "ref" / "notes.jpg").write_text("a text saved as .jpg")
    with pytest.raises(CommandError, match="notes.jpg is not readable"):
        generate(tmp_path, "--reference", str(tmp_path / "ref"), units="0")
    assert not (tmp_path / "out").exists()


def test_receptive_field_crop_is_announced_applied_and_saved(tmp_path, models, capsys):
    import json

    out = generate(tmp_path, "--crop", "receptive-field", units="3", layer="conv5")
    assert (
        "the 31x31 receptive field of the centre conv5 unit, rows 1-31" in capsys.readouterr().out
    )
    assert Image.open(out / "unit_00003" / "images" / "000.png").size == (31, 31)
    assert json.loads((out / "unit_00003" / "settings.json").read_text())["crop"] == (
        "receptive-field"
    )
    with pytest.raises(CommandError, match="needs --spatial centre"):
        generate(tmp_path, "--crop", "receptive-field", "--spatial", "max", layer="conv5")


def test_demo_units_prints_active_units_for_make_demo(models, capsys):
    call_command("demo_units", "--layer", "conv5", "--count", "3")
    units = [int(unit) for unit in capsys.readouterr().out.strip().split(",")]
    assert len(units) == 3 and units == sorted(units)
    with pytest.raises(CommandError, match="Unknown layer 'fc9'"):
        call_command("demo_units", "--layer", "fc9")


@pytest.fixture(scope="module")
def full_size_weights(tmp_path_factory):
    """Random weights of the full-size networks and DeePSiM G, saved as converted files."""
    import torch

    from generator.am.deepsim import DeePSiMFc6
    from generator.am.networks import get_network

    folder = tmp_path_factory.mktemp("full_size")
    torch.manual_seed(0)
    for name in ("caffenet", "alexnet"):
        torch.save(get_network(name).builder().state_dict(), folder / f"{name}.pth")
    torch.save(DeePSiMFc6().state_dict(), folder / "deepsim_fc6.pt")
    return folder


@pytest.mark.parametrize(
    "network, extra, encoder",
    [
        ("caffenet", [], "caffenet"),  # ppgn's set-up: one network is target and encoder
        ("alexnet", ["--encoder", "caffenet", "--encoder-weights", "{caffenet}"], "caffenet"),
    ],
)
def test_full_size_networks_make_panels_with_the_deepsim_generator(
    tmp_path, full_size_weights, network, extra, encoder
):
    """The real (non-demo) path end to end: random weights, one step, two units."""
    import json

    weights = {name: str(full_size_weights / f"{name}.pth") for name in ("caffenet", "alexnet")}
    args = ["--network", network, "--weights", weights[network], "--layer", "fc8"]
    args += ["--generator-weights", str(full_size_weights / "deepsim_fc6.pt")]
    args += [item.format(**weights) for item in extra]
    args += ["--units", "0,999", "--images", "1", "--grid", "1x1", "--iterations", "1"]
    call_command("generate_panels", *args, "--out", str(tmp_path / "out"), "--device", "cpu")
    for unit in (0, 999):
        folder = tmp_path / "out" / f"unit_{unit:05d}"
        record = json.loads((folder / "activations.json").read_text())
        assert record["execution"]["encoder"] == encoder
        assert record["images"][0]["predicted_class"] in range(1000)
        assert (folder / "images" / "000.png").is_file()
    image = Image.open(tmp_path / "out" / "unit_00000" / "images" / "000.png")
    assert image.size == ((227, 227) if network == "caffenet" else (224, 224))  # the net's crop


def test_caffenet_conv5_pictures_are_ppgns_receptive_field_crop(tmp_path, full_size_weights):
    args = ["--network", "caffenet", "--weights", str(full_size_weights / "caffenet.pth")]
    args += ["--generator-weights", str(full_size_weights / "deepsim_fc6.pt")]
    args += ["--layer", "conv5", "--units", "7", "--images", "1", "--grid", "1x1"]
    args += ["--iterations", "1", "--crop", "receptive-field", "--device", "cpu"]
    call_command("generate_panels", *args, "--out", str(tmp_path / "out"))
    image = Image.open(tmp_path / "out" / "unit_00007" / "images" / "000.png")
    assert image.size == (163, 163)  # ppgn's `convert -crop 163x163+32+32`


def test_a_gpu_the_machine_lacks_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(CommandError, match="GPU 3 does not exist: this machine has 1"):
        call_command(
            "generate_panels",
            "--network",
            "demo",
            "--layer",
            "fc8",
            "--units",
            "0",
            "--device",
            "cuda:3",
        )


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't "
            "allocate memory: you tried to allocate 123 bytes. Error code 12"
        ),
    ],  # fmt: skip
    ids=["device", "cpu-allocator"],
)
def test_running_out_of_memory_says_what_was_kept_and_to_lower_the_batch(
    tmp_path, models, monkeypatch, error
):
    """It was a traceback."""
    from generator.am import pipeline

    real = pipeline.panels_generate

    def short_of_memory(run, **callbacks):
        real(pipeline.PanelRun(**{**run.__dict__, "units": run.units[:1]}), **callbacks)
        raise error

    monkeypatch.setattr(pipeline, "panels_generate", short_of_memory)
    stopped = r"Stopped: out of memory on cpu with --batch \d+ \(.*\)\. 1 of this run's 2 units"
    with pytest.raises(CommandError, match=stopped) as e:
        generate(tmp_path, units="0-1")
    assert "smaller --batch" in str(e.value)


def test_ctrl_c_says_what_was_kept_and_how_to_go_on(tmp_path, models, monkeypatch):
    from generator.am import pipeline

    real = pipeline.panels_generate

    def interrupted(run, **callbacks):
        real(pipeline.PanelRun(**{**run.__dict__, "units": run.units[:1]}), **callbacks)
        raise KeyboardInterrupt  # as Ctrl-C during the second unit; not makeable for real here

    monkeypatch.setattr(pipeline, "panels_generate", interrupted)
    with pytest.raises(CommandError, match=r"Stopped: 1 of this run's 2 units are in .*again") as e:
        generate(tmp_path, units="0-1")
    assert e.value.returncode == 130
