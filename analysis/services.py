"""State changes of the analysis app: storing selectivity scores."""

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

from django.db import transaction

from analysis.models import SelectivityScore
from analysis.selectivity.activations import ActivationFile, ActivationFileError
from analysis.selectivity.measures import MeasureSettings, UnitScores
from analysis.selectivity.pipeline import check_layers, layer_scores
from analysis.selectivity.table import read_scores_csv, write_scores_csv
from analysis.selectors import SCORE_FIELDS


def selectivity_compute(
    *,
    activations: Path,
    network: str,
    layers: Sequence[str] | None,
    settings: MeasureSettings,
    workers: int | None = None,
    device: str | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> list[dict]:
    """Compute every unit's scores in `layers` (default: all) of an activation file, then store
    them in one transaction; returns the stored records. Nothing is stored if any unit fails."""
    with ActivationFile(activations) as source:
        _check_network(source, network)
        layers = list(dict.fromkeys(layers or source.layer_names()))
        check_layers(source, layers)
        records = [
            scores_record(scores, network=network, layer=layer, compat=settings.conventions.name)
            for layer in layers
            for scores in layer_scores(
                source,
                layer,
                settings,
                workers=workers,
                device=device,
                progress=progress(layer, source.n_units(layer)) if progress else None,
            )
        ]
    scores_replace(records=records, source=str(activations))
    return records


def _check_network(source: ActivationFile, network: str) -> None:
    if source.network and source.network != network:
        raise ActivationFileError(
            f"{source.path} was recorded from network {source.network!r}, not {network!r}."
        )


def scores_record(scores: UnitScores, *, network: str, layer: str, compat: str) -> dict:
    """One unit's scores as a flat record keyed like SelectivityScore's fields."""
    return {"network": network, "layer": layer, "compat": compat, **asdict(scores)}


@transaction.atomic
def scores_replace(*, records: Iterable[dict], source: str) -> int:
    """Replace the stored scores of every (network, layer) in `records` by `records`, atomically."""
    records = list(records)
    for network, layer in {(r["network"], r["layer"]) for r in records}:
        SelectivityScore.objects.filter(network=network, layer=layer).delete()
    rows = [
        SelectivityScore(**{k: v for k, v in r.items() if k in SCORE_FIELDS}, source=source)
        for r in records
    ]
    SelectivityScore.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def selectivity_import(*, path: Path) -> int:
    """Load scores computed elsewhere from a CSV (validated first; all or nothing)."""
    return scores_replace(records=read_scores_csv(path), source=str(path))


def scores_export_csv(*, path: Path, records: Iterable[dict], settings: MeasureSettings) -> int:
    """Write score records to CSV with the settings that produced them beside it (.json)."""
    count = write_scores_csv(Path(path), records)
    sidecar = Path(path).with_suffix(".settings.json")
    sidecar.write_text(json.dumps(asdict(settings), indent=2) + "\n")
    return count
