"""State changes of the analysis app: selectivity scores, label overrides, simulated data."""

import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np
from django.db import transaction
from django.db.models import Count

from analysis.labels import WNID_PATTERN, cleaned_labels, pair_key
from analysis.models import LabelAgreementOverride, SelectivityScore
from analysis.ratings.report import RatingsReport, ratings_report_anonymise, ratings_report_save
from analysis.ratings.simulation import (
    SimulationSettings,
    simulate_answers,
    unit_interpretability,
)
from analysis.ratings.table1 import Table1Settings
from analysis.selectivity.activations import ActivationFile, ActivationFileError
from analysis.selectivity.measures import MeasureSettings, UnitScores
from analysis.selectivity.pipeline import check_layers, layer_scores
from analysis.selectivity.table import (
    NetworkShape,
    ScoreTableError,
    read_scores_csv,
    scores_csv_replaceable,
    write_scores_csv,
)
from analysis.selectors import (
    SCORE_FIELDS,
    labels_class_index,
    labels_judge,
    ratings_report,
    registered_network,
)
from experiment.export import participant_pseudonym, pseudonym_key
from experiment.files import file_in_the_way, replaced_whole
from experiment.models import Experiment, Panel, Participant, Response, TrialList
from experiment.selectors import participant_state
from experiment.services import experiment_lists_locked, trial_order_new


def selectivity_compute(
    *,
    activations: Path,
    network: str,
    layers: Sequence[str] | None,
    settings: MeasureSettings,
    workers: int | None = None,
    device: str | None = None,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    notice: Callable[[str], None] | None = None,
) -> list[dict]:
    """Compute every unit's scores in `layers` (default: all) of an activation file, then store
    them in one transaction; returns the stored records. Nothing is stored if any unit fails.

    Only correctly classified images are measured (ActivationFile leaves the others out);
    `notice` is told how many were left out, if any.
    """
    with ActivationFile(activations) as source:
        layers = list(dict.fromkeys(layers or source.layer_names()))
        check_layers(source, layers)
        _check_network(source, network, layers)
        if source.misclassified and notice:
            notice(_misclassified_notice(source))
        records = [
            scores_record(
                scores,
                network=network,
                layer=layer,
                compat=settings.conventions.name,
                weights_sha256=source.weights_sha256,
                reduction=source.layer_reduction(layer),
                pre_relu=_recorded_pre_relu(source, network, layer),
            )  # fmt: skip
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
    scores_replace(records=records, source=str(activations), notice=notice)
    return records


def _recorded_pre_relu(source: ActivationFile, network: str, layer: str) -> bool | None:
    """Whether a layer's values were taken before its ReLU; None where the file does not say,
    or where it makes no difference (a layer its registered network has no ReLU after: fc8's
    logits are the same either way, so they compare with any layer)."""
    spec = registered_network(network)
    if spec is not None and layer in spec.layers and not spec.layers[layer].rectified_after:
        return None
    return source.pre_relu


def _misclassified_notice(source: ActivationFile) -> str:
    return (
        f"Left out {source.misclassified} of {source.rows} images of {source.path} that the "
        f"network misclassified (/predictions differs from /labels): the measures use the "
        f"{source.rows - source.misclassified} correctly classified images, as the paper does."
    )


def _check_network(source: ActivationFile, network: str, layers: Sequence[str]) -> None:
    """Refuse a file that does not fit `network` as the generator registers it: its classes
    (1-based labels, or TF-slim's background class 0, would put every class one off), its
    layer aliases and their unit counts. A network the generator does not register is taken
    as the file says."""
    if source.network and source.network != network:
        raise ActivationFileError(
            f"{source.path} was recorded from network {source.network!r}, not {network!r}."
        )
    spec = registered_network(network)
    if spec is None:
        return
    problems = _class_problems(source, network, spec.num_classes)
    for layer in layers:
        if layer not in spec.layers:
            problems.append(
                f"layer {layer} is not a layer of {network}, whose layers are "
                f"{', '.join(spec.layers)}"
            )
        elif (units := source.n_units(layer)) != spec.layers[layer].units:
            problems.append(
                f"layer {layer} has {units} units, but {network}'s {layer} has "
                f"{spec.layers[layer].units}"
            )
    if problems:
        raise ActivationFileError(
            f"{source.path} does not fit network {network}: {'; '.join(problems)}. Record it "
            f"with record_activations --network {network}, or give the network it was "
            "recorded from."
        )


def _class_problems(source: ActivationFile, network: str, count: int) -> list[str]:
    """What in the file's classes the network lacks (its classes are 0 to count - 1)."""
    highest = int(source.labels.max())
    if highest >= count:
        return [
            f"label {highest} is not a class of {network}, whose classes are 0-{count - 1} "
            "(labels are 0-based class indices: subtract 1 from 1-based ones, and leave out "
            "a background class 0)"
        ]
    if source.num_classes > count:
        return [f"num_classes is {source.num_classes}, but {network} has {count} classes"]
    return []


def scores_record(
    scores: UnitScores,
    *,
    network: str,
    layer: str,
    compat: str,
    weights_sha256: str = "",
    reduction: str = "",
    pre_relu: bool | None = None,
) -> dict:
    """One unit's scores as a flat record keyed like SelectivityScore's fields."""
    return {
        "network": network, "layer": layer, "compat": compat, "weights_sha256": weights_sha256,
        "reduction": reduction, "pre_relu": pre_relu, **asdict(scores),
    }  # fmt: skip


@transaction.atomic
def scores_replace(
    *, records: Iterable[dict], source: str, notice: Callable[[str], None] | None = None
) -> int:
    """Replace the stored scores of every (network, layer) in `records` by `records`, atomically;
    `notice` is told how many stored scores each layer loses and where they came from."""
    records = list(records)
    for network, layer in sorted({(r["network"], r["layer"]) for r in records}):
        stored = SelectivityScore.objects.filter(network=network, layer=layer)
        if notice and (replaced := _replaced_notice(stored, network, layer)):
            notice(replaced)
            new = {r["unit"] for r in records if (r["network"], r["layer"]) == (network, layer)}
            if lost := sorted(set(stored.values_list("unit", flat=True)) - new):
                notice(
                    f"{len(lost)} units of {network} {layer} had scores and are not in the new "
                    f"ones, so now have none (e.g. {', '.join(map(str, lost[:5]))}): a layer's "
                    "scores are replaced whole."
                )
        stored.delete()
    rows = [
        SelectivityScore(**{k: v for k, v in r.items() if k in SCORE_FIELDS}, source=source)
        for r in records
    ]
    SelectivityScore.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _replaced_notice(stored, network: str, layer: str) -> str:
    """'Replaced N stored scores of network layer (from SOURCE, ...)', or '' when none."""
    sources = dict(stored.order_by("source").values_list("source").annotate(n=Count("id")))
    if not sources:
        return ""
    origins = ", ".join(
        f"{n} from {source or 'an unnamed source'}" for source, n in sources.items()
    )
    return f"Replaced {sum(sources.values())} stored scores of {network} {layer} ({origins})."


def selectivity_import(*, path: Path, notice: Callable[[str], None] | None = None) -> int:
    """Load scores computed elsewhere from a CSV (validated first; all or nothing); `notice` is
    told which stored scores were replaced."""
    records = read_scores_csv(path, shape=_network_shape)
    return scores_replace(records=records, source=str(path), notice=notice)


def _network_shape(network: str) -> NetworkShape | None:
    """The classes and layers of a network the generator registers; None for another one."""
    spec = registered_network(network)
    if spec is None:
        return None
    return NetworkShape(
        spec.num_classes, {alias: layer.units for alias, layer in spec.layers.items()}
    )


def scores_export_check(*, path: Path, activations: Path) -> None:
    """ScoreTableError, before any work, when an export to `path` would replace the
    activation file (the CSV or its settings beside it) or a file that is not a score CSV."""
    path, activations = Path(path), Path(activations)
    if blocking := file_in_the_way(path.parent):
        raise ScoreTableError(
            f"The scores CSV {path} cannot be written: {blocking} is a file, not a folder."
        )
    for target in (path, path.with_suffix(".settings.json")):
        if _same_file(target, activations):
            raise ScoreTableError(
                f"The scores CSV {path} would replace the activation file {activations}: give "
                "--csv another path (default: <activations>.selectivity.csv)."
            )
    scores_csv_replaceable(path)


def _same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file (through links too), existing or not."""
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them is not there
        return first.resolve() == second.resolve()


def scores_export_csv(*, path: Path, records: Iterable[dict], settings: MeasureSettings) -> int:
    """Write score records to CSV with the settings that produced them beside it (.json).

    Each replaces its file whole; the settings only once the CSV is in place, so a write that
    fails leaves the earlier pair as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_whole(path.with_suffix(".settings.json")) as sidecar:
        sidecar.write(json.dumps(asdict(settings), indent=2) + "\n")
        return write_scores_csv(path, records)


class SimulationError(ValueError):
    """The experiment cannot be filled with synthetic participants; the message says why."""


def overrides_normalise(label: str) -> str:
    """A label as overrides store it: a WordNet id as it is, else the normalised label."""
    label = label.strip().lower()
    if WNID_PATTERN.match(label):
        return label
    matcher = labels_judge().matcher
    # Split as responses are, so a phrase the analysis keeps whole ("fish and chips") is one.
    cleaned = cleaned_labels(label, is_term=matcher.is_term)
    if len(cleaned) != 1:
        raise ValueError(f"{label!r} is not one label (got {len(cleaned)} after cleaning)")
    return matcher.normalise(cleaned[0])


def overrides_pair(label_a: str, label_b: str) -> tuple[str, str]:
    """The pair as overrides store it (overrides_normalise, order-free); ValueError for two
    labels that are one after cleaning ("dog" and "dogs"): an override saying they disagree
    would make every answer "dog" disagree with itself."""
    first, second = pair_key(overrides_normalise(label_a), overrides_normalise(label_b))
    if first == second:
        raise ValueError(
            f"{label_a.strip()!r} and {label_b.strip()!r} are the same label after cleaning "
            f"({first!r}), which always agrees with itself"
        )
    return first, second


def overrides_set(
    *, label_a: str, label_b: str, agree: bool, note: str = "", decided_by: str = ""
) -> LabelAgreementOverride:
    """Store (or replace) a researcher's decision on a pair of labels, order-free."""
    first, second = overrides_pair(label_a, label_b)
    with transaction.atomic():
        override, _ = LabelAgreementOverride.objects.update_or_create(
            label_a=first,
            label_b=second,
            defaults={"agree": agree, "note": note, "decided_by": decided_by},
        )
    return override


def ratings_flagged_exclude(*, experiment: Experiment, report: RatingsReport) -> list[Participant]:
    """Exclude the participants the report's quality checks flagged, the flags as reason;
    returns them. Only completed and abandoned participants are flagged: one still taking part
    is never excluded (a few trials say little, and an exclusion stands until a researcher
    clears it). Nor is one who came back or answered since the report read the answers (a
    bootstrap takes minutes): their flags are of answers that are no longer all of theirs."""
    if report.quality.empty:
        return []
    flagged = report.quality[report.quality["flags"] != ""]
    ids = flagged["participant"].astype(int).tolist()
    reasons = dict(zip(ids, flagged["flags"], strict=True))
    seen = dict(zip(ids, flagged["main_trials"].astype(int).tolist(), strict=True))
    with transaction.atomic():
        locked = list(
            experiment.participants.select_for_update()
            .select_related("experiment")
            .filter(pk__in=reasons, excluded=False)
            .order_by("pk")  # the order every writer of participants locks in: no deadlock
        )
        main = Response.objects.filter(participant__in=locked, is_practice=False)
        answered = dict(main.values_list("participant").annotate(n=Count("id")).order_by())
        chosen = [
            participant
            for participant in locked
            if participant_state(participant=participant) != "in_progress"
            and answered.get(participant.pk, 0) == seen[participant.pk]
        ]
        for participant in chosen:
            participant.excluded = True
            participant.exclusion_reason = reasons[participant.pk][:500]
        Participant.objects.bulk_update(chosen, ["excluded", "exclusion_reason"])
    return sorted(chosen, key=lambda participant: participant.external_id)


def ratings_report_run(
    *,
    experiment: Experiment,
    participants: str = "real",
    table_settings: Table1Settings | None = None,
    exclude_flagged: bool = False,
) -> tuple[RatingsReport, list[Participant]]:
    """The ratings report, made again without the flagged participants when `exclude_flagged`
    (ratings_flagged_exclude); returns it with the participants excluded now."""
    report = ratings_report(
        experiment=experiment, participants=participants, table_settings=table_settings
    )
    excluded = (
        ratings_flagged_exclude(experiment=experiment, report=report) if exclude_flagged else []
    )
    if excluded:
        report = ratings_report(
            experiment=experiment, participants=participants, table_settings=table_settings
        )
    report.settings["exclude_flagged"] = exclude_flagged
    return report, excluded


def ratings_report_write(
    *, report: RatingsReport, out_dir: Path, title: str, anonymous: bool = False
) -> list[Path]:
    """Write the report's CSVs, Markdown, figures and settings into out_dir; `anonymous`: a
    report to publish, naming participants as the anonymous exports do
    (ratings_report_anonymise)."""
    if anonymous:
        pseudonym = partial(participant_pseudonym, key=pseudonym_key())
        report = ratings_report_anonymise(report, pseudonym=pseudonym)
    return ratings_report_save(report, Path(out_dir), title)


def _simulation_lists(experiment: Experiment, count: int) -> list[TrialList]:
    """Lists for `count` new participants, the least-filled first, round robin."""
    lists = list(experiment.trial_lists.prefetch_related("items").order_by("number"))
    lists = [trial_list for trial_list in lists if trial_list.items.all()]
    if not lists:
        raise SimulationError(
            f"{experiment.slug} has no trial lists with panels; import panels and build the "
            "lists first (build_lists), then simulate."
        )
    filled = Counter(
        experiment.participants.filter(is_pilot=False).values_list("trial_list", flat=True)
    )
    lists.sort(key=lambda t: (filled[t.pk], t.number))
    return [lists[i % len(lists)] for i in range(count)]


def _simulation_own_labels(experiment: Experiment, rng) -> dict[int, str]:
    """Each main panel's 'true' label: its unit's most-active class name, else a random class."""
    scores = {
        (s.network, s.layer, s.unit): s.most_active_class
        for s in SelectivityScore.objects.filter(most_active_class__isnull=False)
    }
    own = {}
    for panel in Panel.objects.filter(experiment=experiment, is_practice=False):
        classes = labels_class_index(panel.network)
        names = [name for _, name in classes.values()]
        index = scores.get((panel.network, panel.layer, panel.unit))
        own[panel.pk] = classes[index][1] if index in classes else names[rng.integers(len(names))]
    return own


def _simulation_practice(participant, practice, settings, rng) -> list[Response]:
    """Practice answers: the intended one with settings.practice_accuracy (else a coin flip)."""
    responses = []
    for offset, panel in enumerate(practice):
        correct = rng.random() < settings.practice_accuracy
        yes = (
            (panel.intended_answer == "yes") == correct
            if panel.intended_answer
            else rng.random() < 0.5
        )
        responses.append(
            Response(
                participant=participant, panel=panel, trial_index=offset,
                is_practice=True, q1_yes=yes, q2_bin=2 if yes else None,
                q3_first=panel.intended_label if yes else "",
                response_ms=int(rng.lognormal(np.log(settings.median_ms), 0.4)),
            )
        )  # fmt: skip
    return responses


def _simulation_main(participant, panels, own, interpretability, bias, settings, rng):
    """Main-trial answers of one participant, following the documented model."""
    shown = list(panels.values())
    answers = simulate_answers(
        np.array([interpretability[p.pk] for p in shown]),
        np.full(len(shown), bias),
        [own[p.pk] for p in shown],
        [name for _, name in labels_class_index().values()],
        settings,
        rng,
    )
    return [
        Response(
            participant=participant, panel=panel, trial_index=index, is_practice=False,
            q1_yes=bool(answers["yes"][i]),
            q2_bin=int(answers["q2_bin"][i]) if answers["yes"][i] else None,
            q3_first=str(answers["label"][i]), response_ms=int(answers["response_ms"][i]),
        )
        for i, (index, panel) in enumerate(panels.items())
    ]  # fmt: skip


def simulation_responses_create(
    *, experiment: Experiment, participants: int, settings: SimulationSettings | None = None
) -> list[Participant]:
    """Add `participants` synthetic, completed participants with answers to their lists."""
    if participants < 1:
        raise SimulationError("the number of participants must be at least 1")
    settings = settings or SimulationSettings()
    rng = np.random.default_rng(settings.seed)
    lists = _simulation_lists(experiment, participants)
    every_panel = Panel.objects.filter(experiment=experiment).in_bulk()
    own = _simulation_own_labels(experiment, rng)
    panel_ids = sorted(own)
    layers = dict(Panel.objects.filter(pk__in=panel_ids).values_list("pk", "layer"))
    p_unit = unit_interpretability([layers[pk] for pk in panel_ids], settings, rng)
    interpretability = dict(zip(panel_ids, p_unit, strict=True))
    with transaction.atomic():
        # Locked as arrivals lock them: list building waits, then refuses (participants exist).
        _, current = experiment_lists_locked(experiment=experiment)
        if {trial_list.pk for trial_list in lists} - {trial_list.pk for trial_list in current}:
            raise SimulationError(
                f"the lists of {experiment.slug} were built again while the simulation was being "
                "prepared: run simulate_responses again"
            )
        return _simulation_store(experiment, lists, every_panel, own, interpretability, settings)


def _simulation_store(experiment, lists, every_panel, own, interpretability, settings):
    """Create the participants and bulk-create their responses.

    The units' interpretability and labels are the seed's synthetic world; each
    participant's order and answers from the seed and their number, so a second run with the
    same seed adds other participants of the same world, not copies of the first ones.
    """
    start = _simulation_next_number(experiment, settings.seed)
    created, responses, stored_at = [], [], []
    for number, trial_list in enumerate(lists, start=start):
        rng = np.random.default_rng([settings.seed, number])  # this participant's draws
        # The order a real participant of the list would get, drawn from the seed.
        order = trial_order_new(
            experiment=experiment, trial_list=trial_list,
            rng=random.Random(int(rng.integers(2**63))),
        )  # fmt: skip
        participant = Participant.objects.create(
            experiment=experiment, external_id=f"synthetic-s{settings.seed}-{number}",
            trial_list=trial_list, trial_order=order, status=Participant.Status.COMPLETED,
            is_synthetic=True,
        )  # fmt: skip
        bias = rng.normal(0, settings.participant_sd)
        shown = [every_panel[pk] for pk in order]
        practice = [panel for panel in shown if panel.is_practice]  # shown first
        panels = {i: panel for i, panel in enumerate(shown) if not panel.is_practice}
        responses += _simulation_practice(participant, practice, settings, rng)
        responses += _simulation_main(
            participant, panels, own, interpretability, bias, settings, rng
        )
        created.append(participant)
        stored_at += _simulation_times(participant, responses[-len(order) :])
    Response.objects.bulk_create(responses, batch_size=2000)
    # bulk_create stamps every answer with the time of now (created_at is auto_now_add).
    for response, when in zip(responses, stored_at, strict=True):
        response.created_at = when
    Response.objects.bulk_update(responses, ["created_at"], batch_size=2000)
    Participant.objects.bulk_update(created, ["consented_at", "completed_at", "last_seen_at"])
    return created


def _simulation_next_number(experiment: Experiment, seed: int) -> int:
    """The number after the highest of the seed's synthetic ids (deleted ones never recur while
    others of the seed remain), and after any a real participant entered with (any id is
    accepted at the study link), so no new id is taken."""
    prefix = f"synthetic-s{seed}-"
    ids = experiment.participants.filter(external_id__istartswith=prefix)  # ids ignore case
    suffixes = (i[len(prefix) :] for i in ids.values_list("external_id", flat=True))
    return max((int(s) for s in suffixes if s.isdigit()), default=-1) + 1


def _simulation_times(participant: Participant, responses: list[Response]) -> list[datetime]:
    """Consent at the start; completion after the answers' response times (as a real
    participant's minutes would read), not before the start. Returns when each answer is
    stored: its response time after the one before, as a real participant's on an instant
    connection, since the quality flags read the server's clock too (answers stored all at
    once would be a bot's)."""
    participant.consented_at = participant.started_at
    spent = np.cumsum([response.response_ms for response in responses])
    stored_at = [participant.started_at + timedelta(milliseconds=int(ms)) for ms in spent]
    participant.completed_at = participant.last_seen_at = stored_at[-1]
    return stored_at


def simulation_responses_delete(*, experiment: Experiment) -> int:
    """Remove the experiment's synthetic participants and their answers; real ones stay."""
    with transaction.atomic():
        synthetic = experiment.participants.filter(is_synthetic=True)
        # Locked in pk order first, as every writer of several participants locks them (a
        # DELETE alone locks in the order the table is read: a deadlock with an exclusion).
        count = len(synthetic.select_for_update().order_by("pk").values_list("pk", flat=True))
        synthetic.delete()
    return count
