"""The PPGN sampler (Nguyen et al. 2017, "Plug & Play Generative Networks"), batched over chains.

Each chain b has its own target unit ``units[b]`` in one layer and its own seed. One step, as in
ppgn's ``sampler.py`` (Eq. 11 of the paper):

    x      = G(h)                                   # (B,3,S,S) image, RGB in [0,1]
    a      = target layer values of crop(x)         # (B,units): fc, or conv at the centre
    p      = softmax(a)                             # over the layer's units
    d_cond = d[(1 - p_k) * a_k] / dh                # ppgn's gradient of log p_k: only unit k's
                                                    # path, weighted by 1 - p_k
    d_prior = E(crop(x)) - h                        # E: the encoder (AlexNet fc6, post-ReLU)
    d_h    = eps1 * d_prior + eps2 * d_cond + N(0, eps3^2)
    h     <- clip(h + lr_i / mean(|d_h|) * d_h, code_min, code_max)

with lr_i moving linearly from lr to lr_end. ``crop`` is the target network's preprocessing:
a centre crop of G's output to the network's input size (256 -> 224 for torchvision nets; ppgn
took 256 -> 227 for CaffeNet), or a bilinear resize when G's output is smaller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from generator.am.chains import chain_normal, chain_uniform
from generator.am.config import AMConfig
from generator.am.deepsim import ImageGenerator
from generator.am.networks import (
    TargetNetwork,
    check_units,
    fit_to_size,
    layer_vector,
    rectified,
)
from generator.am.receptive import Box, picture_box

START_STREAM = 0  # stream numbers of the per-chain random draws
NOISE_STREAM = 1 << 20  # + step index
RESET_STREAM = 2 << 20  # + step index
EPS1_STREAM = 3 << 20  # + step index


@dataclass(frozen=True)
class ChainState:
    """The state of B chains between steps."""

    h: Tensor  # (B, code) current codes
    units: Tensor  # (B,) long, target unit of each chain
    seeds: Tensor  # (B,) long
    eps1: Tensor  # (B, 1) prior weight (re-drawn per chain on reset, as ppgn does)
    kept: Tensor  # (B, code) latest code whose target probability exceeded the threshold
    found: Tensor  # (B,) bool, whether any code exceeded it yet
    step: int = 0


@dataclass(frozen=True)
class SampleResult:
    """Final images of B chains and what the target network says about them."""

    images: Tensor  # (B,3,S,S) RGB in [0,1], clamped, at G's output size: what the net saw
    activations: Tensor  # (B,) final target-unit value (pre-ReLU unless configured otherwise)
    probabilities: Tensor  # (B,) softmax probability of the target unit over the layer
    start_activations: Tensor  # (B,) target-unit value of the starting image G(h0)
    codes: Tensor  # (B, code) final codes
    pictures: Tensor  # (B,3,P,Q) what people are shown: the network's view (or the unit's
    # receptive field in it, `config.crop`), rendered by G


@dataclass(frozen=True)
class Evaluation:
    """The target network's view of a batch of images."""

    activations: Tensor  # (B,)
    probabilities: Tensor  # (B,)


class Sampler:
    """What every AM method shares: one chain per (unit, seed) pair, run as one batch."""

    config: AMConfig
    box: Box | None  # where pictures are cropped: `picture_box(config)`

    def run(
        self,
        units: Sequence[int] | Tensor,
        seeds: Sequence[int] | Tensor,
        *,
        on_step: Callable[[int], None] | None = None,
    ) -> SampleResult:
        """Run ``config.iterations`` steps of one chain per (unit, seed) pair, all batched."""
        with self.config.threads():
            result = self._run(units, seeds, on_step)
        if self.box is None:
            return result
        return replace(result, pictures=self.box.crop(result.pictures))

    def _run(self, units, seeds, on_step) -> SampleResult:
        raise NotImplementedError


def chain_tensors(units, seeds, device: torch.device) -> tuple[Tensor, Tensor]:
    """Units and seeds as (B,) long tensors on `device`, one seed per chain."""
    units = torch.as_tensor(units, dtype=torch.long, device=device).view(-1)
    seeds = torch.as_tensor(seeds, dtype=torch.long, device=device).view(-1)
    if len(units) != len(seeds):
        raise ValueError(f"{len(units)} units but {len(seeds)} seeds: give one seed per chain")
    return units, seeds


class PPGNSampler(Sampler):
    """Runs batches of PPGN chains for one layer of one target network."""

    def __init__(
        self,
        *,
        target: TargetNetwork,
        generator: ImageGenerator,
        encoder: TargetNetwork | None,
        encoder_layer: str = "fc6",
        config: AMConfig,
    ):
        self.target, self.generator, self.config = target, generator, config
        self.box = picture_box(config)
        self.layer = target.spec.layer(config.layer)
        self.encoder, self.encoder_layer = encoder, encoder_layer
        if encoder is not None:
            encoder.spec.layer(encoder_layer)
        if config.eps1 != 0 and encoder is None:
            raise ValueError("eps1 > 0 needs an encoder network for the prior term E(G(h)) - h")
        self._render = _prepare(generator, target, encoder, config)

    def _autocast(self):
        if self.config.precision != "bf16":
            return nullcontext()
        return torch.autocast(self.target.device.type, dtype=torch.bfloat16)

    def start(self, units: Sequence[int] | Tensor, seeds: Sequence[int] | Tensor) -> ChainState:
        """Chains at step 0: h ~ N(0, 1) from each chain's seed, as ppgn starts."""
        device = self.target.device
        units, seeds = chain_tensors(units, seeds, device)
        check_units(self.layer, units.tolist())
        h = chain_normal(seeds, START_STREAM, self.generator.code_size)
        eps1 = torch.full((len(units), 1), float(self.config.eps1), device=device)
        found = torch.zeros(len(units), dtype=torch.bool, device=device)
        return ChainState(h=h, units=units, seeds=seeds, eps1=eps1, kept=h, found=found)

    def gradients(self, state: ChainState) -> tuple[Tensor, Tensor, Tensor]:
        """(d_condition, d_prior, p_k) at ``state.h``: the two terms of the update rule."""
        h = state.h.detach().requires_grad_(True)
        with self._autocast():
            images = self._render(h)  # (B,3,S,S)
            values, prior_code = self._forward(images)
        p_k, rest = _probability_and_rest(values.detach().float(), state.units)
        a_k = values.gather(1, state.units.view(-1, 1)).squeeze(1)
        (d_condition,) = torch.autograd.grad((rest * a_k.float()).sum(), h)
        if prior_code is None:
            d_prior = torch.zeros_like(state.h)
        else:
            d_prior = prior_code.detach().float() - state.h
        return d_condition.float(), d_prior, p_k.detach()

    def _forward(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """Target layer values (B, units) and, when the prior is on, the encoder code E(x)."""
        alias, use_prior = self.layer.alias, self.config.eps1 != 0
        shared = use_prior and self.encoder is self.target
        layers = [alias, self.encoder_layer] if shared and self.encoder_layer != alias else [alias]
        acts = self.target.activations(self.target.preprocess(images), layers, pre_relu=True)
        values = layer_vector(
            _maybe_rectify(acts[alias], self.layer, self.config), spatial=self.config.spatial
        )
        if not use_prior:
            return values, None
        if shared:
            return values, rectified(
                acts[self.encoder_layer], self.target.spec.layer(self.encoder_layer)
            )
        x = self.encoder.preprocess(images.detach())
        return values, self.encoder.activations(x, [self.encoder_layer], pre_relu=False)[
            self.encoder_layer
        ]

    def step(self, state: ChainState) -> ChainState:
        """One PPGN update of every chain (see the module docstring)."""
        config, i = self.config, state.step
        d_condition, d_prior, p_k = self.gradients(state)
        d_h = state.eps1 * d_prior + config.eps2 * d_condition
        if config.eps3 > 0:
            d_h = d_h + config.eps3 * chain_normal(state.seeds, NOISE_STREAM + i, d_h.shape[1])
        lr = config.lr + (config.final_lr - config.lr) * i / config.iterations
        scale = lr / d_h.abs().mean(dim=1, keepdim=True).clamp_min(torch.finfo(d_h.dtype).tiny)
        h = (state.h + scale * d_h).clamp(config.code_min, config.code_max)
        above = p_k > config.threshold
        kept = torch.where(above.view(-1, 1), state.h, state.kept)
        state = replace(state, h=h, kept=kept, found=state.found | above, step=i + 1)
        # As ppgn: after the update of step i (from 0) when i is a positive multiple of N; but
        # never after the last step, whose code is the result.
        if (
            config.reset_every
            and i > 0
            and i % config.reset_every == 0
            and i + 1 < config.iterations
        ):
            state = self._reset(state)
        return state

    def _reset(self, state: ChainState) -> ChainState:
        """ppgn's reset: a fresh h ~ N(0,1) and eps1 ~ U(1e-6, 1e-2), per chain and step."""
        h = chain_normal(state.seeds, RESET_STREAM + state.step, state.h.shape[1])
        u = chain_uniform(state.seeds, EPS1_STREAM + state.step, 1)
        return replace(state, h=h, eps1=1e-6 + u * (1e-2 - 1e-6))

    @torch.no_grad()
    def evaluate(self, images: Tensor, units: Tensor, *, as_steps: bool = False) -> Evaluation:
        """Target-unit value and probability of each image (B,3,S,S) RGB on a [0,1] scale
        (clamped for the stored activations; G's raw range where steps judge codes).

        In fp32, so that a bf16 run stores its images' activations unrounded; `as_steps`: in
        the steps' precision, for judgements the steps also make (the threshold)."""
        with self._autocast() if as_steps else nullcontext():
            acts = self.target.activations(self.target.preprocess(images), [self.layer.alias])
        values = layer_vector(
            _maybe_rectify(acts[self.layer.alias], self.layer, self.config),
            spatial=self.config.spatial,
        ).float()
        probs = torch.softmax(values, dim=1).gather(1, units.view(-1, 1)).squeeze(1)
        return Evaluation(values.gather(1, units.view(-1, 1)).squeeze(1), probs)

    @torch.no_grad()
    def render(self, h: Tensor) -> Tensor:
        """Images G(h), RGB on a [0,1] scale, float32, not clamped (pictures need the range)."""
        with self._autocast():
            return self._render(h).float()

    @torch.no_grad()
    def pictures(self, images: Tensor) -> Tensor:
        """What people are shown of rendered images: the part the network saw (its centre
        crop of G's output), as G renders it for people (ppgn's colours for DeePSiM)."""
        return self.generator.pictures(fit_to_size(images, self.target.spec.input_size))

    def _run(self, units, seeds, on_step) -> SampleResult:
        state = self.start(units, seeds)
        start_eval = self.evaluate(self.render(state.h).clamp(0, 1), state.units)
        for _ in range(self.config.iterations):
            state = self.step(state)
            if on_step is not None:
                on_step(len(state.units))
        final_h, images = state.h, self.render(state.h)
        final = self.evaluate(images.clamp(0, 1), state.units)
        if self.config.threshold >= 0:
            # The latest code whose probability passed the threshold: the final one if it did,
            # judged as the steps judge codes (on G's unclamped image).
            judged = self.evaluate(images, state.units, as_steps=True)
            passed = judged.probabilities > self.config.threshold
            earlier = state.found & ~passed
            if earlier.any():
                final_h = torch.where(earlier.view(-1, 1), state.kept, state.h)
                images = self.render(final_h)
                final = self.evaluate(images.clamp(0, 1), state.units)
        return SampleResult(
            images.clamp(0, 1),
            final.activations,
            final.probabilities,
            start_eval.activations,
            final_h,
            pictures=self.pictures(images),
        )


def _probability_and_rest(values: Tensor, units: Tensor) -> tuple[Tensor, Tensor]:
    """(p_k, 1 - p_k) of each chain's unit under a softmax over the layer, both accurate.

    1 - p_k is summed over the other units in log space rather than subtracted: in float32,
    p_k rounds to exactly 1 once unit k leads by about 17, and the condition term would switch
    between vanishing and not on a rounding error instead of fading smoothly.
    """
    log_p = torch.log_softmax(values, dim=1)
    log_p_k = log_p.gather(1, units.view(-1, 1))
    others = log_p.scatter(1, units.view(-1, 1), float("-inf"))
    return log_p_k.squeeze(1).exp(), torch.logsumexp(others, dim=1).exp()


def _maybe_rectify(value: Tensor, layer, config: AMConfig) -> Tensor:
    return value if config.pre_relu else rectified(value, layer)


def _prepare(generator, target, encoder, config: AMConfig) -> Callable[[Tensor], Tensor]:
    """Apply the speed options once; return the function h -> images."""
    if target.device.type == "cuda":
        torch.backends.cudnn.benchmark = config.cudnn_benchmark
    if config.channels_last:
        for model in {
            id(m): m for m in (generator, target.model, encoder and encoder.model) if m
        }.values():
            model.to(memory_format=torch.channels_last)
    if config.compile:
        return torch.compile(generator.images)
    return generator.images
