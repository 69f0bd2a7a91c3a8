"""Response-level arrays for Table 1: who answered what, and which labels agree.

`responses` has one row per main-trial response: participant, unit (a key into `units`),
yes (bool) and labels (tuple of normalised labels). `units` is indexed by the same key and has
network, layer and the WordNet ids most_active_wnid and ccmas_wnid (empty when unknown).
"""

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from analysis.labels import AgreementJudge


@dataclass
class AgreementArrays:
    """Everything the estimators need, as flat arrays over R responses and P label pairs."""

    unit: np.ndarray  # (R,) index into units
    participant: np.ndarray  # (R,) participant index 0..n_participants-1
    yes: np.ndarray  # (R,) float 0/1
    pair_unit: np.ndarray  # (P,) unit of a pair of labelled 'yes' responses to one unit
    pair_first: np.ndarray  # (P,) response index
    pair_second: np.ndarray  # (P,) response index
    pair_agree: np.ndarray  # (P,) float 0/1
    agree_most_active: np.ndarray  # (R,) float 0/1, NaN when unlabelled or class unknown
    agree_ccmas: np.ndarray  # (R,) float 0/1, NaN when unlabelled or class unknown
    unit_layer: np.ndarray  # (U,) layer-group index of each unit
    layers: list  # (G,) (network, layer) of each layer group
    participants: np.ndarray  # (n_participants,) the original participant ids

    @property
    def n_units(self) -> int:
        return len(self.unit_layer)


def _class_agreement(judge, labels, unit, yes, wnids) -> np.ndarray:
    """1/0 whether a labelled 'yes' agrees with its unit's class, NaN when not decidable."""
    out = np.full(len(labels), np.nan)
    for r, (response_labels, u) in enumerate(zip(labels, unit, strict=True)):
        if yes[r] and response_labels and wnids[u]:
            out[r] = float(judge.any_agree(response_labels, (wnids[u],)))
    return out


def _pairs(judge, labels, unit, yes, participant):
    """All pairs of labelled 'yes' responses of two participants to the same unit, with their
    agreement: one participant's two answers to a unit (two panels of it) are no agreement
    between people."""
    by_unit: dict[int, list[int]] = {}
    for r in np.flatnonzero(yes):
        if labels[r]:
            by_unit.setdefault(int(unit[r]), []).append(int(r))
    rows = [
        (u, i, j, float(judge.any_agree(labels[i], labels[j])))
        for u, members in by_unit.items()
        for i, j in combinations(members, 2)
        if participant[i] != participant[j]
    ]
    table = np.array(rows, dtype=float).reshape(-1, 4)
    return table[:, 0].astype(int), table[:, 1].astype(int), table[:, 2].astype(int), table[:, 3]


def agreement_arrays(
    responses: pd.DataFrame, units: pd.DataFrame, judge: AgreementJudge
) -> AgreementArrays:
    """Index the responses by unit and participant and decide every label agreement once."""
    unit = units.index.get_indexer(responses["unit"])
    if (unit < 0).any():
        missing = sorted(set(responses["unit"][unit < 0]))[:5]
        raise ValueError(f"responses to units missing from the unit table, e.g. {missing}")
    participants, participant = np.unique(responses["participant"].to_numpy(), return_inverse=True)
    yes = responses["yes"].to_numpy(dtype=float)
    labels = list(responses["labels"])
    groups = units[["network", "layer"]].apply(tuple, axis=1)
    layers = list(dict.fromkeys(groups))
    pair_unit, first, second, pair_agree = _pairs(judge, labels, unit, yes > 0, participant)
    active = units["most_active_wnid"].fillna("").to_numpy()
    ccmas = units["ccmas_wnid"].fillna("").to_numpy()
    return AgreementArrays(
        unit=unit,
        participant=participant,
        yes=yes,
        pair_unit=pair_unit,
        pair_first=first,
        pair_second=second,
        pair_agree=pair_agree,
        agree_most_active=_class_agreement(judge, labels, unit, yes, active),
        agree_ccmas=_class_agreement(judge, labels, unit, yes, ccmas),
        unit_layer=np.array([layers.index(g) for g in groups], dtype=int),
        layers=layers,
        participants=participants,
    )
