"""Reads of the analysis app: stored selectivity scores, the selectivity and ratings reports."""

import json
import logging
from collections import defaultdict
from functools import cache
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from analysis.labels import (
    AgreementJudge,
    AgreementSettings,
    LabelMatcher,
    load_wordnet,
)
from analysis.labels_cache import labels_cache_load, labels_cache_save
from analysis.models import LabelAgreementOverride, SelectivityScore
from analysis.ratings.quality import QualitySettings
from analysis.ratings.report import RatingsReport, ratings_report_compute
from analysis.ratings.table1 import Table1Settings
from analysis.report_files import counted
from analysis.selectivity.report import SelectivityReport, selectivity_report_compute
from experiment.models import Experiment, Panel, Participant, Response
from experiment.selectors import participant_states
from generator.am.networks import NetworkSpec, get_network

SCORE_FIELDS = [
    f.name for f in SelectivityScore._meta.concrete_fields if f.name not in {"id", "computed_at"}
]


logger = logging.getLogger(__name__)
CLASS_INDEX = Path(__file__).resolve().parent.parent / "generator/am/data/imagenet_class_index.json"
PARTICIPANT_CHOICES = ("real", "synthetic", "all")


class RatingsInputError(ValueError):
    """The ratings cannot be analysed as asked; the message says what is missing."""


def registered_network(network: str) -> NetworkSpec | None:
    """The generator's spec of `network`; None for a network it does not register."""
    try:
        return get_network(network)
    except ValueError:
        return None


def imagenet_named_note(network: str) -> str:
    """Says that `network`, not registered, has its classes named as ImageNet's."""
    return (
        f"{network} is not a registered network: its classes are named as ImageNet's "
        "(generator/am/data/imagenet_class_index.json)"
    )


@cache
def labels_class_index(network: str = "") -> dict[int, tuple[str, str]]:
    """Output class index -> (agreement key, class name) of a network.

    The key is the class's WordNet id where the network has one (ImageNet classifiers), else the
    class name, judged like a participant's label (the demo's digits, Places-365): its part
    before a "/", what the class is ("arena/hockey" is an arena). A network the generator does
    not know (or none) is read as an ImageNet classifier (imagenet_named_note says so).
    """
    spec = registered_network(network)
    if spec is None:
        raw = json.loads(CLASS_INDEX.read_text())
        return {int(k): (wnid, name.replace("_", " ")) for k, (wnid, name) in raw.items()}
    pairs = zip(spec.class_ids, spec.class_names, strict=True)
    return {index: (wnid or name.split("/")[0], name) for index, (wnid, name) in enumerate(pairs)}


def labels_cache_path() -> Path:
    """Where label decisions are kept between runs (a cache: deleting it is harmless)."""
    return Path(settings.VAR_DIR) / "cache" / "label_agreement.json"


@cache
def labels_matcher(data_dir: str, agreement: AgreementSettings | None = None) -> LabelMatcher:
    """The matcher of this process, with the decisions stored by earlier runs."""
    matcher = LabelMatcher(lambda: load_wordnet(data_dir), agreement or AgreementSettings())
    labels_cache_load(matcher, labels_cache_path())
    return matcher


def labels_cache_store(matcher: LabelMatcher) -> None:
    """Keep new label decisions for the next run; a read-only disk only costs speed."""
    if matcher.cache_entries > matcher.saved_entries:
        try:
            labels_cache_save(matcher, labels_cache_path())
        except OSError as error:
            logger.warning("Label decisions not cached in %s: %s", labels_cache_path(), error)


def overrides_mapping() -> dict[tuple[str, str], bool]:
    """The researchers' decisions by sorted label pair."""
    return {(o.label_a, o.label_b): o.agree for o in LabelAgreementOverride.objects.all()}


def labels_judge() -> AgreementJudge:
    """Automatic agreement on the configured WordNet, with the stored overrides on top."""
    return AgreementJudge(labels_matcher(str(settings.NLTK_DATA_DIR)), overrides_mapping())


def ratings_participants(*, experiment: Experiment, participants: str = "real"):
    """The participants of one kind, excluded ones too (the report lists them, Table 1 does
    not); real and synthetic are only mixed when asked. Pilot runs are never analysed."""
    if participants not in PARTICIPANT_CHOICES:
        raise RatingsInputError(f"participants must be one of {PARTICIPANT_CHOICES}")
    chosen = experiment.participants.filter(is_pilot=False)
    if participants != "all":
        chosen = chosen.filter(is_synthetic=participants == "synthetic")
    return chosen


def ratings_participant_counts(*, experiment: Experiment) -> dict[str, int]:
    """How many real and synthetic participants answered at all (`*_answered`, excluded ones
    too) and not excluded (`real`, `synthetic`), and how many pilot runs answered (`pilots`,
    never analysed)."""
    answered = experiment.participants.annotate(n=Count("responses")).filter(n__gt=0)
    not_pilot = Q(is_pilot=False)
    return answered.aggregate(
        real_answered=Count("id", filter=not_pilot & Q(is_synthetic=False)),
        synthetic_answered=Count("id", filter=not_pilot & Q(is_synthetic=True)),
        real=Count("id", filter=not_pilot & Q(is_synthetic=False, excluded=False)),
        synthetic=Count("id", filter=not_pilot & Q(is_synthetic=True, excluded=False)),
        pilots=Count("id", filter=Q(is_pilot=True)),
    )


def unit_keys(frame: pd.DataFrame, unit_column: str = "unit") -> pd.Series:
    """The key of each unit in the analysis' tables: network|layer|unit."""
    number = frame[unit_column].astype("Int64").astype(str)
    return frame["network"] + "|" + frame["layer"] + "|" + number


def ratings_responses_frame(
    *, experiment: Experiment, participants: str = "real", states: dict[int, str] | None = None
) -> pd.DataFrame:
    """One row per response of the chosen participants, practice trials and excluded
    participants included (`is_practice`, `excluded`; `active`: the participant is still taking
    part, in progress within the hold time; `states`: participant_states, if already read;
    `created_at`, `consented_at`: when the server stored the answer and the participant's
    consent, for the server-side timing of the quality flags)."""
    judge_labels = labels_judge().matcher.labels
    rows = Response.objects.filter(
        participant__in=ratings_participants(experiment=experiment, participants=participants)
    ).values_list(
        "participant_id", "panel_id", "panel__network", "panel__layer", "panel__unit",
        "is_practice", "q1_yes", "q2_bin", "q3_first", "q3_second", "response_ms",
        "panel__source", "panel__intended_answer", "panel__intended_label",
        "participant__excluded", "created_at", "participant__consented_at",
    )  # fmt: skip
    frame = pd.DataFrame(
        rows,
        columns=["participant", "panel", "network", "layer", "unit_number", "is_practice", "yes",
                 "q2_bin", "q3_first", "q3_second", "response_ms", "source", "intended_answer",
                 "intended_label", "excluded", "created_at", "consented_at"],
    )  # fmt: skip
    frame["unit"] = unit_keys(frame, "unit_number")
    frame["labels"] = [
        judge_labels(a, b) for a, b in zip(frame.q3_first, frame.q3_second, strict=True)
    ]
    states = states if states is not None else participant_states(experiment=experiment)
    frame["active"] = frame["participant"].map(state_of(states)).eq("in_progress")
    for column in ("created_at", "consented_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.astype(
        {"q2_bin": float, "yes": bool, "is_practice": bool, "response_ms": float, "excluded": bool}
    )


def _class_key(network: str, index) -> str:
    """Agreement key (WordNet id, else class name) of a network's class index, '' when unknown."""
    if index is None or pd.isna(index):
        return ""
    return labels_class_index(network).get(int(index), ("", ""))[0]


def ratings_units_frame(*, experiment: Experiment) -> pd.DataFrame:
    """Each main unit of the experiment with its selectivity scores (NaN where none stored),
    and `outside_network`: why it is no unit of its registered network ('' where it is one)."""
    panels = Panel.objects.filter(experiment=experiment, is_practice=False)
    keys = pd.DataFrame(
        # Without order_by() the default ordering (id last) would make every panel distinct.
        panels.order_by().values_list("network", "layer", "unit").distinct(),
        columns=["network", "layer", "unit"],
    )
    scores = pd.DataFrame.from_records(
        SelectivityScore.objects.filter(network__in=set(keys.network)).values()
    )
    units = keys.merge(scores, on=["network", "layer", "unit"], how="left") if len(scores) else keys
    for column in ("most_active_class", "ccmas_class"):
        indices = units.get(column, pd.Series([None] * len(units)))
        units[column.replace("_class", "_wnid")] = [
            _class_key(network, index)
            for network, index in zip(units.network, indices, strict=True)
        ]
    units["outside_network"] = [
        unit_outside_network(network, layer, unit)
        for network, layer, unit in zip(units.network, units.layer, units.unit, strict=True)
    ]
    return units.set_axis(unit_keys(units).to_numpy())


def unit_outside_network(network: str, layer: str, unit) -> str:
    """Why (network, layer, unit) is no unit of the registered `network`: a layer it lacks or a
    unit beyond the layer's, which compute_selectivity would refuse; '' where it is one, or the
    network is not registered (nothing to check it against)."""
    spec = registered_network(network)
    if spec is None or unit is None or pd.isna(unit):
        return ""
    if layer not in spec.layers:
        return f"{network} has no layer {layer} (its layers: {', '.join(spec.layers)})"
    units = spec.layers[layer].units
    if not 0 <= int(unit) < units:
        return f"{network} {layer} has units 0-{units - 1}"
    return ""


def imagenet_classes_notes(units: pd.DataFrame) -> list[str]:
    """The networks of `units` (ratings_units_frame's rows) the generator does not register
    whose class indices were read as ImageNet's (labels_class_index): (d) and (e) then compare
    the labels with ImageNet's class names, which is right for an ImageNet classifier only."""
    indices = units.reindex(columns=["most_active_class", "ccmas_class"])
    read = sorted(set(units.loc[indices.notna().any(axis=1), "network"]))
    return [
        f"{imagenet_named_note(network)}: (d) and (e) compared the labels with the ImageNet "
        "class of each unit's class index. For a network with other classes, register it in "
        "the generator (docs/generator.md), so that its own class names are used."
        for network in read
        if registered_network(network) is None
    ]


def weights_mismatch_notes(*, experiment: Experiment) -> list[str]:
    """Layers whose selectivity was measured on other weights than their panels were made with
    (both digests recorded): units would be matched by number across two networks."""
    made: dict[tuple[str, str], set[str]] = defaultdict(set)
    panels = Panel.objects.filter(experiment=experiment, is_practice=False)
    for network, layer, metadata in panels.values_list("network", "layer", "metadata"):
        digests = ((metadata or {}).get("settings") or {}).get("weights_sha256") or {}
        if digests.get("target"):
            made[network, layer].add(digests["target"])
    measured: dict[tuple[str, str], set[str]] = defaultdict(set)
    scores = SelectivityScore.objects.filter(network__in={network for network, _ in made})
    for network, layer, digest in (
        scores.exclude(weights_sha256="")
        .values_list("network", "layer", "weights_sha256")
        .distinct()
    ):
        measured[network, layer].add(digest)
    return [
        f"{network} {layer}: its selectivity was measured on other weights (SHA-256 "
        f"{', '.join(d[:12] for d in sorted(measured[network, layer]))}) than its panels were "
        f"made with ({', '.join(d[:12] for d in sorted(made[network, layer]))}); record the "
        "activations again with the weights generate_panels used."
        for network, layer in sorted(made.keys() & measured.keys())
        if made[network, layer] != measured[network, layer]
    ]


def ratings_report_dir(
    *, experiment: Experiment, participants: str, anonymous: bool = False
) -> Path:
    """Where analyze_ratings writes by default: one folder per experiment, participant choice
    and anonymity, so a synthetic dry run never overwrites the real report, nor a report with
    participants' ids the one to publish."""
    kind = f"{participants}-anonymous" if anonymous else participants
    return Path(settings.VAR_DIR) / "analysis" / f"{experiment.slug}-{kind}"


def ratings_report(
    *,
    experiment: Experiment,
    participants: str = "real",
    table_settings: Table1Settings | None = None,
    quality_settings: QualitySettings | None = None,
) -> RatingsReport:
    """The whole ratings report of an experiment, with notes on the data it used."""
    counts = ratings_participant_counts(experiment=experiment)
    if participants == "real" and counts["real_answered"] == 0 and counts["synthetic"] > 0:
        raise RatingsInputError(
            f"{experiment.slug} has only synthetic participants ({counts['synthetic']}); "
            "analyse them with participants='synthetic' (--participants synthetic)."
        )
    states = participant_states(experiment=experiment)
    responses = ratings_responses_frame(
        experiment=experiment, participants=participants, states=states
    )
    judge = labels_judge()
    units = ratings_units_frame(experiment=experiment)
    report = ratings_report_compute(responses, units, judge, table_settings, quality_settings)
    report.notes.insert(0, _used_note(experiment, participants, counts, responses))
    report.notes += imagenet_classes_notes(units.loc[units.index.isin(unit_keys(report.units))])
    report.notes += weights_mismatch_notes(experiment=experiment)
    report.settings = {
        "experiment": experiment.slug, "participants": participants,
        "created": timezone.now().isoformat(timespec="seconds"), **report.settings,
    }  # fmt: skip
    labels_cache_store(judge.matcher)
    if len(report.quality):
        report.quality = _with_participant_ids(report.quality, states)
    return report


def _with_participant_ids(quality: pd.DataFrame, states: dict[int, str]) -> pd.DataFrame:
    """The quality table with each participant's external id, kind, state (`states`, from
    participant_states) and exclusion beside the database id."""
    fields = ["external_id", "is_synthetic", "excluded", "exclusion_reason"]
    known = pd.DataFrame(
        Participant.objects.filter(pk__in=quality["participant"]).values_list("pk", *fields),
        columns=["participant", *fields],
    )
    known.insert(3, "status", known["participant"].map(state_of(states)))
    return known.merge(quality, on="participant", how="right")


def state_of(states: dict[int, str]):
    """A participant's state in `states` (participant_states, read before the answers): one
    missing there entered since, so is taking part now, and is never flagged as done."""
    return lambda participant: states.get(participant, "in_progress")


def _used_note(experiment, participants, counts, responses) -> str:
    """Which participants the report used: those with main-trial answers (practice trials
    enter no table)."""
    included = responses.loc[~responses["excluded"]]
    used = included.loc[~included["is_practice"], "participant"].nunique()
    practice_only = included["participant"].nunique() - used
    excluded = responses.loc[responses["excluded"], "participant"].nunique()  # of those chosen
    kind = "" if participants == "all" else f" {participants}"
    practice = (
        f"; {practice_only} answered practice trials only, so "
        f"{'is' if practice_only == 1 else 'are'} in no table"
        if practice_only
        else ""
    )
    pilots = f"; pilot runs, never analysed: {counts['pilots']}" if counts["pilots"] else ""
    analysed = counted(used, f"{kind} participant".strip(), f"{kind} participants".strip())
    return (
        f"Experiment {experiment.slug}: {analysed} analysed "
        f"(answered: {counts['real_answered']} real, {counts['synthetic_answered']} synthetic; "
        f"{excluded}{kind} excluded and left out{practice}{pilots})."
    )


class SelectivityReportError(ValueError):
    """No stored scores for the network or layers asked; the message lists what is stored."""


def selectivity_layers(*, network: str) -> list[str]:
    """The layers of `network` with stored scores: in the network's own order where the
    generator knows it (conv5, fc6, fc7, fc8), other names after, alphabetically."""
    stored = set(SelectivityScore.objects.filter(network=network).values_list("layer", flat=True))
    try:
        known = [alias for alias in get_network(network).layers if alias in stored]
    except ValueError:
        known = []
    return known + sorted(stored - set(known))


def selectivity_scores_frame(*, network: str, layers: list[str] | None = None) -> pd.DataFrame:
    """The stored scores of the network's `layers` (default all), a row per unit, the layers
    in selectivity_layers' order; SelectivityReportError naming what is stored otherwise."""
    stored = selectivity_layers(network=network)
    if not stored:
        networks = sorted(set(SelectivityScore.objects.values_list("network", flat=True)))
        raise SelectivityReportError(
            f"No selectivity scores are stored for network {network!r} (stored: "
            f"{', '.join(networks) or 'none'}); run compute_selectivity or import_selectivity."
        )
    missing = [layer for layer in layers or [] if layer not in stored]
    if missing:
        raise SelectivityReportError(
            f"No selectivity scores are stored for {network} {', '.join(missing)}; stored layers: "
            f"{', '.join(stored)}."
        )
    chosen = [layer for layer in stored if not layers or layer in layers]
    rows = SelectivityScore.objects.filter(network=network, layer__in=chosen).values(*SCORE_FIELDS)
    frame = pd.DataFrame.from_records(rows, columns=SCORE_FIELDS)
    frame["layer"] = pd.Categorical(frame["layer"], categories=chosen, ordered=True)
    return frame.sort_values(["layer", "unit"]).astype({"layer": str}).reset_index(drop=True)


def selectivity_report(
    *, network: str, layers: list[str] | None = None, top: int = 1
) -> SelectivityReport:
    """The selectivity report (paper section 3.1) of a network's stored scores."""
    names = labels_class_index(network)
    report = selectivity_report_compute(
        selectivity_scores_frame(network=network, layers=layers),
        network=network,
        class_name=lambda index: names.get(index, ("", f"class {index}"))[1],
        top=top,
    )
    report.settings["created"] = timezone.now().isoformat(timespec="seconds")
    if registered_network(network) is None:
        report.notes.append(f"{imagenet_named_note(network)}.")
    return report


def selectivity_report_dir(*, network: str) -> Path:
    """Where selectivity_report writes by default: one folder per network."""
    return Path(settings.VAR_DIR) / "analysis" / f"selectivity-{network}"
