"""The pixel-space method: Fourier parameterisation, per-chain transforms, AM on the demo."""

import pytest
import torch

from generator.am.config import AMConfig
from generator.am.pixel import (
    PixelSampler,
    frequency_scale,
    initial_spectrum,
    random_transform,
    spectrum_to_rgb,
)


def test_frequency_scale_damps_high_frequencies():
    scale = frequency_scale(8)
    assert scale.shape == (8, 5)
    assert scale[0, 0] == 8.0  # the DC term is capped at 1 / (1 / size)
    assert scale[0, 1] > scale[0, 4] and scale[1, 0] > scale[4, 0]


def test_spectrum_gives_valid_rgb_images_that_depend_on_the_seed():
    spectrum = initial_spectrum(torch.tensor([1, 2, 1]), 16)
    assert spectrum.shape == (3, 3, 16, 9, 2)
    images = spectrum_to_rgb(spectrum, 16)
    assert images.shape == (3, 3, 16, 16)
    assert images.min() > 0 and images.max() < 1
    assert torch.equal(images[0], images[2]) and not torch.equal(images[0], images[1])


def test_transforms_are_drawn_per_chain_and_keep_the_size():
    images = torch.rand(1, 3, 16, 16).repeat(3, 1, 1, 1)
    warped = random_transform(images, torch.tensor([5, 6, 5]), step=0)
    assert warped.shape == images.shape
    assert torch.equal(warped[0], warped[2]) and not torch.equal(warped[0], warped[1])
    assert not torch.equal(warped[0], random_transform(images[:1], torch.tensor([5]), step=1)[0])


def test_pixel_am_raises_demo_output_units_and_reproduces_single_images(demo_pair):
    net, _ = demo_pair
    config = AMConfig(network="demo", layer="fc8", method="pixel", iterations=128)
    sampler = PixelSampler(target=net, config=config)
    # Four chains per unit, judged by the unit's best, as a panel is: the demo network trains
    # a little differently on each CPU, and one chain per unit is a coin toss at the threshold.
    units = [unit for unit in range(10) for _ in range(4)]
    result = sampler.run(units, list(range(40)))
    assert result.images.shape == (40, 3, 32, 32)
    gains = (result.activations - result.start_activations).view(10, 4)
    assert (gains.max(dim=1).values > 1.0).float().mean() >= 0.8


def test_a_pixel_chain_alone_follows_the_same_chain_in_a_batch(demo_pair):
    """Same start exactly; a few steps later the same image up to amplified rounding.

    Conv kernels round differently for other batch sizes, and Adam scales every spectrum
    element to a step of about lr whatever its gradient's size, so a tiny gradient whose sign
    rounding flips moves its element the other way: the images drift apart slowly (see
    docs/generator.md, "Regenerating an image").
    """
    net, _ = demo_pair
    config = AMConfig(network="demo", layer="fc8", method="pixel", iterations=5)
    sampler = PixelSampler(target=net, config=config)
    batch = sampler.run([0, 3, 5], [7, 8, 9])
    alone = sampler.run([3], [8])
    assert alone.start_activations[0].item() == pytest.approx(batch.start_activations[1].item())
    assert (alone.images[0] - batch.images[1]).abs().mean() < 0.02
    assert alone.activations[0].item() == pytest.approx(batch.activations[1].item(), abs=0.05)


def test_pixel_am_rejects_units_outside_the_layer(demo_pair):
    net, _ = demo_pair
    sampler = PixelSampler(target=net, config=AMConfig(network="demo", layer="fc8"))
    with pytest.raises(ValueError, match="Unit 10 is out of range for layer 'fc8'.*0-9"):
        sampler.run([10], [0])


def test_pixel_am_needs_one_seed_per_chain(demo_pair):
    net, _ = demo_pair
    sampler = PixelSampler(target=net, config=AMConfig(network="demo", layer="fc8"))
    with pytest.raises(ValueError, match="2 units but 3 seeds: give one seed per chain"):
        sampler.run([0, 1], [0, 1, 2])


def test_each_method_has_its_own_default_iterations_and_refuses_the_others_settings():
    assert AMConfig().iterations == 200  # ppgn's scripts
    assert AMConfig(method="pixel").iterations == 512  # Lucent's render_vis
    assert AMConfig(method="pixel", iterations=7).iterations == 7
    with pytest.raises(ValueError, match="the pixel method does not use reset_every, threshold"):
        AMConfig(method="pixel", threshold=0.9, reset_every=10)
    with pytest.raises(ValueError, match="the ppgn method does not use pixel_lr; leave it out"):
        AMConfig(pixel_lr=0.1)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"precision": "bf16"}, "runs in fp32 only; leave out --bf16"),
        ({"channels_last": True}, "does not apply --channels-last .*; leave it out"),
        ({"channels_last": True, "compile": True}, "apply --channels-last or --compile .*them"),
    ],
)
def test_speed_options_the_pixel_method_does_not_apply_are_refused(options, message):
    """Recorded with the unit, they would claim a speed-up the run never had."""
    with pytest.raises(ValueError, match=f"the pixel method .*{message}"):
        AMConfig(method="pixel", **options)
