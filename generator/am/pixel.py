"""Pixel-space AM for networks without a matching generator, after Lucent's defaults.

The image is parameterised in Fourier space with decorrelated colour (Olah et al. 2017,
"Feature Visualization"; Lucent's ``param.image(fft=True, decorrelate=True)``): a random
spectrum (sd 0.01) scaled by 1/frequency, an inverse FFT, a fixed colour-decorrelation matrix and
a sigmoid to RGB in [0, 1]. Each step applies Lucent's robustness transforms (pad 12 with grey,
jitter 8, scale 0.9-1.1, rotate -10..10 degrees, jitter 4) and takes an Adam step (lr 0.05) that
raises the target unit's value.

Unlike Lucent, which draws one transform for the whole batch, every chain draws its own from its
seed, as one batched affine warp, so any single image can be regenerated alone. The warp differs
from Lucent's chain of transforms in three details: the two jitters are one shift of up to
+-12 pixels (Lucent's are one-sided, 0..7 and 0..3), the warp samples outside the padded
image at its border (Lucent's scale pads with zeros), and the network sees the input-sized
centre of the result (Lucent feeds the padded, larger image).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from generator.am.chains import chain_normal, chain_uniform
from generator.am.config import AMConfig
from generator.am.networks import TargetNetwork, check_units, layer_vector, rectified
from generator.am.ppgn import Sampler, SampleResult
from generator.am.receptive import picture_box

# Square root of the colour correlation of ImageNet images (Lucent's color_correlation_svd_sqrt).
COLOR_CORRELATION_SQRT = torch.tensor(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]]
)
SPECTRUM_SD = 0.01
PAD, JITTER, FINE_JITTER = 12, 8, 4
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


def spectrum_to_rgb(spectrum: Tensor, size: int) -> Tensor:
    """(B,3,size,size) RGB in [0,1] from a spectrum: inverse FFT, colour decorrelation, sigmoid."""
    scale = frequency_scale(size).to(spectrum.device)
    spectrum = torch.view_as_complex(spectrum) * scale
    image = torch.fft.irfft2(spectrum, s=(size, size), norm="ortho") / 4.0
    matrix = COLOR_CORRELATION_SQRT.to(spectrum.device)
    matrix = matrix / matrix.norm(dim=0).max()
    return torch.sigmoid(torch.einsum("ij,bjhw->bihw", matrix, image))


def random_transform(images: Tensor, seeds: Tensor, step: int) -> Tensor:
    """Lucent's transforms with each chain's own draws, as one affine warp of the padded image."""
    size = images.shape[-1]
    padded = F.pad(images, (PAD,) * 4, value=0.5)
    u = chain_uniform(seeds, TRANSFORM_STREAM + step, 4)  # (B, 4)
    scale = SCALES[0] + (SCALES[1] - SCALES[0]) * u[:, 0]
    angle = math.radians(MAX_DEGREES) * (2 * u[:, 1] - 1)
    shift = (JITTER + FINE_JITTER) * (2 * u[:, 2:] - 1)  # (B, 2) pixels
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
        device = self.target.device
        units = torch.as_tensor(units, dtype=torch.long, device=device).view(-1)
        seeds = torch.as_tensor(seeds, dtype=torch.long, device=device).view(-1)
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
