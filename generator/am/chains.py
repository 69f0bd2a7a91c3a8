"""Per-chain random numbers that depend only on (seed, stream), never on the batch.

Every AM image is one chain with its own integer seed. Its random draws (the starting code, the
noise of each step, resets) come from a counter-based generator (SplitMix64 over the element
index), so a chain gives the same numbers alone or in any batch, on CPU or CUDA, and any single
image can be regenerated from its seed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_GOLDEN = 0x9E3779B97F4A7C15 - (1 << 64)  # the constants as signed int64
_MIX1 = 0xBF58476D1CE4E5B9 - (1 << 64)
_MIX2 = 0x94D049BB133111EB - (1 << 64)
UNIT_BITS = 20  # seeds leave room for 2**20 images per unit and 2**20 units per layer


def chain_seed(base_seed: int, unit: int, index: int) -> int:
    """The seed of image ``index`` of ``unit`` in a run started from ``base_seed``."""
    return (base_seed << (2 * UNIT_BITS)) + (unit << UNIT_BITS) + index


def _shr(x: Tensor, bits: int) -> Tensor:
    # A logical right shift on signed int64: shift, then clear the sign-extended bits.
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def _splitmix(x: Tensor) -> Tensor:
    x = x + _GOLDEN
    x = (x ^ _shr(x, 30)) * _MIX1
    x = (x ^ _shr(x, 27)) * _MIX2
    return x ^ _shr(x, 31)


def _bits(seeds: Tensor, stream: int, count: int) -> Tensor:
    """(B, count) pseudo-random int64 words of chain ``seeds[b]`` in ``stream``."""
    key = _splitmix(seeds.to(torch.int64) * 1_000_003 + _splitmix(torch.tensor(stream)).item())
    counter = torch.arange(count, device=seeds.device, dtype=torch.int64) * _GOLDEN
    return _splitmix(key.view(-1, 1) + counter.view(1, -1))


def chain_uniform(seeds: Tensor, stream: int, dim: int) -> Tensor:
    """(B, dim) float32 uniform on (0, 1) for each chain's seed and a stream number."""
    return (_shr(_bits(seeds, stream, dim), 40).to(torch.float32) + 0.5) / float(1 << 24)


def chain_normal(seeds: Tensor, stream: int, dim: int) -> Tensor:
    """(B, dim) float32 standard normal draws (Box-Muller) for each chain's seed and stream."""
    u = chain_uniform(seeds, stream, 2 * dim)
    radius = torch.sqrt(-2.0 * torch.log(u[:, :dim]))
    return radius * torch.cos(2.0 * math.pi * u[:, dim:])
