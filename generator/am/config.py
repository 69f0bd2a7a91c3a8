"""The settings of an AM run. A run records them in settings.json beside every output, with
the generator's version and the weights' digests (outputs.py), so that any image can be made
again (pipeline.image_regenerate).

Defaults follow ppgn's sampling scripts (eps1=1e-5, eps2=1, eps3=1e-17, lr=1, 200 iterations,
codes clipped to [0, 30]) and Lucent's defaults for the pixel-space method (Adam lr 0.05, 512
iterations, as `render_vis`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields

import torch

METHODS = ("ppgn", "pixel")
PRECISIONS = ("fp32", "bf16")
SPATIAL_MODES = ("centre", "max")
CROPS = ("input", "receptive-field")
# Iterations when none are given: ppgn's scripts, Lucent's `render_vis` (thresholds=(512,)).
DEFAULT_ITERATIONS = {"ppgn": 200, "pixel": 512}
# Settings one method uses and the other has not: a value other than the default is refused.
PPGN_SETTINGS = (
    "eps1", "eps2", "eps3", "lr", "lr_end", "code_min", "code_max", "reset_every", "threshold"
)  # fmt: skip
PIXEL_SETTINGS = ("pixel_lr",)
FLOAT_SETTINGS = (
    "eps1", "eps2", "eps3", "lr", "lr_end", "code_min", "code_max", "threshold", "pixel_lr"
)  # fmt: skip


@dataclass(frozen=True)
class AMConfig:
    """Everything that determines the AM images of one run."""

    network: str = "alexnet"
    layer: str = "fc8"
    weights: str | None = None  # target network weights file; None: the standard one
    method: str = "ppgn"  # "ppgn" (generator prior) or "pixel" (Fourier image)
    generator: str = "deepsim-fc6"
    generator_weights: str | None = None
    # the prior's encoder E: None picks the target when G takes its code, else G's default
    encoder: str | None = None
    # E's weights; given for the target network itself they make a separate E. None: the
    # target's weights when E is the target, else E's standard file
    encoder_weights: str | None = None
    images_per_unit: int = 100
    base_seed: int = 0  # image k of unit u has seed chain_seed(base_seed, u, k)
    iterations: int | None = None  # None: DEFAULT_ITERATIONS of the method
    eps1: float = 1e-5  # prior term E(G(h)) - h
    eps2: float = 1.0  # condition term d log p(unit) / dh
    eps3: float = 1e-17  # noise standard deviation
    lr: float = 1.0
    lr_end: float | None = None  # linear schedule lr -> lr_end; None: constant lr
    code_min: float = 0.0  # h is clipped to [code_min, code_max] after each step
    code_max: float = 30.0
    reset_every: int = 0  # re-draw h every N steps (0: never), as ppgn's option
    threshold: float = -1.0  # keep the latest code whose target probability exceeds this
    spatial: str = "centre"  # conv unit: centre of the map ("centre", ppgn) or spatial "max"
    pre_relu: bool = True  # target the unit's pre-ReLU value, as ppgn
    # pictures: the whole input the network saw, or a conv unit's receptive field (receptive.py)
    crop: str = "input"
    pixel_lr: float = 0.05  # Adam learning rate of the pixel method (Lucent's default)
    batch_size: int = 64  # chains run together
    device: str = "cpu"
    precision: str = "fp32"  # "bf16": autocast the networks in bfloat16 (CUDA)
    channels_last: bool = False  # the PPGN method's networks (the pixel method refuses it)
    compile: bool = False  # torch.compile the generator (PPGN)
    cudnn_benchmark: bool = True  # let cuDNN time its algorithms once (shapes never change)
    cpu_threads: int = 0  # torch CPU threads while sampling; 0 leaves torch's setting alone

    def __post_init__(self):
        self._check_choice("method", METHODS)
        self._check_choice("precision", PRECISIONS)
        self._check_choice("spatial", SPATIAL_MODES)
        self._check_choice("crop", CROPS)
        if self.iterations is None:
            object.__setattr__(self, "iterations", DEFAULT_ITERATIONS[self.method])
        self._check_unused()
        for name in ("images_per_unit", "iterations", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        # chain_seed packs (base seed, unit, image) into 64 bits: 23 + 20 + 20.
        if not 0 <= self.base_seed < 2**23:
            raise ValueError(f"base_seed must be in 0..{2**23 - 1}, not {self.base_seed}")
        if self.images_per_unit > 2**20:
            raise ValueError(f"images_per_unit must be at most {2**20}, not {self.images_per_unit}")
        # Each step's random draws have a stream of their own, 2**20 apart (ppgn.py, pixel.py).
        if self.iterations > 2**20:
            raise ValueError(f"iterations must be at most {2**20}, not {self.iterations}")
        if self.method == "pixel":
            self._check_pixel_speed_options()
        if self.cpu_threads < 0:
            raise ValueError(f"cpu_threads must be 0 or more, not {self.cpu_threads}")
        if self.reset_every < 0:
            raise ValueError(f"reset_every must be 0 or more, not {self.reset_every}")
        for name in FLOAT_SETTINGS:
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, not {value}")
        # A negative weight or noise, or a step against the gradient, makes no AM image; a
        # negative eps3 would also run as none and yet count as other settings.
        for name in ("eps1", "eps2", "eps3"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, not {getattr(self, name)}")
        for name in ("lr", "pixel_lr"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be above 0, not {getattr(self, name)}")
        if self.lr_end is not None and self.lr_end < 0:
            raise ValueError(f"lr_end must be 0 or more, not {self.lr_end}")
        if self.threshold >= 1:
            raise ValueError(
                f"threshold is a probability: give one below 1, or -1 for none, not "
                f"{self.threshold}"
            )
        if self.code_min >= self.code_max:
            raise ValueError(f"code_min ({self.code_min}) must be below code_max")

    def _check_unused(self) -> None:
        """Refuse settings the method never reads (`--threshold` for the pixel method, say),
        rather than record them as if they had made the pictures."""
        unused = PPGN_SETTINGS if self.method == "pixel" else PIXEL_SETTINGS
        defaults = {f.name: f.default for f in fields(self)}
        given = [name for name in unused if getattr(self, name) != defaults[name]]
        if given:
            raise ValueError(
                f"the {self.method} method does not use {', '.join(given)}; leave "
                f"{'it' if len(given) == 1 else 'them'} out"
            )

    def _check_pixel_speed_options(self) -> None:
        """Refuse the PPGN method's speed options, which the pixel method does not apply (its
        steps are fp32, it has no generator to compile, and it leaves the network's memory
        layout alone), rather than record them as if they had made the run faster."""
        if self.precision != "fp32":
            raise ValueError("the pixel method runs in fp32 only; leave out --bf16")
        given = [
            flag
            for flag, name in (("--channels-last", "channels_last"), ("--compile", "compile"))
            if getattr(self, name)
        ]
        if given:
            raise ValueError(
                f"the pixel method does not apply {' or '.join(given)} (they speed up the PPGN "
                f"method); leave {'it' if len(given) == 1 else 'them'} out"
            )

    def _check_choice(self, name: str, choices: tuple[str, ...]) -> None:
        if getattr(self, name) not in choices:
            raise ValueError(
                f"{name} must be one of {', '.join(choices)}, not {getattr(self, name)!r}"
            )

    def threads(self):
        """Context manager running torch on ``cpu_threads`` CPU threads (0: unchanged)."""
        return torch_threads(self.cpu_threads)

    @property
    def final_lr(self) -> float:
        """The learning rate of the last step."""
        return self.lr if self.lr_end is None else self.lr_end


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, where the system tells it)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cpus or 1


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch on ``count`` CPU threads inside the block (0: leave the setting alone).

    Tiny networks (the demo) run many times faster on one thread than on two on a 2-core
    machine: the work per operation is too small to share.
    """
    if count <= 0:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
