"""The demo network and its small fc6 generator, trained by the project on scikit-learn's digits.

The demo net mirrors AlexNet's layer names (conv1..conv5, fc6, fc7, fc8) at a tiny size so the
whole PPGN path runs end to end on a CPU with no downloads. Its generator inverts the net's
post-ReLU fc6 code, trained with DeePSiM's recipe in miniature: an image loss plus a feature loss
measured in the demo net's conv5 (no adversarial term). Both train deterministically in seconds.

Colour convention of the demo generator: RGB, scale [0, 1], no mean subtracted.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from generator.am.networks import LayerSpec, NetworkSpec, register_network

DEMO_SIZE = 32  # side of the demo images (digits are 8x8, upsampled)
DEMO_NET_FILE = "demo_net.pt"
DEMO_GENERATOR_FILE = "demo_generator.pt"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def models_dir() -> Path:
    """Folder of the trained demo files: $AM_MODELS_DIR, else var/models in the project."""
    return Path(os.environ.get("AM_MODELS_DIR", PROJECT_ROOT / "var" / "models"))


def digits_dataset(size: int = DEMO_SIZE) -> tuple[Tensor, Tensor]:
    """scikit-learn's 1797 handwritten digits as the demo network sees them.

    Returns images (N,3,size,size) float RGB in [0,1] (grey, bright ink on black, bilinearly
    upsampled from 8x8) and labels (N,) long.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N,1,8,8)
    images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return images.clamp(0, 1).repeat(1, 3, 1, 1), torch.tensor(digits.target, dtype=torch.long)


class DemoNet(nn.Module):
    """A small AlexNet-shaped classifier of 32x32 digits: five convs, three fc layers."""

    def __init__(self, widths=(8, 16, 32, 32, 32), fc=(128, 64), classes: int = 10):
        super().__init__()
        w1, w2, w3, w4, w5 = widths
        self.conv1 = nn.Conv2d(3, w1, 3, padding=1)  # 32x32
        self.conv2 = nn.Conv2d(w1, w2, 3, padding=1)  # 16x16
        self.conv3 = nn.Conv2d(w2, w3, 3, padding=1)  # 8x8
        self.conv4 = nn.Conv2d(w3, w4, 3, padding=1)
        self.conv5 = nn.Conv2d(w4, w5, 3, padding=1)
        self.fc6 = nn.Linear(w5 * 4 * 4, fc[0])
        self.fc7 = nn.Linear(fc[0], fc[1])
        self.fc8 = nn.Linear(fc[1], classes)
        self.dropout = nn.Dropout(0.3)

    def forward(self, x: Tensor) -> Tensor:  # (B,3,32,32) normalised -> (B,10) logits
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv4(F.relu(self.conv3(x))))
        x = F.max_pool2d(F.relu(self.conv5(x)), 2).flatten(1)  # (B, 512)
        x = self.dropout(F.relu(self.fc6(x)))
        return self.fc8(self.dropout(F.relu(self.fc7(x))))


@register_network("demo")
def _demo() -> NetworkSpec:
    net = DemoNet()
    layers = [
        LayerSpec("conv5", "conv5", "conv", net.conv5.out_channels),
        LayerSpec("fc6", "fc6", "fc", net.fc6.out_features),
        LayerSpec("fc7", "fc7", "fc", net.fc7.out_features),
        LayerSpec("fc8", "fc8", "fc", net.fc8.out_features, rectified_after=False),
    ]
    return NetworkSpec(
        name="demo",
        layers={layer.alias: layer for layer in layers},
        input_size=DEMO_SIZE,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        num_classes=10,
        class_names=DIGIT_NAMES,
        class_ids=("",) * 10,
        builder=DemoNet,
        weights_file=DEMO_NET_FILE,
        how_to_obtain=(
            "The demo network is trained by the project: run "
            "`python -m generator.am.demo` (or `make demo`), or pass --weights PATH."
        ),
        default_weights=lambda: models_dir() / DEMO_NET_FILE,
    )
