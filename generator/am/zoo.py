"""The built-in target networks: torchvision AlexNet, VGG-16, GoogLeNet, Places-365 AlexNet,
and Caffe's AlexNets (CaffeNet, the network ppgn and the paper used).

Each is registered with its layer aliases and the standard weights file it loads from the torch
hub cache. Another torchvision classifier is added the same way: a function returning its
``NetworkSpec``, decorated with ``@register_network(name)``.
"""

from functools import cache
from pathlib import Path

import torch
from torch import nn

from generator.am.deepsim import CAFFE_MEAN_BGR
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


def imagenet_spec(name, layers, builder, file_name, enum_name, **extra) -> NetworkSpec:
    """The spec of a torchvision ImageNet classifier: 224 px input (or `input_size=`), ImageNet
    mean, std and classes, its standard file `file_name` in the torch hub cache and advice on
    obtaining it from `enum_name` (e.g. "ResNet18_Weights.IMAGENET1K_V1"); `extra`: other
    NetworkSpec fields. For registering one more (docs/generator.md)."""
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

    return imagenet_spec(
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
    return imagenet_spec(
        "vgg16",
        layers,
        lambda: vgg16(weights=None),
        "vgg16-397923af.pth",
        "VGG16_Weights.IMAGENET1K_V1",
    )


@register_network("googlenet")
def _googlenet() -> NetworkSpec:
    from torchvision.models import googlenet

    # An Inception block's output concatenates four branches, each ending in batch norm and an
    # in-place ReLU: its pre-ReLU value is the four batch norms' outputs, concatenated.
    branches = ("branch1", "branch2.1", "branch3.1", "branch4.1")
    parts = tuple(f"inception4e.{branch}.bn" for branch in branches)
    layers = [
        LayerSpec("inception4e", "inception4e", "conv", 832, parts=parts),
        LayerSpec("output", "fc", "fc", 1000, rectified_after=False),
    ]
    return imagenet_spec(
        "googlenet",
        layers,
        lambda: googlenet(weights=None, aux_logits=False, transform_input=True, init_weights=False),
        "googlenet-1378be20.pth",
        "GoogLeNet_Weights.IMAGENET1K_V1",
        # The standard file holds the auxiliary classifiers, used only in training; a state
        # dict saved from torchvision's loaded model does not.
        unused_keys=("aux1.", "aux2."),
    )


# The category list of the CSAILVision places365 release (MIT License), byte for byte.
PLACES365_CATEGORIES = Path(__file__).parent / "data" / "categories_places365.txt"


@cache
def places365_classes() -> tuple[str, ...]:
    """The Places-365 categories in output order, as the release names them without the
    initial's folder and with spaces: "/a/arena/hockey 15" is class 15, "arena/hockey"."""
    names = {}
    for line in PLACES365_CATEGORIES.read_text().splitlines():
        path, index = line.rsplit(" ", 1)
        names[int(index)] = path[len("/a/") :].replace("_", " ")
    return tuple(names[index] for index in range(len(names)))


def _places_spec(name: str, builder, layers, file_name: str) -> NetworkSpec:
    return NetworkSpec(
        name=name,
        layers={layer.alias: layer for layer in layers},
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=365,
        class_names=places365_classes(),
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


class CaffeAlexNet(nn.Module):
    """Caffe's AlexNet, layer for layer, so converted Caffe weights load by layer name.

    Input: 227x227 BGR on a 0-255 scale minus the ImageNet mean (the spec's preprocessing).
    conv1 96 (k11 s4) -> conv2 256 (k5 p2, 2 groups) -> conv3 384 (k3 p1) -> conv4 384 (2 groups)
    -> conv5 256 (2 groups) -> max-pool -> fc6 4096 -> fc7 4096 -> fc8; ReLU after every layer
    but fc8; max-pooling 3/2 and local response normalisation (5 channels, alpha 1e-4, beta 0.75)
    after conv1 and conv2. ``pool_first``: bvlc_reference_caffenet (ppgn's CaffeNet) pools,
    then normalises; bvlc_alexnet normalises, then pools.
    """

    def __init__(self, num_classes: int = 1000, pool_first: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # Caffe rounds pooling sizes up
        self.norm = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(0.5)
        self.pool_first = pool_first

    def forward(self, x):
        for conv in (self.conv1, self.conv2):
            x = self.relu(conv(x))
            x = self.norm(self.pool(x)) if self.pool_first else self.pool(self.norm(x))
        x = self.relu(self.conv4(self.relu(self.conv3(x))))
        x = torch.flatten(self.pool(self.relu(self.conv5(x))), 1)  # Caffe's C, H, W order
        x = self.dropout(self.relu(self.fc6(x)))
        x = self.dropout(self.relu(self.fc7(x)))
        return self.fc8(x)


def _caffe_spec(name: str, caffe_model: str, pool_first: bool) -> NetworkSpec:
    names, ids = imagenet_classes()  # Caffe's synset order is torchvision's
    file_name = f"{caffe_model}.pth"
    return NetworkSpec(
        name=name,
        layers={
            layer.alias: layer
            for layer in (
                LayerSpec("conv5", "conv5", "conv", 256),
                LayerSpec("fc6", "fc6", "fc", 4096),
                LayerSpec("fc7", "fc7", "fc", 4096),
                LayerSpec("fc8", "fc8", "fc", 1000, rectified_after=False),
            )
        },
        input_size=227,
        mean=tuple(value / 255 for value in reversed(CAFFE_MEAN_BGR)),
        std=(1 / 255,) * 3,
        bgr=True,
        num_classes=1000,
        class_names=names,
        class_ids=ids,
        builder=lambda: CaffeAlexNet(pool_first=pool_first),
        weights_file=file_name,
        how_to_obtain=(
            f"Convert Caffe's {caffe_model}.caffemodel (BVLC model zoo) to a PyTorch state dict "
            "keyed by its layer names (conv1.weight ... fc8.bias, e.g. with caffemodel2pytorch), "
            f"save it as {file_name} in {Path(torch.hub.get_dir()) / 'checkpoints'}, or pass "
            "--weights PATH."
        ),
    )


@register_network("caffenet")
def _caffenet() -> NetworkSpec:
    return _caffe_spec("caffenet", "bvlc_reference_caffenet", pool_first=True)


@register_network("caffe-alexnet")
def _caffe_alexnet() -> NetworkSpec:
    return _caffe_spec("caffe-alexnet", "bvlc_alexnet", pool_first=False)
