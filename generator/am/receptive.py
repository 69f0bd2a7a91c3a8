"""The receptive field of a conv unit at its map's centre, to crop the pictures people rate.

ppgn's hidden-unit script (`3_hidden_conditional_sampling.sh`) crops each conv5 picture of
CaffeNet to the 163x163 pixels at offset (32, 32) of the 227-pixel input: the part of the image
the centre unit sees. The rest of the picture, outside the unit's view, is shaped by the
generator's prior alone. `--crop receptive-field` makes the same crop for any registered
network.

The field is found from the network itself rather than from a table: under
`_SpreadingMode` every convolution weighs all its inputs alike and positively, every
max-pool averages its window, and normalisations and elementwise activations pass their input
on, so every value is positive and a unit's gradient with respect to an all-ones input is
positive exactly on the pixels that can reach it (its theoretical receptive field) and zero
elsewhere. The network's real weights play no part. The activations must be passed over, not
run: on these inputs, which residual sums double block after block, ReLU6 and the hard sigmoid
saturate (MobileNet's), where their gradient is zero and would hide the field. The
computation runs in float64, so the gradient at the field's edge, a product of one small
factor per layer, does not underflow.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cache

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from generator.am.config import AMConfig
from generator.am.networks import LayerSpec, TargetNetwork, get_network


@dataclass(frozen=True)
class Box:
    """A rectangle of the network's input: rows top..top+height-1, cols left..left+width-1."""

    top: int
    left: int
    height: int
    width: int

    def crop(self, images: Tensor) -> Tensor:
        """The box of images (..., H, W) at the network's input size."""
        return images[..., self.top : self.top + self.height, self.left : self.left + self.width]

    def covers(self, size: int) -> bool:
        """Whether the box is the whole size x size input."""
        return (self.top, self.left, self.height, self.width) == (0, 0, size, size)


def crop_check(layer: LayerSpec, config: AMConfig) -> None:
    """ValueError where `config.crop` cannot apply to `layer`."""
    if config.crop != "receptive-field":
        return
    if layer.kind != "conv":
        raise ValueError(
            f"--crop receptive-field applies to conv layers; a unit of {layer.alias} "
            "(fully connected) sees the whole image"
        )
    if config.spatial != "centre":
        raise ValueError(
            "--crop receptive-field needs --spatial centre: with the spatial max the unit "
            "the image drives hardest can sit anywhere on the map"
        )


def picture_box(config: AMConfig) -> Box | None:
    """Where pictures are cropped under `config` (None: the whole input the network saw)."""
    if config.crop != "receptive-field":
        return None
    layer = get_network(config.network).layer(config.layer)
    crop_check(layer, config)
    return receptive_field(config.network, layer.alias)


@cache
def receptive_field(network: str, alias: str) -> Box:
    """The receptive field, in the input crop, of conv layer `alias`'s unit at the map's
    centre (H//2, W//2): the unit conv AM targets. ValueError where the network holds an
    operation whose spread the computation does not know."""
    spec = get_network(network)
    model = spec.builder().eval()  # the weights do not matter: _SpreadingMode replaces them
    target = TargetNetwork(spec, model.requires_grad_(False), torch.device("cpu"))
    size = spec.input_size
    x = torch.ones(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    try:
        with _SpreadingMode():
            act = target.activations(x, [alias])[alias]  # (1, C, H, W)
            (grad,) = torch.autograd.grad(act[0, :, act.shape[2] // 2, act.shape[3] // 2].sum(), x)
    except RuntimeError as error:
        raise ValueError(
            f"cannot work out the receptive field of {network} {alias}: {error}"
        ) from None
    reached = grad[0].abs().sum(dim=0) > 0  # (S, S)
    if not reached.any():
        raise ValueError(
            f"cannot work out the receptive field of {network} {alias}: no gradient reaches the "
            "input from its centre unit. The network holds an operation with a zero gradient "
            "there that the computation does not rework (an activation written by hand that "
            "saturates, such as torch.minimum(x, 6)); use --crop input"
        )
    rows, cols = reached.any(dim=1).nonzero().flatten(), reached.any(dim=0).nonzero().flatten()
    top, left = int(rows[0]), int(cols[0])
    return Box(top, left, int(rows[-1]) - top + 1, int(cols[-1]) - left + 1)


# Elementwise activations, as the networks call them: each value depends on its input's value
# at the same place alone, so passing the input on keeps the spread and no gradient saturates.
_ELEMENTWISE = {
    *(F.relu, F.relu_, F.relu6, F.hardtanh, F.hardtanh_, F.hardsigmoid, F.hardswish),
    *(F.silu, F.gelu, F.elu, F.elu_, F.selu, F.celu, F.leaky_relu, F.leaky_relu_, F.mish),
    *(F.softplus, F.sigmoid, F.tanh, torch.relu, torch.relu_, torch.sigmoid, torch.tanh),
    *(torch.clamp, torch.clip),
    *(getattr(torch.Tensor, name) for name in ("relu", "sigmoid", "tanh", "clamp", "clip")),
    *(getattr(torch.Tensor, name + "_") for name in ("relu", "sigmoid", "tanh", "clamp", "clip")),
}


class _SpreadingMode(TorchFunctionMode):
    """Runs a conv network so that every input pixel a unit depends on gets a positive
    gradient: uniform positive convolutions, average in place of max pooling, and no
    normalisation (their spread is their window, which the convolutions and pools give) nor
    elementwise activation."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _ELEMENTWISE:
            return _passed_on(func, args, kwargs)
        if func is F.conv2d:
            return _uniform_conv2d(*args, **kwargs)
        if func is F.max_pool2d:
            return _average_pool2d(*args, **kwargs)
        if func is F.adaptive_max_pool2d:
            return F.adaptive_avg_pool2d(
                args[0], args[1] if len(args) > 1 else kwargs["output_size"]
            )
        if func in (F.batch_norm, F.local_response_norm, F.dropout):
            return args[0] if args else kwargs["input"]
        return func(*args, **kwargs)


def _uniform_conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    uniform = torch.full(weight.shape, 1.0 / weight[0].numel(), dtype=input.dtype)
    return F.conv2d(input, uniform.to(input.device), None, stride, padding, dilation, groups)


def _average_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    if dilation not in (1, (1, 1)) or return_indices:
        raise RuntimeError("a dilated max-pool, or one returning indices, is not supported")
    return F.avg_pool2d(input, kernel_size, stride, padding, ceil_mode=ceil_mode)


def _passed_on(func, args, kwargs) -> Tensor:
    """The input of an elementwise activation as its result: the input itself where the
    activation works in place (so later in-place sums alias as in the network), else a copy."""
    input = args[0] if args else kwargs["input"]
    return input if _in_place(func, args, kwargs) else input.clone()


def _in_place(func, args, kwargs) -> bool:
    if func.__name__.endswith("_"):  # relu_, Tensor.clamp_
        return True
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except (TypeError, ValueError):  # a builtin (torch.sigmoid): no inplace argument
        return False
    return bool(bound.arguments.get("inplace", False))
