"""Optional torch path: a unit's sorts on a GPU; the measures then run unchanged.

`rank_unit_torch` returns the same RankedUnit as `ranking.rank_unit` (same order, same tie
rule, same counts), with the two sorts and the per-position counts done by torch on `device`.
"""

import numpy as np
import torch

from analysis.selectivity.ranking import ClassLabels, RankedUnit, validate_unit


class DeviceLabels:
    """ClassLabels with a copy of the labels on a torch device, made once per file."""

    def __init__(self, labels: ClassLabels, device: str | torch.device):
        self.host = labels
        self.device = torch.device(device)
        self.labels = torch.from_numpy(labels.labels.astype(np.int64)).to(self.device)


def rank_unit_torch(
    activations: np.ndarray, labels: DeviceLabels, *, split_bottom: bool = True
) -> RankedUnit:
    """Rank one unit's activations (N,) with torch on the labels' device; see rank_unit."""
    activations = np.asarray(activations, dtype=np.float32)
    validate_unit(activations, labels.host)
    values = torch.from_numpy(activations).to(labels.device) + 0.0  # -0.0 -> 0.0
    order, active = _order(values, split_bottom)
    sorted_values, sorted_labels = values[order], labels.labels[order]
    ranked = RankedUnit(
        activations=sorted_values.cpu().numpy(),
        labels=labels.host.labels[order.cpu().numpy()],
        order=order.cpu().numpy(),
        class_sizes=labels.host.class_sizes,
        num_classes=labels.host.num_classes,
        active=active,
    )
    hits = _class_hits(sorted_labels[:active], labels.host.num_classes)
    return ranked.with_counts(
        class_hits=hits.cpu().numpy(), block_positives=_block_positives(sorted_values).cpu().numpy()
    )


def _order(values: torch.Tensor, split_bottom: bool) -> tuple[torch.Tensor, int]:
    """(N,) image indices, highest activation first, ties in image order; and the active count."""
    above = values > values.min() if split_bottom else torch.ones_like(values, dtype=torch.bool)
    indices = torch.nonzero(above).squeeze(1)
    _, permutation = torch.sort(values[indices], descending=True, stable=True)
    rest = torch.nonzero(~above).squeeze(1)
    return torch.cat([indices[permutation], rest]), int(indices.shape[0])


def _block_positives(sorted_values: torch.Tensor) -> torch.Tensor:
    """(N,) images at or above each position's activation (ties never split)."""
    last = torch.ones_like(sorted_values, dtype=torch.bool)
    last[:-1] = sorted_values[1:] != sorted_values[:-1]
    ends = torch.nonzero(last).squeeze(1)
    lengths = torch.diff(ends, prepend=ends.new_tensor([-1]))
    return torch.repeat_interleave(ends + 1, lengths)


def _class_hits(sorted_labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(A,) images of each position's class at or above it."""
    n = sorted_labels.shape[0]
    positions = torch.arange(n, device=sorted_labels.device)
    _, by_class = torch.sort(sorted_labels, stable=True)  # positions ascending within a class
    sizes = torch.bincount(sorted_labels, minlength=num_classes)
    class_start = torch.cumsum(sizes, 0) - sizes
    hits = torch.empty_like(positions)
    hits[by_class] = positions + 1 - class_start[sorted_labels[by_class]]
    return hits
