"""Pixel-space AM for networks without a matching generator, after Lucent's defaults.

The image is parameterised in Fourier space with decorrelated colour (Olah et al. 2017,
"Feature Visualization"; Lucent's ``param.image(fft=True, decorrelate=True)``): a random
spectrum (sd 0.01) scaled by 1/frequency, an inverse FFT, a fixed colour-decorrelation matrix and
a sigmoid to RGB in [0, 1]. Each step applies Lucent's robustness transforms (pad 12 with grey,
jitter 8, scale 0.9-1.1, rotate -10..10 degrees, jitter 4) and takes an Adam step (lr 0.05) that
raises the target unit's value; 512 steps unless told otherwise, as `render_vis`. The target is
the unit as the PPGN method defines it: for a conv layer one channel at the centre of the map
(Lucent's `neuron` objective; its default `channel` objective takes the mean over the map) or
its spatial maximum, pre-ReLU by default (Lucent keeps the output of the layer's module, which
torchvision's in-place ReLUs then rectify).

Unlike Lucent, which draws one transform for the whole batch, every chain draws its own from its
seed, as one batched affine warp, so any single image can be regenerated alone. The warp differs
from Lucent's chain of transforms in details:
* Lucent's two jitters move the image by 0..7 and 0..3 whole pixels, 0..10 together; here one
  shift of up to +-5 pixels (not whole) does, the same spread about a centred mean (Lucent's
  mean offset of 5 pixels changes nothing there, as its network sees the whole padded image);
* the network sees the input-sized centre of the result, so the image keeps the network's
  input size and a conv unit's centre (Lucent feeds the padded image, 248 to 273 pixels);
* outside the padded image the warp repeats its border (grey); Lucent's translations, scale
  and rotation fill with zeros (black);
* scale and angle are drawn from their whole ranges; Lucent picks from 11 scales and 21 angles
  (0 degrees six times as often as the others).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor
from torch.nn import functional as F

from generator.am.chains import chain_normal, chain_uniform
from generator.am.config import AMConfig
from generator.am.networks import TargetNetwork, check_units, layer_vector, rectified
from generator.am.ppgn import Sampler, SampleResult, chain_tensors
from generator.am.receptive import picture_box

# Square root of the colour correlation of ImageNet images (Lucent's color_correlation_svd_sqrt).
COLOR_CORRELATION_SQRT = torch.tensor(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]]
)
SPECTRUM_SD = 0.01
PAD = 12
SHIFT = (8 - 1 + 4 - 1) / 2  # half the spread of Lucent's jitter(8) and jitter(4) together
SCALES = (0.9, 1.1)
MAX_DEGREES = 10
TRANSFORM_STREAM = 1 << 20  # + step index


def frequency_scale(size: int) -> Tensor:
    """(size, size//2+1) scale 1/max(|f|, 1/size) of the rfft2 frequencies (decay power 1)."""
    fy = torch.fft.fftfreq(size).view(-1, 1)
    fx = torch.fft.rfftfreq(size).view(1, -1)
    return 1.0 / torch.sqrt(fx**2 + fy**2).clamp_min(1.0 / size)


def initial_spectrum(seeds: Tensor, size: int) -> Tensor:
    """(B, 3, size, size//2+1, 2) real/imaginary parts, N(0, 0.01^2) from each chain's seed."""
    shape = (3, size, size // 2 + 1, 2)
    return SPECTRUM_SD * chain_normal(seeds, 0, math.prod(shape)).view(-1, *shape)


@functools.lru_cache(maxsize=8)
def _constants(size: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """The frequency scale and the normalised colour matrix, made once per size and device."""
    matrix = COLOR_CORRELATION_SQRT / COLOR_CORRELATION_SQRT.norm(dim=0).max()
    return frequency_scale(size).to(device), matrix.to(device)


def spectrum_to_rgb(spectrum: Tensor, size: int) -> Tensor:
    """(B,3,size,size) RGB in [0,1] from a spectrum: inverse FFT, colour decorrelation, sigmoid."""
    scale, matrix = _constants(size, spectrum.device)
    spectrum = torch.view_as_complex(spectrum) * scale
    image = torch.fft.irfft2(spectrum, s=(size, size), norm="ortho") / 4.0
    return torch.sigmoid(torch.einsum("ij,bjhw->bihw", matrix, image))


def random_transform(images: Tensor, seeds: Tensor, step: int) -> Tensor:
    """Lucent's transforms with each chain's own draws, as one affine warp of the padded image."""
    size = images.shape[-1]
    padded = F.pad(images, (PAD,) * 4, value=0.5)
    u = chain_uniform(seeds, TRANSFORM_STREAM + step, 4)  # (B, 4)
    scale = SCALES[0] + (SCALES[1] - SCALES[0]) * u[:, 0]
    angle = math.radians(MAX_DEGREES) * (2 * u[:, 1] - 1)
    shift = SHIFT * (2 * u[:, 2:] - 1)  # (B, 2) pixels
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, 2 * shift[:, 0] / padded.shape[-1]], 1),
            torch.stack([sin, cos, 2 * shift[:, 1] / padded.shape[-2]], 1),
        ],
        1,
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, list(padded.shape), align_corners=False)
    warped = F.grid_sample(
        padded, grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return warped[..., PAD : PAD + size, PAD : PAD + size]


class PixelSampler(Sampler):
    """Batched pixel-space AM chains for one layer of one target network."""

    def __init__(self, *, target: TargetNetwork, config: AMConfig):
        self.target, self.config = target, config
        self.box = picture_box(config)
        self.layer = target.spec.layer(config.layer)
        self.size = target.spec.input_size

    def unit_values(self, images: Tensor) -> Tensor:
        """(B, units) layer values for images RGB in [0,1] (conv: centre or spatial max)."""
        acts = self.target.activations(self.target.preprocess(images), [self.layer.alias])
        value = acts[self.layer.alias]
        if not self.config.pre_relu:
            value = rectified(value, self.layer)
        return layer_vector(value, spatial=self.config.spatial).float()

    def _evaluate(self, images: Tensor, units: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            values = self.unit_values(images)
        probs = torch.softmax(values, dim=1).gather(1, units.view(-1, 1)).squeeze(1)
        return values.gather(1, units.view(-1, 1)).squeeze(1), probs

    def _run(self, units, seeds, on_step) -> SampleResult:
        units, seeds = chain_tensors(units, seeds, self.target.device)
        check_units(self.layer, units.tolist())
        spectrum = initial_spectrum(seeds, self.size).requires_grad_(True)
        start, _ = self._evaluate(spectrum_to_rgb(spectrum.detach(), self.size), units)
        optimiser = torch.optim.Adam([spectrum], lr=self.config.pixel_lr)
        for step in range(self.config.iterations):
            images = random_transform(spectrum_to_rgb(spectrum, self.size), seeds, step)
            loss = -self.unit_values(images).gather(1, units.view(-1, 1)).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if on_step is not None:
                on_step(len(units))
        images = spectrum_to_rgb(spectrum.detach(), self.size)
        final, probs = self._evaluate(images, units)
        codes = spectrum.detach().flatten(1)
        return SampleResult(images, final, probs, start, codes, pictures=images)
