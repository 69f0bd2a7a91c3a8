"""Image generators G(h): the DeePSiM fc6 generator used by ppgn, and a registry of generators.

DeePSiM fc6 (Dosovitskiy & Brox 2016, as shipped with ppgn) maps a 4096-d AlexNet fc6 code to a
256x256 image: three fully connected 4096 layers (defc7, defc6, defc5), a reshape to 256x4x4,
then deconv5 256 (k4 s2 p1), conv5_1 512 (k3 s1 p1), deconv4 256, conv4_1 256, deconv3 128,
conv3_1 128, deconv2 64, deconv1 32, deconv0 3. LeakyReLU(0.3) follows every layer but the last.
ppgn's Caffe net defines conv5_1/conv4_1/conv3_1 as stride-1 Deconvolution layers, so they are
ConvTranspose2d here too: converted weights then load without transposition.

Its raw output is a Caffe image: BGR channel order, 0-255 scale, with the ImageNet mean
(B, G, R) = (104, 117, 123) subtracted. ``images()`` converts it to RGB in [0, 1] (unclamped,
so gradients flow everywhere); the sampler crops it to the target network's input.
``pictures()`` renders images for people as ppgn saved them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from generator.am.networks import (
    checkpoint_read,
    state_dict_mismatch,
    unwrap_state_dict,
    weights_file_check,
)

CAFFE_MEAN_BGR = (104.0, 117.0, 123.0)
DISPLAY_RANGE = 120.0  # ppgn clips raw values to [-120, 120] before saving


class ImageGenerator(nn.Module):
    """A generator G: code (B, code_size) -> raw image; ``images`` gives RGB in [0, 1]."""

    code_size: int

    def to_rgb(self, raw: Tensor) -> Tensor:
        """Raw output -> (B,3,S,S) RGB on a [0, 1] scale (not clamped)."""
        raise NotImplementedError

    def images(self, h: Tensor) -> Tensor:
        """G(h) as (B,3,S,S) RGB images on a [0, 1] scale (not clamped)."""
        return self.to_rgb(self(h))

    def pictures(self, images: Tensor) -> Tensor:
        """The pictures people are shown of ``images`` (from ``images()``): RGB in [0, 1]."""
        return images.clamp(0, 1)


def _up(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1)


def _same(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel_size=3, stride=1, padding=1)


class DeePSiMFc6(ImageGenerator):
    """The DeePSiM fc6 generator: (B, 4096) code -> (B, 3, 256, 256) Caffe BGR image."""

    code_size = 4096

    def __init__(self):
        super().__init__()
        self.defc7 = nn.Linear(4096, 4096)
        self.defc6 = nn.Linear(4096, 4096)
        self.defc5 = nn.Linear(4096, 4096)
        self.deconv5, self.conv5_1 = _up(256, 256), _same(256, 512)  # 8x8
        self.deconv4, self.conv4_1 = _up(512, 256), _same(256, 256)  # 16x16
        self.deconv3, self.conv3_1 = _up(256, 128), _same(128, 128)  # 32x32
        self.deconv2 = _up(128, 64)  # 64x64
        self.deconv1 = _up(64, 32)  # 128x128
        self.deconv0 = _up(32, 3)  # 256x256
        self.act = nn.LeakyReLU(0.3)
        # The mean is a constant of the Caffe convention, not part of converted weight files.
        mean_rgb = torch.tensor(CAFFE_MEAN_BGR[::-1]).view(1, 3, 1, 1)
        self.register_buffer("mean_rgb", mean_rgb, persistent=False)

    def forward(self, h: Tensor) -> Tensor:
        x = self.act(self.defc5(self.act(self.defc6(self.act(self.defc7(h))))))
        x = x.view(-1, 256, 4, 4)
        for layer in (self.deconv5, self.conv5_1, self.deconv4, self.conv4_1, self.deconv3):
            x = self.act(layer(x))
        for layer in (self.conv3_1, self.deconv2, self.deconv1):
            x = self.act(layer(x))
        return self.deconv0(x)  # (B, 3, 256, 256) BGR, mean subtracted, 0-255

    def to_rgb(self, raw: Tensor) -> Tensor:
        return (raw.flip(1) + self.mean_rgb.to(raw.dtype)) / 255.0

    def pictures(self, images: Tensor) -> Tensor:
        """ppgn's saved pictures: ``util.save_image`` clips the raw values (mean not added
        back) to [-120, 120], and ``scipy.misc.imsave`` then byte-scales every float image from
        its own darkest to its brightest value, so each picture spans black..white (one flat
        picture comes out black, as there)."""
        raw = images * 255.0 - self.mean_rgb.to(images.dtype)  # RGB, mean subtracted
        clipped = raw.clamp(-DISPLAY_RANGE, DISPLAY_RANGE)
        darkest = clipped.amin(dim=(1, 2, 3), keepdim=True)
        span = clipped.amax(dim=(1, 2, 3), keepdim=True) - darkest
        return (clipped - darkest) / torch.where(span > 0, span, torch.ones_like(span))


@dataclass(frozen=True)
class GeneratorSpec:
    """A registered generator, the network/layer whose code it inverts, and its weights."""

    name: str
    builder: Callable[[], ImageGenerator] = field(repr=False)
    # Networks whose `encoder_layer` code G takes (E in the PPGN prior term); the first is E
    # when the target is none of them.
    encoder_networks: tuple[str, ...]
    encoder_layer: str
    default_weights: Callable[[], Path] = field(repr=False)
    how_to_obtain: str


_GENERATORS: dict[str, GeneratorSpec] = {}


def register_generator(spec: GeneratorSpec) -> GeneratorSpec:
    """Add ``spec`` to the generator registry."""
    _GENERATORS[spec.name] = spec
    return spec


def available_generators() -> list[str]:
    """Names of all registered generators, sorted."""
    return sorted(_GENERATORS)


def get_generator(name: str) -> GeneratorSpec:
    """The spec of generator ``name``; ValueError listing the registered names otherwise."""
    if name not in _GENERATORS:
        known = ", ".join(available_generators())
        raise ValueError(f"Unknown generator {name!r}; registered generators: {known}")
    return _GENERATORS[name]


def load_generator(name: str, *, weights: Path | None = None, device="cpu") -> ImageGenerator:
    """Build generator ``name``, load its weights from a local file; eval mode, no grads.

    Missing files raise FileNotFoundError and files whose keys, shapes or dtypes do not fit
    (`state_dict_mismatch`) raise ValueError, both naming the file and how to obtain the right one.
    """
    spec = get_generator(name)
    path = Path(weights) if weights is not None else spec.default_weights()
    weights_file_check(path, f"of generator {name!r}", spec.how_to_obtain)
    try:
        state = unwrap_state_dict(checkpoint_read(path), path)
    except ValueError as error:
        raise ValueError(f"{error}. {spec.how_to_obtain}") from None
    model = spec.builder()
    problems = state_dict_mismatch(model.state_dict(), state)
    if problems:
        message = f"Generator weights {path} do not match {name!r}: {problems}"
        raise ValueError(f"{message}. {spec.how_to_obtain}")
    model.load_state_dict(state)
    return model.eval().requires_grad_(False).to(torch.device(device))


register_generator(
    GeneratorSpec(
        name="deepsim-fc6",
        builder=DeePSiMFc6,
        # G inverts CaffeNet's fc6; torchvision's AlexNet comes first as its weights are the
        # ones usually at hand (see docs/generator.md, "Encoder").
        encoder_networks=("alexnet", "caffenet"),
        encoder_layer="fc6",
        default_weights=lambda: Path(torch.hub.get_dir()) / "checkpoints" / "deepsim_fc6.pt",
        how_to_obtain=(
            "Convert ppgn's Caffe generator (nets/generator/noiseless, DeePSiM fc6) to a PyTorch "
            "state dict with keys defc7.weight ... deconv0.bias (the layout of the common "
            "PyTorch ports), save it as deepsim_fc6.pt in the torch hub checkpoints folder, or "
            "pass --generator-weights PATH."
        ),
    )
)
