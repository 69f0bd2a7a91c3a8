"""Small real activation files for the selectivity tests, written with the project's writer."""

from pathlib import Path

import numpy as np

from analysis.selectivity.activation_writer import ActivationWriter
from analysis.selectivity.activations import RecordingHeader


def write_activation_file(
    path: Path,
    activations: dict[str, np.ndarray],
    labels: np.ndarray,
    network: str = "demo",
    pre_relu: bool = False,
) -> Path:
    """An activation file holding `activations` (layer -> (N, units)) for images of `labels`."""
    num_classes = int(labels.max()) + 1
    header = RecordingHeader(
        network=network,
        layers={alias: ("fc", values.shape[1]) for alias, values in activations.items()},
        reduction="max",
        num_classes=num_classes,
        class_names=tuple(f"class {i}" for i in range(num_classes)),
        source="synthetic",
        pre_relu=pre_relu,
    )
    writer = ActivationWriter(path, header)
    ids = [f"synthetic:{i}" for i in range(len(labels))]
    writer.append(labels, labels, ids, activations, images_seen=len(labels))
    writer.close(total=len(labels))
    return path


def random_units(n_images=300, n_units=6, num_classes=5, seed=0):
    """(labels (N,), activations (N, units)) with ties at zero and one selective unit."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_images) % num_classes
    values = np.maximum(rng.normal(0, 1, (n_images, n_units)), 0).astype(np.float32)
    values[:, 0] += (labels == 2) * 3  # unit 0 prefers class 2
    return labels, values
