"""The built-in target networks: torchvision AlexNet, VGG-16, GoogLeNet and Places-365 AlexNet.

Each is registered with its layer aliases and the standard weights file it loads from the torch
hub cache. Another torchvision classifier is added the same way: a function returning its
``NetworkSpec``, decorated with ``@register_network(name)``.
"""

from pathlib import Path

import torch
from torch import nn

from generator.am.networks import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LayerSpec,
    NetworkSpec,
    imagenet_classes,
    register_network,
)


def _torchvision_obtain(file_name: str, weights_enum: str) -> str:
    return (
        f"Expected the standard torchvision file {file_name} in "
        f"{Path(torch.hub.get_dir()) / 'checkpoints'}; obtain it on a machine with internet "
        f"(e.g. torchvision.models.{weights_enum}.get_state_dict(progress=True) downloads it "
        "there) and copy it here, or pass --weights PATH."
    )


def _imagenet_spec(name, layers, builder, file_name, enum_name, **extra) -> NetworkSpec:
    names, ids = imagenet_classes()
    return NetworkSpec(
        name=name,
        layers={layer.alias: layer for layer in layers},
        input_size=extra.pop("input_size", 224),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=1000,
        class_names=names,
        class_ids=ids,
        builder=builder,
        weights_file=file_name,
        how_to_obtain=_torchvision_obtain(file_name, enum_name),
        **extra,
    )


def _alexnet_layers(classes: int) -> list[LayerSpec]:
    return [
        LayerSpec("conv5", "features.10", "conv", 256),
        LayerSpec("fc6", "classifier.1", "fc", 4096),
        LayerSpec("fc7", "classifier.4", "fc", 4096),
        LayerSpec("fc8", "classifier.6", "fc", classes, rectified_after=False),
    ]


@register_network("alexnet")
def _alexnet() -> NetworkSpec:
    from torchvision.models import alexnet

    return _imagenet_spec(
        "alexnet",
        _alexnet_layers(1000),
        lambda: alexnet(weights=None),
        "alexnet-owt-7be5be79.pth",
        "AlexNet_Weights.IMAGENET1K_V1",
    )


@register_network("vgg16")
def _vgg16() -> NetworkSpec:
    from torchvision.models import vgg16

    layers = [
        LayerSpec("conv5_3", "features.28", "conv", 512),
        LayerSpec("fc6", "classifier.0", "fc", 4096),
        LayerSpec("fc7", "classifier.3", "fc", 4096),
        LayerSpec("fc8", "classifier.6", "fc", 1000, rectified_after=False),
    ]
    return _imagenet_spec(
        "vgg16",
        layers,
        lambda: vgg16(weights=None),
        "vgg16-397923af.pth",
        "VGG16_Weights.IMAGENET1K_V1",
    )


def _drop_googlenet_aux(model: nn.Module) -> None:
    # The standard file holds the auxiliary classifiers; they are not used for AM.
    model.aux_logits, model.aux1, model.aux2 = False, None, None


@register_network("googlenet")
def _googlenet() -> NetworkSpec:
    from torchvision.models import googlenet

    layers = [
        # Inception outputs concatenate ReLU branches, so they are already rectified.
        LayerSpec("inception4e", "inception4e", "conv", 832, rectified_after=False),
        LayerSpec("output", "fc", "fc", 1000, rectified_after=False),
    ]
    return _imagenet_spec(
        "googlenet",
        layers,
        lambda: googlenet(weights=None, aux_logits=True, transform_input=True, init_weights=False),
        "googlenet-1378be20.pth",
        "GoogLeNet_Weights.IMAGENET1K_V1",
        after_load=_drop_googlenet_aux,
    )


def _places_spec(name: str, builder, layers, file_name: str) -> NetworkSpec:
    return NetworkSpec(
        name=name,
        layers={layer.alias: layer for layer in layers},
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=365,
        # Places-365 category names are not bundled; classes are known by their index.
        class_names=tuple(f"places365 class {i}" for i in range(365)),
        class_ids=("",) * 365,
        builder=builder,
        weights_file=file_name,
        how_to_obtain=(
            f"Expected the Places-365 checkpoint {file_name} (CSAILVision places365 release, "
            "PyTorch format) in the torch hub checkpoints folder; copy it there or pass "
            "--weights PATH."
        ),
    )


@register_network("alexnet-places365")
def _alexnet_places() -> NetworkSpec:
    from torchvision.models import alexnet

    return _places_spec(
        "alexnet-places365",
        lambda: alexnet(weights=None, num_classes=365),
        _alexnet_layers(365),
        "alexnet_places365.pth.tar",
    )
