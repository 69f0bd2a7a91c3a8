"""Reads of the analysis app: stored selectivity scores."""

from django.db.models import QuerySet

from analysis.models import SelectivityScore

SCORE_FIELDS = [
    f.name for f in SelectivityScore._meta.concrete_fields if f.name not in {"id", "computed_at"}
]


def selectivity_scores(*, network: str | None = None, layer: str | None = None) -> QuerySet:
    """Stored scores, optionally of one network and layer, ordered by network, layer, unit."""
    scores = SelectivityScore.objects.all()
    if network:
        scores = scores.filter(network=network)
    if layer:
        scores = scores.filter(layer=layer)
    return scores.order_by("network", "layer", "unit")


def selectivity_records(*, network: str | None = None, layer: str | None = None) -> list[dict]:
    """Stored scores as flat records (the CSV columns)."""
    return list(selectivity_scores(network=network, layer=layer).values(*SCORE_FIELDS))
