"""Registry of target networks, their layer aliases, weight loading and unit addressing.

Django-free: runs with plain Python + torch. A network is registered once with
``@register_network(name)`` on a function that returns its ``NetworkSpec``; ``load_network``
builds the torch model, loads its weights from a local file (never from the network) and wraps
it in a ``TargetNetwork`` that returns the activations of named layers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLASS_INDEX = Path(__file__).parent / "data" / "imagenet_class_index.json"


@dataclass(frozen=True)
class LayerSpec:
    """A named layer of a network whose output is an AM target."""

    alias: str  # "conv5", "fc6", "fc8", "conv5_3", "inception4e", ...
    module: str  # dotted path of the module inside the torch model whose output is taken
    kind: str  # "conv" or "fc"
    units: int  # channels for conv, features for fc
    rectified_after: bool = True  # a ReLU follows the module (its post-ReLU value is relu(out))
    # Where the module's own output is already rectified (an Inception block concatenates
    # branches that each end in batch norm and an in-place ReLU): the modules whose outputs,
    # concatenated along channels, are its pre-ReLU value.
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkSpec:
    """Everything needed to build, load and address one target network."""

    name: str
    layers: dict[str, LayerSpec]
    input_size: int  # side of the square crop given to the network
    mean: tuple[float, float, float]  # RGB, on [0, 1] images
    std: tuple[float, float, float]
    num_classes: int
    class_names: tuple[str, ...]  # index -> human name
    class_ids: tuple[str, ...]  # index -> WordNet id for ImageNet nets; "" where none
    builder: Callable[[], nn.Module] = field(repr=False, compare=False)
    weights_file: str = ""  # file name looked up in the torch hub cache's checkpoints folder
    how_to_obtain: str = ""  # told to the user when the file is missing or does not match
    default_weights: Callable[[], Path] | None = field(default=None, repr=False, compare=False)
    # Key prefixes a weights file may hold for parts the network is built without (GoogLeNet's
    # auxiliary classifiers, used only in training): dropped from the file before loading.
    unused_keys: tuple[str, ...] = ()
    bgr: bool = False  # the network takes BGR channel order (Caffe); mean and std stay RGB

    def layer(self, alias: str) -> LayerSpec:
        """The layer called ``alias``; ValueError listing the known aliases otherwise."""
        if alias not in self.layers:
            known = ", ".join(self.layers)
            raise ValueError(f"Unknown layer {alias!r} for network {self.name!r}; known: {known}")
        return self.layers[alias]

    def weights_path(self) -> Path:
        """Where the weights are looked for when no --weights file is given."""
        if self.default_weights is not None:
            return self.default_weights()
        return Path(torch.hub.get_dir()) / "checkpoints" / self.weights_file


_REGISTRY: dict[str, Callable[[], NetworkSpec]] = {}


def register_network(name: str):
    """Decorator registering a function that returns the ``NetworkSpec`` of ``name``."""

    def decorate(make_spec: Callable[[], NetworkSpec]) -> Callable[[], NetworkSpec]:
        _REGISTRY[name] = cache(make_spec)
        return make_spec

    return decorate


def available_networks() -> list[str]:
    """Names of all registered networks, sorted."""
    return sorted(_REGISTRY)


def get_network(name: str) -> NetworkSpec:
    """The spec of a registered network; ValueError listing the registered names otherwise."""
    if name not in _REGISTRY:
        known = ", ".join(available_networks())
        raise ValueError(f"Unknown network {name!r}; registered networks: {known}")
    return _REGISTRY[name]()


class _AllCaptured(Exception):
    """Raised by a forward hook once every requested layer is captured, to skip the rest."""


class TargetNetwork:
    """A loaded network in eval mode, without gradients on its parameters."""

    def __init__(self, spec: NetworkSpec, model: nn.Module, device: torch.device):
        self.spec = spec
        self.model = model
        self.device = device
        self._mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
        self._std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)

    def preprocess(self, images: Tensor) -> Tensor:
        """Images (B,3,H,W) RGB in [0,1] -> normalised (B,3,S,S) network input.

        An image larger than the input size S is centre-cropped to it; a smaller one is resized
        (bilinear) up to it. Colour is normalised with the spec's per-channel mean and std, then
        put in BGR order for a Caffe network.
        """
        images = fit_to_size(images, self.spec.input_size)
        x = (images - self._mean.to(images.dtype)) / self._std.to(images.dtype)
        return x.flip(1) if self.spec.bgr else x

    def activations(
        self, x: Tensor, layers: Sequence[str], *, pre_relu: bool = True
    ) -> dict[str, Tensor]:
        """Outputs of ``layers`` for preprocessed ``x``, in one forward pass.

        Returns alias -> (B,C,H,W) for conv layers, (B,units) for fc layers. The pass stops as
        soon as every requested layer has been computed. With ``pre_relu=False`` a layer that a
        ReLU follows is returned rectified.
        """
        specs = [self.spec.layer(alias) for alias in layers]
        captured: dict[str, Tensor] = {}

        def take(layer: LayerSpec, output: Tensor) -> None:
            captured[layer.alias] = output.flatten(1) if layer.kind == "fc" else output
            if len(captured) == len(specs):
                raise _AllCaptured

        with layers_hooked(self.model, specs, take), suppress(_AllCaptured):
            self.model(x)
        if not pre_relu:
            captured = {a: rectified(v, self.spec.layers[a]) for a, v in captured.items()}
        return {alias: captured[alias] for alias in layers}


@contextmanager
def layers_hooked(
    model: nn.Module, layers: Sequence[LayerSpec], take: Callable[[LayerSpec, Tensor], None]
) -> Iterator[None]:
    """Forward hooks that call take(layer, output) with each layer's pre-ReLU output as the
    forward pass computes it. A layer with parts gets its parts' outputs concatenated. Each
    output taken is handed on as a copy, so what the network does next in place (an in-place
    activation inside a block, ResNet's `out += identity`) changes the copy, not the value
    taken; a pass that `take` stops there makes no copy."""
    modules = dict(model.named_modules())

    def whole(layer: LayerSpec):
        def hook(_module, _inputs, output):
            take(layer, output)
            return output.clone()

        return hook

    def part(layer: LayerSpec, index: int, taken: dict[int, Tensor]):
        def hook(_module, _inputs, output):
            taken[index] = output
            if len(taken) == len(layer.parts):
                joined = torch.cat([taken.pop(i) for i in range(len(layer.parts))], dim=1)
                take(layer, joined)
            return output.clone()

        return hook

    handles = []
    try:
        for layer in layers:
            if not layer.parts:
                handles.append(modules[layer.module].register_forward_hook(whole(layer)))
            taken: dict[int, Tensor] = {}
            for index, name in enumerate(layer.parts):
                handles.append(modules[name].register_forward_hook(part(layer, index, taken)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def rectified(value: Tensor, layer: LayerSpec) -> Tensor:
    """The post-ReLU value of a layer output: relu(value) where a ReLU follows the layer."""
    return F.relu(value) if layer.rectified_after else value


def target_options_check(
    spec: NetworkSpec, layer: LayerSpec, *, spatial: str, pre_relu: bool
) -> None:
    """ValueError for a target option that changes nothing on `layer`: it would still count as
    other settings, so the run could neither resume nor register beside panels made without."""
    if layer.kind != "conv" and spatial != "centre":
        raise ValueError(
            f"--spatial {spatial} applies to conv layers; a unit of {layer.alias} (fully "
            "connected) has one value"
        )
    if spatial != "centre" and layer_shapes(spec)[layer.alias][1:] == (1, 1):
        raise ValueError(
            f"--spatial {spatial}: the map of {layer.alias} is 1x1, so its maximum is its "
            "centre; leave it out"
        )
    if not pre_relu and not layer.rectified_after:
        raise ValueError(
            f"--post-relu: no ReLU follows {layer.alias}, so its values are the same before "
            "and after; leave it out"
        )


def fit_to_size(images: Tensor, size: int) -> Tensor:
    """Centre-crop (B,3,H,W) images larger than ``size``; resize smaller ones up to it."""
    height, width = images.shape[-2:]
    if height == width == size:
        return images
    if height >= size and width >= size:
        top, left = (height - size) // 2, (width - size) // 2
        return images[..., top : top + size, left : left + size]
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)


def load_network(name: str, *, weights: Path | None = None, device="cpu") -> TargetNetwork:
    """Build network ``name`` and load its weights from a local file.

    ``weights`` defaults to the spec's standard file (torch hub cache, or the project's trained
    demo file). A missing file raises FileNotFoundError and a file that does not fit the
    architecture raises ValueError; both name the file and say how to obtain the right one.
    """
    spec = get_network(name)
    path = Path(weights) if weights is not None else spec.weights_path()
    model = spec.builder()
    state = _read_state(path, spec)
    _load_state(model, _used(state, spec), path, spec)
    _layer_shapes_check(spec, model)
    for module in model.modules():
        if isinstance(getattr(module, "inplace", None), bool):
            module.inplace = False  # an in-place activation would overwrite what hooks took
    model.eval().requires_grad_(False)
    device = torch.device(device)
    return TargetNetwork(spec, model.to(device), device)


def _layer_shapes_check(spec: NetworkSpec, model: nn.Module) -> None:
    """ValueError where a registered layer is not what its entry says: a module the model has
    not, another number of units than its output has, or a conv layer whose output is a vector
    or an fc layer whose output is a map (its "units" would be channels x positions,
    flattened). From one forward pass of an input-sized image on the meta device (shapes only,
    no arithmetic), or where a module cannot run there, of the model itself at batch 1. A wrong
    entry would otherwise fail deep in a run, after its output folder was made, or address the
    wrong values without a word."""
    modules = dict(model.named_modules())
    for layer in spec.layers.values():
        missing = [name for name in layer.parts or (layer.module,) if name not in modules]
        if missing:
            raise ValueError(
                f"network {spec.name!r} registers layer {layer.alias!r} at module "
                f"{missing[0]!r}, which its model does not have"
            )
    shapes = layer_shapes(spec, model)
    for layer in spec.layers.values():
        shape = shapes.get(layer.alias)
        if shape is None:
            raise ValueError(
                f"network {spec.name!r} registers layer {layer.alias!r} at a module its forward "
                "pass does not run"
            )
        what = "x".join(map(str, shape))
        if layer.kind == "conv" and len(shape) != 3:
            raise ValueError(
                f"network {spec.name!r} registers layer {layer.alias!r} as conv, but its output "
                f"is a vector of {what}: register it as fc"
            )
        if layer.kind == "fc" and any(size != 1 for size in shape[1:]):
            raise ValueError(
                f"network {spec.name!r} registers layer {layer.alias!r} as fc, but its output "
                f"is a {what} map (channels x height x width): register it as conv, whose "
                "units are its channels"
            )
        if shape[0] != layer.units:
            raise ValueError(
                f"network {spec.name!r} registers layer {layer.alias!r} with {layer.units} "
                f"units, but its model gives {shape[0]} there"
            )


def layer_shapes(spec: NetworkSpec, model: nn.Module | None = None) -> dict[str, tuple[int, ...]]:
    """Each registered layer's output shape for one input-sized image, less the batch: from the
    meta device, or where it cannot run the network, from `model` (else one built here) at
    batch 1."""
    shapes: dict[str, tuple[int, ...]] = {}

    def take(layer: LayerSpec, output: Tensor) -> None:
        shapes[layer.alias] = tuple(output.shape[1:])

    def run(net: nn.Module, device: str) -> None:
        image = torch.zeros(1, 3, spec.input_size, spec.input_size, device=device)
        with layers_hooked(net, list(spec.layers.values()), take), torch.no_grad():
            net.eval()(image)

    try:
        with torch.device("meta"):
            probe = spec.builder()
        run(probe, "meta")
    except Exception:  # noqa: BLE001 - an operation without a meta kernel: run the real one
        shapes.clear()
        model = model if model is not None else spec.builder()
        training = model.training
        run(model, "cpu")
        model.train(training)
    return shapes


def _read_state(path: Path, spec: NetworkSpec) -> dict[str, Tensor]:
    weights_file_check(path, f"for network {spec.name!r}", spec.how_to_obtain)
    try:
        return unwrap_state_dict(checkpoint_read(path), path)
    except ValueError as error:
        raise ValueError(f"{error}. {spec.how_to_obtain}") from None


def weights_file_check(path: Path, whose: str, how_to_obtain: str) -> None:
    """FileNotFoundError when `path` is not a file: missing, or a folder given in its place."""
    if path.is_file():
        return
    problem = "is a folder, not a file" if path.is_dir() else "not found"
    raise FileNotFoundError(f"Weights file {whose} {problem}: {path}. {how_to_obtain}")


def checkpoint_read(path: Path):
    """What a PyTorch weights file holds, loaded as tensors only (nothing in it can run code);
    ValueError saying why a file cannot be read so, without torch's advice to load it unsafely.
    """
    try:
        with open(path, "rb") as stream:
            head = stream.read(40)
    except OSError as error:  # no read permission, say: a message, not a traceback
        raise ValueError(f"Cannot read weights file {path}: {error.strerror}") from None
    if head.startswith(b"version https://git-lfs"):
        raise ValueError(
            f"{path} is a Git LFS pointer, not the weights file itself: fetch the file "
            "(git lfs pull) or download it again"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for unreadable files
        unsafe = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
        if unsafe:
            raise ValueError(
                f"{path} holds Python objects besides tensors ({unsafe.group(1)}), which are "
                "not loaded since unpickling them could run code; save the state dict alone "
                "(torch.save(model.state_dict(), path)) where it was made"
            ) from None
        raise ValueError(
            f"Cannot read {path} as PyTorch weights: it is not a PyTorch checkpoint, or a "
            "damaged one (cut short in a copy or download?)"
        ) from None


def unwrap_state_dict(state, path: Path) -> dict[str, Tensor]:
    """The plain state dict inside common checkpoint layouts.

    Accepts a bare state dict, ``{"state_dict": ...}`` or ``{"model": ...}`` (Places-365 and
    training checkpoints), and strips the ``module.`` DataParallel adds (wherever it stands).
    """
    if not isinstance(state, dict):
        raise ValueError(
            f"{path} holds a {type(state).__name__}, not a state dict (a dict of tensors)"
        )
    for key in ("state_dict", "model"):
        if isinstance(state.get(key), dict):
            state = state[key]
    # CSAILVision wrapped only `features` in DataParallel: `features.module.0.weight`.
    return {re.sub(r"(^|\.)module\.", r"\1", k): v for k, v in state.items()}


def _used(state: dict[str, Tensor], spec: NetworkSpec) -> dict[str, Tensor]:
    """The state dict without the entries the network does not use (spec.unused_keys)."""
    if not spec.unused_keys:
        return state
    return {k: v for k, v in state.items() if not k.startswith(spec.unused_keys)}


def _load_state(model: nn.Module, state: dict, path: Path, spec: NetworkSpec) -> None:
    problems = state_dict_mismatch(model.state_dict(), state)
    if problems:
        hint = _fitting_hint(networks_fitting(state, but=spec.name), path)
        raise ValueError(
            f"Weights file {path} does not match network {spec.name!r}: {problems}.{hint} "
            f"{spec.how_to_obtain}"
        )
    model.load_state_dict(state, strict=True)


def _fitting_hint(fits: list[str], path: Path) -> str:
    """The sentence naming the networks a file fits. Where several do (CaffeNet and Caffe's
    AlexNet have the same parameters, in layers ordered otherwise), shapes cannot tell which
    the file was trained as: the one whose standard file has this file's name is named
    first, and the choice is left to the user."""
    if not fits:
        return ""
    fits = sorted(fits, key=lambda name: get_network(name).weights_file != Path(path).name)
    if len(fits) == 1:
        return f" It fits network {fits[0]!r}: give --network {fits[0]}."
    names = " and ".join(repr(name) for name in fits)
    return (
        f" It fits networks {names}, whose parameters have the same shapes: give --network "
        f"{fits[0]} or another of them, the one the file was trained as."
    )


def networks_fitting(state: dict[str, Tensor], *, but: str) -> list[str]:
    """The registered networks other than `but` whose parameters `state` fits (a Places-365
    file given for alexnet fits alexnet-places365). Each is built on the meta device: shapes
    only, no memory or time spent on weights."""
    fitting = []
    for name in available_networks():
        if name == but:
            continue
        spec = get_network(name)
        try:
            with torch.device("meta"):
                expected = spec.builder().state_dict()
        except Exception:  # noqa: BLE001 - a builder that cannot run on meta: no hint from it
            continue
        if not state_dict_mismatch(expected, _used(state, spec)):
            fitting.append(name)
    return fitting


def state_dict_mismatch(expected: dict[str, Tensor], found: dict[str, Tensor]) -> str:
    """A short description of how ``found`` differs from ``expected`` (keys, shapes, and
    floating parameters or buffers not stored as floats); "" when they fit."""

    def first(keys) -> str:
        keys = sorted(keys)
        return ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "")

    missing, unexpected = expected.keys() - found.keys(), found.keys() - expected.keys()
    common = [k for k in expected if k in found]
    shapes = [
        f"{k} is {tuple(found[k].shape)} in the file but {tuple(expected[k].shape)} in the network"
        for k in common
        if isinstance(found[k], Tensor) and tuple(found[k].shape) != tuple(expected[k].shape)
    ]
    # load_state_dict casts integers into a float parameter without a word, and the network
    # then computes garbage: a file saved with the wrong dtype is refused here instead.
    dtypes = [
        f"{k} is {_dtype_name(found[k])} in the file but {_dtype_name(expected[k])} in the network"
        for k in common
        if expected[k].is_floating_point()
        and not (isinstance(found[k], Tensor) and found[k].is_floating_point())
    ]
    parts = [f"{len(missing)} missing keys ({first(missing)})"] if missing else []
    parts += [f"{len(unexpected)} unexpected keys ({first(unexpected)})"] if unexpected else []
    return "; ".join(parts + shapes[:3] + dtypes[:3])


def _dtype_name(value) -> str:
    """The name of a tensor's dtype (float32); the type's name for anything else in a file."""
    if isinstance(value, Tensor):
        return str(value.dtype).removeprefix("torch.")
    return type(value).__name__


# --- Unit addressing -----------------------------------------------------------------------

# ASCII digits: \d would take "３" (full width) and other scripts' digits too.
_UNIT_ITEM = re.compile(r"^\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?$")


MAX_UNITS = 2**20  # more than any layer has; chain seeds leave room for this many


def parse_units(text: str) -> list[int]:
    """Units from "0-4095" or "1,5,9-12" (inclusive ranges), in the order given, no repeats."""
    units: list[int] = []
    for item in str(text).split(","):
        match = _UNIT_ITEM.match(item)
        if match is None:
            raise ValueError(f"Bad unit list {text!r}: use numbers and ranges like '1,5,9-12'")
        first, last = int(match[1]), int(match[2] if match[2] is not None else match[1])
        if last < first:
            raise ValueError(f"Bad unit range {item.strip()!r}: the end is below the start")
        if last >= MAX_UNITS:  # checked before expanding: "0-9999999999" must not fill memory
            raise ValueError(f"Unit {last} is out of range: no layer has {MAX_UNITS} units")
        units.extend(range(first, last + 1))
    return list(dict.fromkeys(units))


def check_units(layer: LayerSpec, units: Sequence[int]) -> None:
    """ValueError naming the first unit outside ``0 .. layer.units - 1``."""
    for unit in units:
        if not 0 <= int(unit) < layer.units:
            raise ValueError(
                f"Unit {unit} is out of range for layer {layer.alias!r}, "
                f"which has units 0-{layer.units - 1}"
            )


def layer_vector(act: Tensor, *, spatial: str = "centre") -> Tensor:
    """(B,units) values of a layer: fc as is; conv at the map's centre or its spatial max.

    The centre is position (H//2, W//2), the ppgn convention for conv units.
    """
    if act.dim() == 2:
        return act
    if spatial == "centre":
        return act[:, :, act.shape[2] // 2, act.shape[3] // 2]
    if spatial == "max":
        return act.flatten(2).amax(dim=2)
    raise ValueError(f"Unknown spatial mode {spatial!r}; use 'centre' or 'max'")


def unit_values(act: Tensor, units: Tensor, *, spatial: str = "centre") -> Tensor:
    """(B,) activation of chain b's own unit ``units[b]`` in layer output ``act``."""
    return layer_vector(act, spatial=spatial).gather(1, units.view(-1, 1)).squeeze(1)


# --- Registered networks ---------------------------------------------------------------------


@cache
def imagenet_classes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(human names, WordNet ids) of the 1000 ImageNet classes, from the bundled class index."""
    index = json.loads(CLASS_INDEX.read_text())
    rows = [index[str(i)] for i in range(len(index))]
    return tuple(name.replace("_", " ") for _, name in rows), tuple(wnid for wnid, _ in rows)
