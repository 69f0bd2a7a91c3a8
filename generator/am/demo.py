"""The demo network and its small fc6 generator, trained by the project on scikit-learn's digits.

The demo net mirrors AlexNet's layer names (conv1..conv5, fc6, fc7, fc8) at a tiny size so the
whole PPGN path runs end to end on a CPU with no downloads. Its generator inverts the net's
post-ReLU fc6 code, trained with DeePSiM's recipe in miniature: an image loss plus a feature loss
measured in the demo net's conv5 (no adversarial term). Both train deterministically in seconds.

Colour convention of the demo generator: RGB, scale [0, 1], no mean subtracted.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from generator.am.config import torch_threads
from generator.am.deepsim import (
    GeneratorSpec,
    ImageGenerator,
    get_generator,
    load_generator,
    register_generator,
)
from generator.am.networks import (
    LayerSpec,
    NetworkSpec,
    TargetNetwork,
    load_network,
    register_network,
)

DEMO_SIZE = 32  # side of the demo images (digits are 8x8, upsampled)
DEMO_NET_FILE = "demo_net.pt"
DEMO_GENERATOR_FILE = "demo_generator.pt"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def models_dir() -> Path:
    """Folder of the trained demo files: $AM_MODELS_DIR, else (unset or empty, which would be
    the current folder) var/models in the project."""
    return Path(os.environ.get("AM_MODELS_DIR") or PROJECT_ROOT / "var" / "models")


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
            "`python -m generator.am.train_demo` (or `make demo`), or pass --weights PATH."
        ),
        default_weights=lambda: models_dir() / DEMO_NET_FILE,
    )


class DemoGenerator(ImageGenerator):
    """DeePSiM in miniature: (B, 128) demo fc6 code -> (B, 3, 32, 32) RGB image in [0, 1]."""

    code_size = 128

    def __init__(self, code_size: int = 128):
        super().__init__()
        self.code_size = code_size
        self.defc7 = nn.Linear(code_size, 256)
        self.defc6 = nn.Linear(256, 256)
        self.defc5 = nn.Linear(256, 32 * 4 * 4)
        self.deconv3 = nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1)  # 8x8
        self.conv3_1 = nn.ConvTranspose2d(32, 32, 3, stride=1, padding=1)
        self.deconv2 = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1)  # 16x16
        self.deconv1 = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)  # 32x32
        self.deconv0 = nn.ConvTranspose2d(8, 3, 3, stride=1, padding=1)
        self.act = nn.LeakyReLU(0.3)

    def forward(self, h: Tensor) -> Tensor:
        x = self.act(self.defc5(self.act(self.defc6(self.act(self.defc7(h))))))
        x = x.view(-1, 32, 4, 4)
        for layer in (self.deconv3, self.conv3_1, self.deconv2, self.deconv1):
            x = self.act(layer(x))
        return self.deconv0(x)  # (B, 3, 32, 32) RGB on a [0, 1] scale

    def to_rgb(self, raw: Tensor) -> Tensor:
        return raw


register_generator(
    GeneratorSpec(
        name="demo",
        builder=DemoGenerator,
        encoder_networks=("demo",),
        encoder_layer="fc6",
        default_weights=lambda: models_dir() / DEMO_GENERATOR_FILE,
        how_to_obtain="The demo generator is trained by the project: run "
        "`python -m generator.am.train_demo` (or `make demo`), or pass --generator-weights PATH.",
    )
)


@dataclass(frozen=True)
class DemoTraining:
    """Settings of the demo training; the defaults take well under a minute on 2 CPU cores."""

    net_epochs: int = 12
    generator_epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    feature_weight: float = 1.0  # weight of the conv5 feature loss against the image loss
    shift: int = 3  # random translation (pixels) augmenting the training digits
    holdout: float = 0.2  # share of digits kept out of training to measure accuracy
    seed: int = 0


def _shifted(images: Tensor, shift: int, generator: torch.Generator) -> Tensor:
    """Each image translated by a random whole-pixel offset in [-shift, shift] (zero fill)."""
    if shift == 0:
        return images
    padded = F.pad(images, (shift,) * 4)
    dy, dx = torch.randint(0, 2 * shift + 1, (2,), generator=generator).tolist()
    return padded[..., dy : dy + images.shape[2], dx : dx + images.shape[3]]


def _batches(count: int, size: int, generator: torch.Generator):
    order = torch.randperm(count, generator=generator)
    return [order[i : i + size] for i in range(0, count, size)]


def _normalise(images: Tensor) -> Tensor:
    return (images - 0.5) / 0.5  # the demo spec's mean and std


def split_digits(settings: DemoTraining) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(train images, train labels, held-out images, held-out labels), a fixed seeded split."""
    images, labels = digits_dataset()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(settings.seed))
    cut = int(len(labels) * (1 - settings.holdout))
    train, test = order[:cut], order[cut:]
    return images[train], labels[train], images[test], labels[test]


def train_demo_net(images: Tensor, labels: Tensor, settings: DemoTraining) -> DemoNet:
    """Train the demo classifier with Adam and cross-entropy on shifted digits."""
    torch.manual_seed(settings.seed)
    rng = torch.Generator().manual_seed(settings.seed)
    net = DemoNet()
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.lr)
    for _ in range(settings.net_epochs):
        for batch in _batches(len(labels), settings.batch_size, rng):
            x = _normalise(_shifted(images[batch], settings.shift, rng))
            loss = F.cross_entropy(net(x), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return net.eval()


def accuracy(net: DemoNet, images: Tensor, labels: Tensor) -> float:
    """Share of ``images`` (RGB in [0,1]) that ``net`` classifies as their label."""
    with torch.no_grad():
        return (net(_normalise(images)).argmax(1) == labels).float().mean().item()


def _codes_and_features(net: DemoNet, x: Tensor) -> tuple[Tensor, Tensor]:
    """(post-ReLU fc6 code, post-ReLU conv5 features) of images x in [0,1]."""
    target = TargetNetwork(_demo(), net, torch.device("cpu"))
    acts = target.activations(target.preprocess(x), ["conv5", "fc6"], pre_relu=False)
    return acts["fc6"], acts["conv5"]


def train_demo_generator(net: DemoNet, images: Tensor, settings: DemoTraining) -> DemoGenerator:
    """Train G to invert the net's fc6 code: image MSE + conv5 feature MSE (DeePSiM's recipe)."""
    torch.manual_seed(settings.seed)
    rng = torch.Generator().manual_seed(settings.seed + 1)
    net = net.eval().requires_grad_(False)
    generator = DemoGenerator(net.fc6.out_features)
    optimiser = torch.optim.Adam(generator.parameters(), lr=settings.lr)
    for _ in range(settings.generator_epochs):
        for batch in _batches(len(images), settings.batch_size, rng):
            x = _shifted(images[batch], settings.shift, rng)
            code, features = _codes_and_features(net, x)
            out = generator(code)
            _, out_features = _codes_and_features(net, out)
            loss = F.mse_loss(out, x) + settings.feature_weight * F.mse_loss(out_features, features)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return generator.eval()


def train_demo(out_dir: Path | None = None, settings: DemoTraining = DemoTraining()) -> dict:
    """Train and save the demo net and generator; returns paths, accuracy and seconds taken."""
    out_dir = Path(out_dir) if out_dir is not None else models_dir()
    models_dir_prepare(out_dir)  # before the training, not after it
    started = time.perf_counter()
    train_x, train_y, test_x, test_y = split_digits(settings)
    with torch_threads(1):  # deterministic, and fastest for these tiny tensors
        net = train_demo_net(train_x, train_y, settings)
        generator = train_demo_generator(net, train_x, settings)
    _save_atomic(net.state_dict(), out_dir / DEMO_NET_FILE)
    _save_atomic(generator.state_dict(), out_dir / DEMO_GENERATOR_FILE)
    return {
        "net": out_dir / DEMO_NET_FILE,
        "generator": out_dir / DEMO_GENERATOR_FILE,
        "heldout_accuracy": accuracy(net, test_x, test_y),
        "seconds": time.perf_counter() - started,
    }


def models_dir_prepare(folder: Path) -> None:
    """Make `folder` and check that files can be written in it; ValueError saying why not."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file, not a folder for the demo files")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(
            f"the demo files cannot be written to {folder} ({error.strerror or error})"
        ) from None


def _save_atomic(state: dict, path: Path) -> None:
    """Save `state` to `path` through PATH.partial and a rename. A failed save (a full disk)
    leaves no .partial behind, which would hold the space a rerun needs, and is an OSError
    naming `path`: torch.save reports a full disk as a RuntimeError."""
    partial = path.with_suffix(path.suffix + ".partial")
    try:
        with open(partial, "wb") as stream:  # written by Python: its OSError says what failed
            torch.save(state, stream)
        partial.replace(path)
    except BaseException as error:
        partial.unlink(missing_ok=True)
        if not isinstance(error, (OSError, RuntimeError)):
            raise
        cause = error if isinstance(error, OSError) else error.__context__
        if isinstance(cause, OSError) and cause.strerror:
            raise OSError(cause.errno, cause.strerror, str(path)) from None
        raise OSError(f"{path} could not be saved ({error}); is its disk full?") from None


def load_demo(models: Path | None = None, device="cpu") -> tuple[TargetNetwork, ImageGenerator]:
    """The trained demo network and its generator, from ``models`` (default ``models_dir()``)."""
    folder = Path(models) if models is not None else models_dir()
    net = load_network("demo", weights=folder / DEMO_NET_FILE, device=device)
    generator = load_generator("demo", weights=folder / DEMO_GENERATOR_FILE, device=device)
    return net, generator


def demo_files_problems(models: Path | None = None) -> dict[Path, str]:
    """Why each demo file in `models` (default ``models_dir()``) that generate_panels could not
    load cannot be (missing, cut short, another network's weights...), found by loading it as
    generate_panels does; {} when both load. The reasons name the file, not how to mend it."""
    folder = Path(models) if models is not None else models_dir()
    problems = {}
    for path, load, how_to_obtain in (
        (folder / DEMO_NET_FILE, load_network, _demo().how_to_obtain),
        (folder / DEMO_GENERATOR_FILE, load_generator, get_generator("demo").how_to_obtain),
    ):
        try:
            load("demo", weights=path)
        except (ValueError, OSError) as error:
            problems[path] = str(error).removesuffix(f" {how_to_obtain}")
    return problems


def unusable_files_set_aside(problems: dict[Path, str]) -> list[tuple[str, Path]]:
    """Rename each demo file of `problems` (demo_files_problems) that is there to a free name
    beside it (demo_net.pt.unusable, then .unusable-2...), so that training again overwrites
    nothing of the user's; (problem, new path) for each. ValueError, saying which file, where
    one cannot be renamed."""
    moved = []
    for path, problem in problems.items():
        if not (path.exists() or path.is_symlink()):
            continue
        number, aside = 1, path.with_name(f"{path.name}.unusable")
        while aside.exists() or aside.is_symlink():
            number += 1
            aside = path.with_name(f"{path.name}.unusable-{number}")
        try:
            path.rename(aside)
        except OSError as error:
            raise ValueError(
                f"{problem} It cannot be moved aside ({error}): move or delete it"
            ) from None
        moved.append((problem, aside))
    return moved


def active_units(net: TargetNetwork, layer: str, count: int, min_share: float = 0.05) -> list[int]:
    """`count` units of `layer` that the digits drive, spread evenly over all such units.

    A unit counts when its post-ReLU value (a conv unit's spatial maximum) is above zero on at
    least `min_share` of the digits, so its selectivity is defined. The demo's training is
    seeded but rounds differently on other CPUs, so which units live is read from the weights.
    """
    images, _ = digits_dataset(net.spec.input_size)
    with torch.no_grad():
        values = net.activations(net.preprocess(images), [layer], pre_relu=False)[layer]
    if values.dim() == 4:
        values = values.amax(dim=(2, 3))
    alive = ((values > 0).float().mean(dim=0) >= min_share).nonzero().flatten().tolist()
    if len(alive) < count:
        raise ValueError(
            f"only {len(alive)} units of {layer} are active on {min_share:.0%} of the digits; "
            f"asked for {count}"
        )
    if count == 1:
        return alive[:1]
    return [alive[round(i * (len(alive) - 1) / (count - 1))] for i in range(count)]


if __name__ == "__main__":  # the command before train_demo.py had it: say where it went
    raise SystemExit("The demo is trained by: python -m generator.am.train_demo")
