"""Panels for many units, Django-free: batching across units, seeds, resume and quality."""

import json
import shutil
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from generator.am import grid, layer_folder, loading, networks, outputs, pipeline, unit_check
from generator.am.chains import chain_seed
from generator.am.config import AMConfig
from generator.am.demo import digits_dataset
from generator.am.networks import LayerSpec, get_network
from generator.am.pixel import PixelSampler
from generator.am.provenance import GENERATOR_VERSION
from tests.generator.small_networks import small_spec


def demo_run(tmp_path, models, units, reference=None, **config):
    values = dict(
        network="demo",
        layer="fc8",
        generator="demo",
        images_per_unit=4,
        iterations=3,
        batch_size=3,
        weights=str(models / "demo_net.pt"),
        generator_weights=str(models / "demo_generator.pt"),
    )
    values.update(config)
    return pipeline.PanelRun(
        config=AMConfig(**values), units=units, out=tmp_path / "out", rows=2, cols=2,
        reference=reference,
    )  # fmt: skip


def test_chain_plan_covers_every_image_of_every_unit_once_across_batches():
    config = AMConfig(images_per_unit=4, batch_size=3, base_seed=7)
    batches = list(pipeline.chain_plan(config, [5, 2]))
    assert [len(units) for units, _ in batches] == [3, 3, 2]
    seeds = [seed for _, batch_seeds in batches for seed in batch_seeds]
    assert seeds == [chain_seed(7, u, k) for u in (5, 2) for k in range(4)]


def test_panel_run_refuses_an_image_count_that_does_not_fill_the_grid(tmp_path):
    with pytest.raises(ValueError, match="5 images per unit do not fill a 2x2 grid"):
        pipeline.PanelRun(
            config=AMConfig(images_per_unit=5), units=[0], out=tmp_path, rows=2, cols=2
        )


def test_resuming_with_only_the_batch_or_device_changed_is_allowed(tmp_path, demo_models):
    base = demo_run(tmp_path, demo_models[0], [0])
    other = demo_run(tmp_path, demo_models[0], [0], batch_size=7, channels_last=True)
    assert base.settings() == other.settings()
    assert base.settings()["grid"] == "2x2"


def test_naming_the_default_encoder_is_the_same_settings_as_leaving_it_out(tmp_path, demo_models):
    base = demo_run(tmp_path, demo_models[0], [0])
    named = demo_run(tmp_path, demo_models[0], [0], encoder="demo")
    assert named.settings() == base.settings()
    assert named.settings()["encoder"] is None


def test_default_generator_is_the_one_trained_on_the_network():
    assert loading.default_generator("demo") == "demo"
    assert loading.default_generator("alexnet") == "deepsim-fc6"
    assert loading.default_generator("vgg16") == "deepsim-fc6"


def test_the_encoder_shares_the_target_unless_other_weights_are_given(tmp_path, demo_models):
    models = demo_models[0]
    shared = loading.sampler_build(demo_run(tmp_path, models, [0]).config)
    assert shared.encoder is shared.target
    copy = tmp_path / "encoder.pt"
    copy.write_bytes((models / "demo_net.pt").read_bytes())
    separate = loading.sampler_build(
        demo_run(tmp_path, models, [0], encoder_weights=str(copy)).config
    )
    assert separate.encoder is not separate.target
    assert separate.encoder.spec.name == "demo"
    missing = demo_run(tmp_path, models, [0], encoder_weights=str(tmp_path / "none.pt")).config
    with pytest.raises(FileNotFoundError, match="none.pt"):
        loading.sampler_build(missing)


def test_a_folder_recorded_before_settings_were_normalised_resumes(tmp_path, demo_models):
    """Recorded by earlier versions: the default encoder named, the target's own file as the
    encoder's (with its digest), no reference digest, no registration. The same settings today.
    """
    run = demo_run(tmp_path, demo_models[0], [0, 1])
    pipeline.panels_generate(demo_run(tmp_path, demo_models[0], [0]))
    for path in (run.out / "settings.json", run.out / "unit_00000" / "settings.json"):
        old = json.loads(path.read_text())
        old.pop("reference_sha256")
        old.pop("target_registration")
        old["encoder"] = "demo"
        old["weights_sha256"]["encoder"] = old["weights_sha256"]["target"]
        path.write_text(json.dumps(old))
    (report,) = pipeline.panels_generate(run)
    assert report["unit"] == 1


def test_the_targets_own_file_given_for_the_encoder_is_the_target(tmp_path, demo_models):
    """However the path is spelt (here through a link), it is no separate encoder, and the
    same settings as leaving it out."""
    models = demo_models[0]
    link = tmp_path / "link.pt"
    link.symlink_to(models / "demo_net.pt")
    base = demo_run(tmp_path, models, [0])
    named = demo_run(tmp_path, models, [0], encoder_weights=str(link))
    assert not loading.separate_encoder(named.config)
    assert named.settings()["weights_sha256"] == base.settings()["weights_sha256"]


def test_a_pixel_run_records_no_generator_it_did_not_use(tmp_path, demo_models):
    run = demo_run(
        tmp_path, demo_models[0], [0], method="pixel", generator="deepsim-fc6", encoder="alexnet"
    )
    plain = demo_run(tmp_path, demo_models[0], [0], method="pixel", generator_weights=None)
    assert run.settings() == plain.settings()
    assert run.settings()["generator"] == AMConfig().generator


def test_an_encoder_whose_code_the_generator_cannot_take_is_refused(tmp_path, demo_models):
    alexnet = tmp_path / "alexnet.pth"
    torch.save(get_network("alexnet").builder().state_dict(), alexnet)
    config = demo_run(
        tmp_path, demo_models[0], [0], encoder="alexnet", encoder_weights=str(alexnet)
    ).config
    with pytest.raises(ValueError, match="'alexnet' cannot serve generator 'demo'.* of demo;"):
        loading.sampler_build(config)


def test_units_are_written_with_quality_and_any_image_regenerates_from_its_seed(
    tmp_path, demo_models
):
    run = demo_run(tmp_path, demo_models[0], [3, 7])
    written = []
    reports = pipeline.panels_generate(run, on_unit=lambda unit, q: written.append(unit))
    assert written == [3, 7]
    assert outputs.done_units(run.out, [3, 7]) == [3, 7]
    stored = outputs.unit_read(run.out, 7)
    assert stored["quality"]["reference_max"] is not None  # the digits are the demo's reference
    assert 0 <= stored["quality"]["class_hit_rate"] <= 1  # fc8 is the demo's output layer
    assert [r["unit"] for r in reports] == [3, 7]
    assert stored["execution"]["batch_size"] == 3 and stored["execution"]["torch"]
    with pytest.raises(ValueError, match=r"unit 5 is not in .*: it has no folder unit_00005"):
        pipeline.image_regenerate(run.out, 5, 0)  # was "activations.json: [Errno 2] ..."
    shutil.copytree(run.out / "unit_00003", run.out / "unit_00005")
    with pytest.raises(ValueError, match=r"unit_00005 holds the images of unit 3, not of unit 5"):
        pipeline.image_regenerate(run.out, 5, 0)  # made unit 5's picture from unit 3's record


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("layer, unit, index", [("fc8", 7, 0), ("fc6", 11, 3)])
def test_any_image_regenerates_from_its_seed(tmp_path, demo_models, layer, unit, index, device):
    """Long enough for rounding to grow (see bench/regeneration.py); padding keeps it exact on
    the CPU. On CUDA some kernels add in no fixed order (atomics), so the same chain can end a
    rounding error apart (on an H100: the same 8-bit picture, activations 2e-7 apart)."""
    run = demo_run(tmp_path, demo_models[0], [3, unit], layer=layer, iterations=60, device=device)
    pipeline.panels_generate(run)
    image, activation = pipeline.image_regenerate(run.out, unit, index)
    stored = outputs.unit_read(run.out, unit)
    saved = np.asarray(Image.open(stored["folder"] / "images" / f"{index:03d}.png"), dtype=int)
    again = outputs.grid.to_uint8(image[None])[0].astype(int)
    if device == "cpu":
        assert np.array_equal(saved, again)
        assert activation == stored["images"][index]["activation"]
    else:
        assert np.abs(saved - again).max() <= 1
        assert activation == pytest.approx(stored["images"][index]["activation"], rel=1e-4)
    with pytest.raises(ValueError, match="unit 3 has images 0-3, not 4"):
        pipeline.image_regenerate(run.out, 3, 4)


def test_a_cpu_image_regenerates_under_the_threads_its_run_had(tmp_path, demo_models, monkeypatch):
    """torch shares CPU work out by its thread count, and rounds by it (a sum over a whole
    tensor of a million values differs between 1 and 2 threads): a run given no --cpu-threads
    ran on the shell's count, which another shell need not have."""
    run = demo_run(tmp_path, demo_models[0], [1])  # cpu_threads 0: the process's count
    torch.set_num_threads(2)
    try:
        pipeline.panels_generate(run)
    finally:
        torch.set_num_threads(1)
    assert outputs.unit_read(run.out, 1)["execution"]["torch_threads"] == 2
    threads, build = [], pipeline.sampler_build

    def counting(config):
        sampler = build(config)
        sampled = sampler._run
        sampler._run = lambda *args: threads.append(torch.get_num_threads()) or sampled(*args)
        return sampler

    monkeypatch.setattr(pipeline, "sampler_build", counting)
    monkeypatch.setattr(pipeline, "usable_cpus", lambda: 2)
    image, _ = pipeline.image_regenerate(run.out, 1, 2)
    saved = np.asarray(Image.open(outputs.unit_dir(run.out, 1) / "images" / "002.png"))
    assert np.array_equal(saved, grid.to_uint8(image[None])[0])
    assert threads == [2] and torch.get_num_threads() == 1
    # Made on a server's 32 threads, regenerated on this machine's CPUs (many times slower on
    # more threads than CPUs, and not bit for bit on another CPU anyway).
    record = outputs.unit_dir(run.out, 1) / "activations.json"
    stored = json.loads(record.read_text())
    stored["execution"]["torch_threads"] = 32
    record.write_text(json.dumps(stored))
    pipeline.image_regenerate(run.out, 1, 2)
    assert threads == [2, 2]


def test_a_run_smaller_than_its_batch_pads_only_to_its_own_size(tmp_path, demo_models):
    run = demo_run(tmp_path, demo_models[0], [1], batch_size=64)
    pipeline.panels_generate(run)
    stored = outputs.unit_read(run.out, 1)
    assert stored["execution"]["batch_size"] == 4  # its 4 chains, not 64
    assert stored["execution"]["encoder"] == "demo"
    image, activation = pipeline.image_regenerate(run.out, 1, 2)
    assert activation == stored["images"][2]["activation"]
    activations = stored["folder"] / "activations.json"
    activations.write_text(json.dumps({"images": stored["images"]}))  # an older folder
    with pytest.raises(ValueError, match="made before runs recorded how they ran"):
        pipeline.image_regenerate(run.out, 1, 2)


def test_sampling_goes_on_while_the_units_of_the_last_batch_are_written(
    tmp_path, demo_models, monkeypatch
):
    """A batch ends with several units finished at once; writers that keep up must not hold
    the next batch up. (Sampling used to wait until at most 2 x WRITERS units were pending: on
    the GPU, seconds lost per batch.)"""
    run = demo_run(tmp_path, demo_models[0], list(range(8)), batch_size=16)  # 4 units a batch
    monkeypatch.setattr(pipeline, "WRITERS", 1)
    sampler, batches = loading.sampler_build(run.config), []
    second_batch = threading.Event()
    run_batch, finish = sampler.run, pipeline._unit_finish

    def batch_counted(*args, **kwargs):
        batches.append(len(batches))
        if len(batches) == 2:
            second_batch.set()
        return run_batch(*args, **kwargs)

    waited = []

    def finish_after_the_next_batch_started(*args):
        waited.append(second_batch.wait(timeout=20))
        return finish(*args)

    sampler.run = batch_counted
    monkeypatch.setattr(pipeline, "_unit_finish", finish_after_the_next_batch_started)
    assert len(pipeline.panels_generate(run, sampler=sampler)) == 8
    assert waited == [True] * 8  # the first batch's units were written beside the second


def test_a_second_run_skips_finished_units_and_does_nothing(tmp_path, demo_models):
    run = demo_run(tmp_path, demo_models[0], [1])
    pipeline.panels_generate(run)
    before = (run.out / "unit_00001" / "panel.png").stat().st_mtime_ns
    assert pipeline.panels_generate(run) == []
    assert (run.out / "unit_00001" / "panel.png").stat().st_mtime_ns == before


def test_resuming_with_other_settings_is_refused(tmp_path, demo_models):
    pipeline.panels_generate(demo_run(tmp_path, demo_models[0], [1]))
    with pytest.raises(layer_folder.OutputMismatchError, match="iterations"):
        pipeline.panels_generate(demo_run(tmp_path, demo_models[0], [2], iterations=4))


def test_resuming_against_another_reference_set_is_refused(tmp_path, demo_models):
    """The quality reports of one folder are measured against one set of natural images."""
    images = digits_dataset()[0][:6]
    first, moved = tmp_path / "first", tmp_path / "moved"
    for folder in (first, moved):
        (folder / "digits").mkdir(parents=True)
        for index, image in enumerate(images):
            pixels = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            Image.fromarray(pixels).save(folder / "digits" / f"{index}.png")
    run = demo_run(tmp_path, demo_models[0], [1], reference=first)
    pipeline.panels_generate(run)
    settings = outputs.unit_read(run.out, 1)["settings"]
    assert settings["reference"] == str(first)
    assert len(settings["reference_sha256"]) == 64
    # The same images elsewhere (another machine) are the same set.
    assert pipeline.panels_generate(demo_run(tmp_path, demo_models[0], [1], reference=moved)) == []
    (moved / "digits" / "5.png").unlink()
    with pytest.raises(
        layer_folder.OutputMismatchError, match=f"reference_sha256.*--reference {first}"
    ):
        pipeline.panels_generate(demo_run(tmp_path, demo_models[0], [2], reference=moved))
    with pytest.raises(layer_folder.OutputMismatchError, match="resume with no --reference"):
        demo = demo_run(tmp_path / "demo", demo_models[0], [1])
        pipeline.panels_generate(demo)
        pipeline.panels_generate(demo_run(tmp_path / "demo", demo_models[0], [2], reference=first))


def test_hidden_units_get_the_digits_maximum_but_no_class_hit_rate(tmp_path, demo_models):
    run = demo_run(tmp_path, demo_models[0], [5], layer="fc6")
    (report,) = pipeline.panels_generate(run)
    assert report["class_hit_rate"] is None
    target = loading.sampler_build(run.config).target
    digits, _ = digits_dataset()
    with torch.no_grad():
        fc6 = target.activations(target.preprocess(digits), ["fc6"])["fc6"]  # (N, 128) pre-ReLU
    assert report["reference_max"] == pytest.approx(fc6[:, 5].max().item(), rel=1e-5)


def test_the_pixel_method_writes_units_without_a_generator(tmp_path, demo_models):
    run = demo_run(tmp_path, demo_models[0], [2], method="pixel", generator_weights=None)
    (report,) = pipeline.panels_generate(run)
    assert isinstance(loading.sampler_build(run.config), PixelSampler)
    assert report["unit"] == 2 and report["class_hit_rate"] is not None
    assert outputs.unit_read(run.out, 2)["settings"]["method"] == "pixel"


@pytest.mark.gpu
def test_panels_on_the_gpu_match_the_cpu_ones(tmp_path, demo_models, monkeypatch):
    """The same chains on CUDA (TF32 off) give the CPU's final activations and classes."""
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    cpu = demo_run(tmp_path / "cpu", demo_models[0], [4])
    gpu = demo_run(tmp_path / "gpu", demo_models[0], [4], device="cuda")
    (on_cpu,), (on_gpu,) = pipeline.panels_generate(cpu), pipeline.panels_generate(gpu)
    assert on_gpu["mean_activation"] == pytest.approx(on_cpu["mean_activation"], rel=0.02, abs=0.02)
    assert abs(on_gpu["class_hit_rate"] - on_cpu["class_hit_rate"]) <= 0.25  # one image of 4
    assert on_gpu["reference_max"] == pytest.approx(on_cpu["reference_max"], rel=1e-3)


def test_resuming_or_regenerating_with_changed_weights_is_refused(tmp_path, demo_models):
    """Same paths, other contents (retrained or replaced weights): caught by their digests."""
    weights = tmp_path / "net.pt"
    shutil.copy(demo_models[0] / "demo_net.pt", weights)
    run = demo_run(tmp_path, demo_models[0], [1], weights=str(weights))
    pipeline.panels_generate(run)
    state = torch.load(weights)
    state["fc8.bias"] += 1.0
    torch.save(state, weights)
    with pytest.raises(
        layer_folder.OutputMismatchError,
        match=r"weights_sha256\); the weights file of the target is not the one .* cut short",
    ):
        pipeline.panels_generate(demo_run(tmp_path, demo_models[0], [2], weights=str(weights)))
    with pytest.raises(ValueError, match=r"other weights than .*net.pt \(target\)"):
        pipeline.image_regenerate(run.out, 1, 0)


def test_a_network_registered_otherwise_since_is_neither_resumed_nor_regenerated(
    tmp_path, demo_models, monkeypatch
):
    """The layer's name alone does not tell that it is read from another module, or the
    network's input normalised otherwise, than when the folder was made."""
    from dataclasses import replace

    from generator.am import networks

    run = demo_run(tmp_path, demo_models[0], [1])
    pipeline.panels_generate(run)
    changed = replace(get_network("demo"), mean=(0.4, 0.4, 0.4))
    monkeypatch.setitem(networks._REGISTRY, "demo", lambda: changed)
    with pytest.raises(layer_folder.OutputMismatchError, match="target_registration"):
        pipeline.panels_generate(demo_run(tmp_path, demo_models[0], [2]))
    with pytest.raises(ValueError, match=r"registered otherwise \(mean of layer fc8\)"):
        pipeline.image_regenerate(run.out, 1, 0)


def test_weights_that_moved_are_named_missing_and_can_be_pointed_at(tmp_path, demo_models):
    """A missing file is not "other settings" on resume; moved files regenerate when given."""
    weights = tmp_path / "net.pt"
    shutil.copy(demo_models[0] / "demo_net.pt", weights)
    run = demo_run(tmp_path, demo_models[0], [1], weights=str(weights))
    pipeline.panels_generate(run)
    stored_image, stored_activation = pipeline.image_regenerate(run.out, 1, 0)
    moved = shutil.move(weights, tmp_path / "elsewhere.pt")
    with pytest.raises(FileNotFoundError, match=r"target network 'demo' not found: .*net\.pt"):
        pipeline.panels_generate(demo_run(tmp_path, demo_models[0], [2], weights=str(weights)))
    with pytest.raises(FileNotFoundError, match="python -m generator.am.train_demo"):
        pipeline.image_regenerate(run.out, 1, 0)
    image, activation = pipeline.image_regenerate(run.out, 1, 0, weights={"target": moved})
    assert torch.equal(image, stored_image) and activation == stored_activation
    with pytest.raises(ValueError, match="no weights role 'targets'"):
        pipeline.image_regenerate(run.out, 1, 0, weights={"targets": moved})


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_unit_made_on_cuda_regenerates_on_the_cpu_only_when_asked(
    tmp_path, demo_models, monkeypatch
):
    """Alone and uncompiled there: no batch repeats a GPU's image on a CPU, and a GPU run's
    batch of 1024 would take hours."""
    run = demo_run(tmp_path, demo_models[0], [1])
    pipeline.panels_generate(run)
    records = outputs.unit_dir(run.out, 1) / "activations.json"
    stored = json.loads(records.read_text())
    stored["execution"] |= {"device": "cuda:3", "batch_size": 1024, "compile": True}  # a rank's
    records.write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="made on CUDA, and this machine has none; pass device"):
        pipeline.image_regenerate(run.out, 1, 0)
    built = []
    build = pipeline.sampler_build
    monkeypatch.setattr(
        pipeline, "sampler_build", lambda config: built.append(config) or build(config)
    )
    image, _ = pipeline.image_regenerate(run.out, 1, 0, device="cpu", precision="fp32")
    assert image.shape[0] == 3
    [config] = built
    assert (config.device, config.batch_size, config.compile) == ("cpu", 1, False)
    assert config.precision == "fp32"


def test_a_pixel_unit_recorded_with_speed_options_it_ignored_regenerates(tmp_path, demo_models):
    """Runs before the pixel method refused --channels-last and --compile recorded them."""
    run = demo_run(tmp_path, demo_models[0], [1], method="pixel", generator_weights=None)
    pipeline.panels_generate(run)
    records = outputs.unit_dir(run.out, 1) / "activations.json"
    stored = json.loads(records.read_text())
    stored["execution"] |= {"channels_last": True, "compile": True}
    records.write_text(json.dumps(stored))
    image, activation = pipeline.image_regenerate(run.out, 1, 0)
    saved = np.asarray(Image.open(outputs.unit_dir(run.out, 1) / "images" / "000.png"))
    assert np.array_equal(saved, grid.to_uint8(image[None])[0])
    assert activation == stored["images"][0]["activation"]


def test_units_made_by_an_earlier_generator_version_are_not_regenerated(tmp_path, demo_models):
    run = demo_run(tmp_path, demo_models[0], [1])
    pipeline.panels_generate(run)
    settings_file = outputs.unit_dir(run.out, 1) / "settings.json"
    settings = json.loads(settings_file.read_text())
    del settings["version"], settings["weights_sha256"]  # as version 1 wrote them
    settings_file.write_text(json.dumps(settings))
    message = f"made by version 1 of the generator; this is version {GENERATOR_VERSION}"
    with pytest.raises(ValueError, match=message):
        pipeline.image_regenerate(run.out, 1, 0)


def test_a_network_giving_nan_stops_the_run_naming_the_unit_and_keeps_nothing_of_it(
    tmp_path, demo_models
):
    """A NaN in a bias makes every activation NaN: the run stops with what to check rather than
    finish with NaN in its files (not JSON, refused by the database later); the folder then
    takes the corrected run, and its plan."""
    weights = tmp_path / "nan.pt"
    state = torch.load(demo_models[0] / "demo_net.pt")
    state["fc8.bias"][1] = float("nan")
    torch.save(state, weights)
    run = demo_run(tmp_path, demo_models[0], list(range(6)), weights=str(weights))
    message = r"unit 0: the network gave NaN or infinite values.*check the network's weights"
    with pytest.raises(ValueError, match=message):
        pipeline.panels_generate(run)
    assert not list(run.out.glob("*unit_*"))  # neither unit folders nor partial ones
    assert layer_folder.planned_units(run.out) == list(range(6))
    corrected = demo_run(tmp_path, demo_models[0], [0, 1])
    assert [report["unit"] for report in pipeline.panels_generate(corrected)] == [0, 1]
    assert layer_folder.planned_units(run.out) == [0, 1]  # not units 2-5 that no run makes


def test_a_unit_folder_given_as_the_output_folder_is_refused(tmp_path, demo_models):
    run = demo_run(tmp_path, demo_models[0], [1])
    pipeline.panels_generate(run)
    unit = outputs.unit_dir(run.out, 1)
    before = sorted(path.name for path in unit.iterdir())
    inside = pipeline.PanelRun(**{**run.__dict__, "out": unit, "units": [2]})
    with pytest.raises(layer_folder.OutputMismatchError, match=rf"--out {run.out}\) to resume it"):
        pipeline.panels_generate(inside)
    assert sorted(path.name for path in unit.iterdir()) == before
    assert unit_check.unit_problem(run.out, 1, run.settings(), pipeline.SETTINGS_RULES) is None


def test_a_resume_names_a_picture_cut_short_and_a_renamed_unit_folder(tmp_path, demo_models):
    run = demo_run(tmp_path, demo_models[0], [1, 2, 3])
    pipeline.panels_generate(run)
    picture = outputs.unit_dir(run.out, 1) / "images" / "001.png"
    picture.write_bytes(picture.read_bytes()[:-30])  # a copy that stopped half way
    with pytest.raises(
        layer_folder.OutputMismatchError, match="unit_00001: images/001.png: cut short"
    ):
        pipeline.panels_generate(run)
    outputs.unit_dir(run.out, 1).rename(tmp_path / "moved_out")
    outputs.unit_dir(run.out, 3).rename(run.out / "unit_000003")
    with pytest.raises(
        layer_folder.OutputMismatchError, match="unit_000003: unit 3's folder is named"
    ):
        pipeline.panels_generate(run)
    (run.out / "unit_000003").rename(outputs.unit_dir(run.out, 3))
    assert [report["unit"] for report in pipeline.panels_generate(run)] == [1]


class _RectifiedNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.relu = torch.nn.Conv2d(3, 2, 3, padding=1), torch.nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv(x))


def test_the_summary_names_units_whose_chains_never_moved(tmp_path, monkeypatch):
    """A layer registered at a rectified module: a unit at 0 there gets no gradient."""
    relu = LayerSpec("relu", "relu", "conv", 2)  # wrongly: after the ReLU
    spec = small_spec("rectified-net", _RectifiedNet, relu)
    monkeypatch.setitem(networks._REGISTRY, spec.name, lambda: spec)
    torch.manual_seed(0)
    model = _RectifiedNet()
    with torch.no_grad():
        model.conv.bias.copy_(torch.tensor([1.0, -100.0]))  # unit 0 alive, unit 1 at 0 always
    torch.save(model.state_dict(), tmp_path / "net.pt")
    config = AMConfig(
        network=spec.name, layer="relu", method="pixel", images_per_unit=4, iterations=3,
        batch_size=4, weights=str(tmp_path / "net.pt"),
    )  # fmt: skip
    run = pipeline.PanelRun(config=config, units=[0, 1], out=tmp_path / "out", rows=2, cols=2)
    reports = pipeline.panels_generate(run)
    assert [report["share_unmoved"] for report in reports] == [0.0, 1.0]
    summary = outputs.quality_summary(reports)
    assert "Warning: no chain moved the target for 1 unit(s) (1): every image ended" in summary
    assert "after a ReLU" in summary
    assert "moved" not in outputs.quality_summary(reports[:1])
