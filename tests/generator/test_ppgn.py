"""The PPGN sampler: the update rule, per-chain seeds, and what sampling achieves on the demo."""

import dataclasses

import pytest
import torch
from torch import nn

from generator.am.chains import chain_normal, chain_seed
from generator.am.config import AMConfig
from generator.am.deepsim import ImageGenerator
from generator.am.demo import active_units, digits_dataset
from generator.am.networks import (
    LayerSpec,
    NetworkSpec,
    TargetNetwork,
    layer_vector,
    unit_values,
)
from generator.am.ppgn import NOISE_STREAM, RESET_STREAM, PPGNSampler


class ToyGenerator(ImageGenerator):
    """A linear G: 6-d code -> 3x8x8 image."""

    code_size = 6

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(6, 3 * 8 * 8)

    def forward(self, h):
        return self.linear(h).view(-1, 3, 8, 8)

    def to_rgb(self, raw):
        return raw


class ToyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc6 = nn.Linear(4 * 8 * 8, 6)
        self.fc8 = nn.Linear(6, 5)

    def forward(self, x):
        return self.fc8(torch.relu(self.fc6(torch.relu(self.conv(x)).flatten(1))))


def toy_target() -> TargetNetwork:
    layers = [
        LayerSpec("conv", "conv", "conv", 4),
        LayerSpec("fc6", "fc6", "fc", 6),
        LayerSpec("fc8", "fc8", "fc", 5, rectified_after=False),
    ]
    spec = NetworkSpec(
        name="toy",
        layers={layer.alias: layer for layer in layers},
        input_size=8,
        mean=(0.1, 0.2, 0.3),
        std=(0.5, 0.6, 0.7),
        num_classes=5,
        class_names=tuple("abcde"),
        class_ids=("",) * 5,
        builder=ToyNet,
    )
    torch.manual_seed(0)
    return TargetNetwork(spec, ToyNet().eval().requires_grad_(False), torch.device("cpu"))


def toy_sampler(**settings) -> PPGNSampler:
    torch.manual_seed(1)
    config = AMConfig(network="toy", generator="toy", **{"layer": "fc8", **settings})
    target = toy_target()
    return PPGNSampler(target=target, generator=ToyGenerator(), encoder=target, config=config)


def test_one_step_equals_the_update_rule_computed_by_hand():
    settings = dict(eps1=0.3, eps2=0.7, eps3=0.05, lr=2.0, lr_end=1.0, iterations=4)
    sampler = toy_sampler(**settings)
    state = sampler.start([1, 4], [11, 12])
    new = sampler.step(state)

    net, generator = sampler.target, sampler.generator
    h = state.h.clone().requires_grad_(True)
    x = net.preprocess(generator(h))
    logits = net.model(x)  # (2, 5)
    p = torch.softmax(logits, 1)[[0, 1], [1, 4]]
    a = logits[[0, 1], [1, 4]]
    (d_condition,) = torch.autograd.grad(((1 - p).detach() * a).sum(), h)
    code = torch.relu(net.model.fc6(torch.relu(net.model.conv(x)).flatten(1))).detach()
    noise = chain_normal(torch.tensor([11, 12]), NOISE_STREAM + 0, 6)
    d_h = 0.3 * (code - state.h) + 0.7 * d_condition + 0.05 * noise
    expected = (state.h + 2.0 / d_h.abs().mean(1, keepdim=True) * d_h).clamp(0, 30)
    torch.testing.assert_close(new.h, expected)
    assert new.step == 1


def test_the_learning_rate_moves_linearly_to_lr_end():
    sampler = toy_sampler(eps3=0.0, lr=2.0, lr_end=1.0, iterations=4, code_max=1e9, code_min=-1e9)
    state = sampler.step(sampler.step(sampler.start([0], [3])))
    d_condition, d_prior, _ = sampler.gradients(state)
    d_h = 1e-5 * d_prior + d_condition
    step = sampler.step(state).h - state.h
    torch.testing.assert_close(step.abs().mean(), torch.tensor(1.5), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(step / step.norm(), d_h / d_h.norm(), rtol=1e-4, atol=1e-5)


def test_codes_are_clipped_to_the_configured_range():
    sampler = toy_sampler(lr=50.0, code_min=0.0, code_max=2.0)
    h = sampler.step(sampler.start([0, 1, 2], [1, 2, 3])).h
    assert h.min() >= 0 and h.max() <= 2.0 and (h == 2.0).any()


def test_each_chain_depends_only_on_its_own_unit_and_seed():
    sampler = toy_sampler(eps3=0.1, iterations=5, reset_every=3)
    batch = sampler.run([0, 3, 1], [chain_seed(0, 0, 0), chain_seed(0, 3, 7), 99])
    alone = sampler.run([3], [chain_seed(0, 3, 7)])
    torch.testing.assert_close(batch.images[1:2], alone.images)
    torch.testing.assert_close(batch.codes[1:2], alone.codes)
    assert not torch.allclose(batch.codes[0], batch.codes[2])


def test_reset_every_redraws_the_codes_but_never_after_the_last_step():
    plain = toy_sampler(iterations=4).run([0], [5])
    reset = toy_sampler(iterations=4, reset_every=2).run([0], [5])
    assert not torch.allclose(plain.codes, reset.codes)
    # A reset after step 4 would hand back a fresh N(0, 1) draw: unoptimised, unclipped.
    assert reset.codes.min() >= 0


def test_threshold_keeps_the_latest_code_above_it():
    never = toy_sampler(iterations=3, threshold=0.999).run([2], [5])
    last = toy_sampler(iterations=3).run([2], [5])
    assert never.probabilities.max() < 0.999  # no code passed: the last code
    torch.testing.assert_close(never.codes, last.codes)
    sampler = toy_sampler(iterations=3, threshold=0.0)
    state = sampler.start([2], [5])
    state = sampler.step(state)
    assert torch.equal(state.kept, sampler.start([2], [5]).h) and state.found.all()


def test_bad_arguments_are_clear_errors():
    sampler = toy_sampler()
    with pytest.raises(ValueError, match="Unit 5 is out of range for layer 'fc8'"):
        sampler.start([5], [0])
    with pytest.raises(ValueError, match="2 units but 1 seeds"):
        sampler.start([0, 1], [0])
    with pytest.raises(ValueError, match="Unknown layer 'fc7'"):
        toy_sampler(layer="fc7")
    with pytest.raises(ValueError, match="needs an encoder"):
        PPGNSampler(target=toy_target(), generator=ToyGenerator(), encoder=None, config=AMConfig())


def test_conv_targets_use_the_centre_of_the_map():
    sampler = toy_sampler(layer="conv", eps1=0.0)
    state = sampler.start([2], [0])
    h = state.h.clone().requires_grad_(True)
    conv = sampler.target.activations(sampler.target.preprocess(sampler.generator(h)), ["conv"])
    values = layer_vector(conv["conv"])
    p = torch.softmax(values, 1)[0, 2]
    (expected,) = torch.autograd.grad((1 - p).detach() * conv["conv"][0, 2, 4, 4], h)
    d_condition, d_prior, _ = sampler.gradients(state)
    torch.testing.assert_close(d_condition, expected)
    assert torch.equal(d_prior, torch.zeros_like(d_prior))


def test_settings_are_checked_when_changed():
    config = AMConfig(network="demo", layer="fc6", iterations=7, lr_end=0.5, precision="bf16")
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16"):
        dataclasses.replace(config, precision="fp8")
    with pytest.raises(ValueError, match="iterations must be at least 1"):
        AMConfig(iterations=0)
    with pytest.raises(ValueError, match="iterations must be at most 1048576"):
        AMConfig(iterations=2**20 + 1)  # its noise would be drawn from the reset stream


def _natural_max(net, layer):
    images, _ = digits_dataset()
    with torch.no_grad():
        acts = net.activations(net.preprocess(images), [layer])[layer]
    return layer_vector(acts).max(0).values


# A few images per unit, as a panel has many: the unit's best is what the quality report holds
# against the digits' maximum (one chain alone misses it on half the units on some CPUs, whose
# training rounds differently).
IMAGES_PER_UNIT = 4


@pytest.mark.parametrize("layer", ["fc6", "conv5"])
def test_sampling_beats_start_and_natural_maximum_on_most_hidden_demo_units(demo_pair, layer):
    net, generator = demo_pair
    config = AMConfig(network="demo", generator="demo", layer=layer, iterations=200)
    # Units the digits drive: which ones live depends on how the training rounded on this CPU.
    units = active_units(net, layer, 12)
    chains = torch.tensor([unit for unit in units for _ in range(IMAGES_PER_UNIT)])
    seeds = [chain_seed(0, unit, index) for unit in units for index in range(IMAGES_PER_UNIT)]
    sampler = PPGNSampler(target=net, generator=generator, encoder=net, config=config)
    result = sampler.run(chains, seeds)
    assert (result.activations > result.start_activations + 1.0).float().mean() >= 0.75
    best = result.activations.view(len(units), IMAGES_PER_UNIT).max(dim=1).values
    assert (best > _natural_max(net, layer)[units]).float().mean() > 0.5  # most
    reread = unit_values(net.activations(net.preprocess(result.images), [layer])[layer], chains)
    torch.testing.assert_close(reread, result.activations)


def test_output_unit_images_are_classified_as_their_class(demo_pair):
    net, generator = demo_pair
    config = AMConfig(network="demo", generator="demo", layer="fc8", iterations=60)
    units = torch.arange(10).repeat(2)
    sampler = PPGNSampler(target=net, generator=generator, encoder=net, config=config)
    result = sampler.run(units, [chain_seed(1, int(u), k // 10) for k, u in enumerate(units)])
    with torch.no_grad():
        predicted = net.model(net.preprocess(result.images)).argmax(1)
    assert (predicted == units).float().mean() >= 0.8
    assert result.images.shape == (20, 3, 32, 32)
    assert result.images.min() >= 0 and result.images.max() <= 1
    assert (result.activations > result.start_activations).all()


@pytest.mark.gpu
def test_sampling_on_cuda_matches_the_cpu(demo_models, monkeypatch):
    from generator.am.demo import load_demo

    config = AMConfig(network="demo", generator="demo", layer="fc6", iterations=20)
    codes = {}
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # TF32 differs by ~1e-3
    for device in ("cpu", "cuda"):
        net, generator = load_demo(demo_models[0], device=device)
        sampler = PPGNSampler(target=net, generator=generator, encoder=net, config=config)
        state = sampler.start(list(range(8)), list(range(8)))
        codes[device] = [state.h.cpu()]
        for _ in range(3):
            state = sampler.step(state)
            codes[device].append(state.h.cpu())
        result = sampler.run(list(range(8)), list(range(8)))
        assert (result.activations > result.start_activations).float().mean() >= 0.75
    torch.testing.assert_close(codes["cuda"][0], codes["cpu"][0], rtol=1e-5, atol=1e-6)
    for cuda, cpu in zip(codes["cuda"], codes["cpu"], strict=True):
        torch.testing.assert_close(cuda, cpu, rtol=1e-3, atol=1e-3)


@pytest.mark.gpu
def test_bf16_final_activations_stay_within_tolerance_of_fp32(demo_models):
    """bf16 autocast keeps the mean final activation within 10% of fp32 (docs/generator.md)."""
    from generator.am.demo import load_demo

    net, generator = load_demo(demo_models[0], device="cuda")
    means = {}
    for precision in ("fp32", "bf16"):
        config = AMConfig(
            network="demo", generator="demo", layer="fc6", iterations=60, precision=precision
        )
        sampler = PPGNSampler(target=net, generator=generator, encoder=net, config=config)
        means[precision] = sampler.run(list(range(32)), list(range(32))).activations.mean()
    assert abs(means["bf16"] - means["fp32"]) <= 0.1 * abs(means["fp32"])


def test_a_bf16_run_stores_its_images_activations_measured_in_fp32():
    """The steps run in bf16; the stored values are the images' activations, not bf16-rounded
    (3 significant digits)."""
    sampler = toy_sampler(iterations=3, precision="bf16")
    result = sampler.run([0, 1, 2], [5, 6, 7])
    units = torch.tensor([0, 1, 2])
    sampler.config = dataclasses.replace(sampler.config, precision="fp32")
    expected = sampler.evaluate(result.images, units).activations
    assert torch.equal(result.activations, expected)
    assert not torch.equal(result.activations, expected.bfloat16().float())


def test_a_separate_encoder_gives_the_same_step_as_the_shared_forward_pass():
    shared = toy_sampler(eps1=0.5, eps3=0.0)
    config = shared.config
    separate = PPGNSampler(
        target=shared.target, generator=shared.generator, encoder=toy_target(), config=config
    )
    state = shared.start([0, 2], [4, 5])
    torch.testing.assert_close(separate.step(state).h, shared.step(state).h)


def test_pictures_are_the_networks_centre_crop_of_the_images():
    sampler = toy_sampler()  # its network takes 8x8 images
    images = torch.rand(2, 3, 10, 10)
    torch.testing.assert_close(sampler.pictures(images), images[..., 1:9, 1:9])


def test_a_threshold_passed_by_every_code_keeps_the_final_code():
    last = toy_sampler(iterations=5).run([1, 4], [3, 4])
    kept = toy_sampler(iterations=5, threshold=0.0).run([1, 4], [3, 4])
    torch.testing.assert_close(kept.codes, last.codes)


def test_a_threshold_no_final_code_passes_keeps_the_latest_code_that_did():
    sampler = toy_sampler(iterations=3, threshold=0.5)
    state = sampler.start([1], [3])
    state = dataclasses.replace(state, kept=state.h + 1, found=torch.tensor([True]))
    sampler.start = lambda units, seeds: state
    sampler.step = lambda s: s  # probabilities of the toy stay far below 0.5
    result = sampler.run([1], [3])
    torch.testing.assert_close(result.codes, state.h + 1)


def test_resets_come_after_the_same_steps_as_ppgns():
    """ppgn re-draws h after the update of step i (from 0) when i is a positive multiple of N."""
    sampler = toy_sampler(reset_every=3, iterations=10)
    state = sampler.start([1], [3])
    for _ in range(3):
        state = sampler.step(state)
    assert torch.equal(state.eps1, torch.full((1, 1), 1e-5))  # steps 0-2: no reset yet
    state = sampler.step(state)  # step 3
    assert not torch.equal(state.eps1, torch.full((1, 1), 1e-5))
    assert torch.equal(state.h, chain_normal(state.seeds, RESET_STREAM + 4, 6))


@pytest.mark.parametrize("name", ["threshold", "lr", "eps1", "lr_end"])
def test_settings_that_are_not_finite_numbers_are_refused(name):
    with pytest.raises(ValueError, match=f"{name} must be a finite number"):
        AMConfig(**{name: float("nan")})
