"""Receptive fields of centre conv units, and pictures cropped to them (--crop receptive-field)."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from generator.am import grid, networks, pipeline
from generator.am.config import AMConfig
from generator.am.networks import LayerSpec
from generator.am.pixel import PixelSampler
from generator.am.ppgn import PPGNSampler
from generator.am.receptive import Box, picture_box, receptive_field
from generator.am.zoo import imagenet_spec
from tests.generator.small_networks import small_spec


@pytest.mark.parametrize(
    "network, layer, box",
    [
        # ppgn's hidden-unit script: `convert -crop 163x163+32+32` of the 227-pixel input
        ("caffenet", "conv5", Box(32, 32, 163, 163)),
        ("caffe-alexnet", "conv5", Box(32, 32, 163, 163)),
        # torchvision's AlexNet pads conv1 by 2: unit 6 of 13 sees input rows 16*6-66 .. +96
        ("alexnet", "conv5", Box(30, 30, 163, 163)),
        # thirteen 3x3 convs and four 2x2 pools: 196 pixels, unit 7 of 14 centred on 119.5
        ("vgg16", "conv5_3", Box(22, 22, 196, 196)),
        # 235 pixels around pixel 126 (unit 7 of 14), clipped by the 224-pixel input's edge
        ("googlenet", "inception4e", Box(9, 9, 215, 215)),
        # the demo's functional max-pools: unit 4 of 8 sees rows 1..34, clipped at 31
        ("demo", "conv5", Box(1, 1, 31, 31)),
    ],
)
def test_the_field_is_the_theoretical_one_of_each_architecture(network, layer, box):
    assert receptive_field(network, layer) == box


def test_saturating_activations_do_not_hide_the_field(monkeypatch):
    """MobileNetV2's ReLU6s saturate on the computation's inputs (doubled by each residual sum):
    had they run, no gradient would have reached the input at all."""
    from torchvision.models import mobilenet_v2

    layer = LayerSpec("block7", "features.7.conv.2", "conv", 64, rectified_after=False)
    spec = imagenet_spec("mobilenet_v2-test", [layer], mobilenet_v2, "none.pth", "none")
    monkeypatch.setitem(networks._REGISTRY, spec.name, lambda: spec)
    # stride 16 and eight 3x3 convs with jumps 1, 2, 2, 4, 4, 8, 8, 8: 75 pixels around 112
    assert receptive_field(spec.name, "block7") == Box(75, 75, 75, 75)


def test_pictures_are_only_cropped_when_asked_and_only_for_centre_conv_units():
    assert picture_box(AMConfig(network="demo", layer="conv5")) is None
    crop = AMConfig(network="demo", layer="conv5", crop="receptive-field")
    assert picture_box(crop) == Box(1, 1, 31, 31)
    with pytest.raises(ValueError, match="applies to conv layers; a unit of fc6"):
        picture_box(dataclasses.replace(crop, layer="fc6"))
    with pytest.raises(ValueError, match="needs --spatial centre"):
        picture_box(dataclasses.replace(crop, spatial="max"))
    with pytest.raises(ValueError, match="crop must be one of input, receptive-field, not 'rf'"):
        AMConfig(crop="rf")


@pytest.mark.parametrize("method", ["ppgn", "pixel"])
def test_cropped_pictures_are_the_field_of_the_same_chains_pictures(demo_pair, method):
    net, generator = demo_pair
    config = AMConfig(network="demo", layer="conv5", method=method, iterations=2)
    cropped_config = dataclasses.replace(config, crop="receptive-field")

    def sampler(config):
        if method == "pixel":
            return PixelSampler(target=net, config=config)
        return PPGNSampler(target=net, generator=generator, encoder=net, config=config)

    whole = sampler(config).run([3, 5], [11, 12])
    cropped = sampler(cropped_config).run([3, 5], [11, 12])
    assert whole.pictures.shape[-2:] == (32, 32)
    assert cropped.pictures.shape[-2:] == (31, 31)
    assert torch.equal(cropped.pictures, whole.pictures[..., 1:32, 1:32])
    assert torch.equal(cropped.activations, whole.activations)  # the net saw the whole image


def test_a_cropped_picture_regenerates_as_stored(tmp_path, demo_models):
    models = demo_models[0]
    config = AMConfig(
        network="demo",
        layer="conv5",
        generator="demo",
        crop="receptive-field",
        images_per_unit=1,
        iterations=3,
        weights=str(models / "demo_net.pt"),
        generator_weights=str(models / "demo_generator.pt"),
    )
    run = pipeline.PanelRun(config=config, units=[2], out=tmp_path / "out", rows=1, cols=1)
    pipeline.panels_generate(run)
    picture, _ = pipeline.image_regenerate(run.out, 2, 0)
    saved = np.asarray(Image.open(run.out / "unit_00002" / "images" / "000.png"))
    assert saved.shape == (31, 31, 3)
    assert np.array_equal(saved, grid.to_uint8(picture[None])[0])


class _DilatedPoolNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 3)
        self.pool = torch.nn.MaxPool2d(3, dilation=2)

    def forward(self, x):
        return self.pool(self.conv(x))


def test_a_network_the_computation_cannot_rework_is_refused(monkeypatch):
    spec = small_spec("dilated-pool-net", _DilatedPoolNet, LayerSpec("pool", "pool", "conv", 2))
    monkeypatch.setitem(networks._REGISTRY, spec.name, lambda: spec)
    with pytest.raises(ValueError, match="receptive field of dilated-pool-net pool: a dilated"):
        receptive_field(spec.name, "pool")


class _HandSaturatedNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = torch.nn.Conv2d(3, 2, 3), torch.nn.Conv2d(2, 2, 3)

    def forward(self, x):
        return self.conv2(torch.minimum(self.conv1(x), torch.zeros(())))  # saturated by hand


def test_a_field_no_gradient_reaches_is_refused_saying_what_to_do(monkeypatch):
    conv2 = LayerSpec("conv2", "conv2", "conv", 2)
    spec = small_spec("hand-saturated-net", _HandSaturatedNet, conv2)
    monkeypatch.setitem(networks._REGISTRY, spec.name, lambda: spec)
    with pytest.raises(ValueError, match="conv2: no gradient reaches the input.*--crop input"):
        receptive_field(spec.name, "conv2")
