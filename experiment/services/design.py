"""Designing a study: the experiment, its panels and its counterbalanced lists."""

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.validators import validate_slug
from django.db import DatabaseError, transaction

from experiment import lists as list_building
from experiment.models import Experiment, Panel, Participant, TrialList, TrialListItem
from experiment.panel_images import panel_display_bytes, panel_image_open


class PanelRefused(ValueError):
    """No panel can be added once participants have started: lists and practice are fixed."""


class ListsBuildRefused(ValueError):
    """Lists cannot be (re)built: bad list count, no main panels, or participants have started."""


def experiment_create(*, slug: str, title: str = "") -> Experiment:
    """The experiment of `slug`, created if missing; ValidationError for a slug URLs cannot hold."""
    validate_slug(slug)
    experiment, _ = Experiment.objects.get_or_create(slug=slug, defaults={"title": title or slug})
    return experiment


def panel_register(
    *,
    experiment: Experiment,
    image_path: Path,
    source: str,
    network: str = "",
    layer: str = "",
    unit: int | None = None,
    is_practice: bool = False,
    intended_answer: str = "",
    intended_label: str = "",
    metadata: dict | None = None,
    stored_in: list[Panel] | None = None,
) -> Panel | None:
    """Store an image file as a panel of the experiment; None when `source` is already imported.

    The full-resolution file is kept as it is (for zooming) and a display version is made.
    Raises PanelImageError when the file is not a readable image; nothing is stored then.
    `stored_in` (panels_stored_together's list) gets the panel before its files are written,
    so that the block's clean-up finds them whenever it is stopped, by Ctrl-C too.
    """
    if Panel.objects.filter(experiment=experiment, source=source).exists():
        return None
    panel_refusal_raise(experiment=experiment, source=source, is_practice=is_practice)
    image_path = Path(image_path)
    image, suffix = panel_image_open(image_path)
    panel = Panel(
        experiment=experiment,
        source=source,
        network=network,
        layer=layer,
        unit=unit,
        is_practice=is_practice,
        intended_answer=intended_answer,
        intended_label=intended_label,
        metadata=metadata or {},
    )
    # Random names: a file name must not tell participants a practice answer or a unit.
    stem = uuid.uuid4().hex
    image_name, display_name = f"{stem}{suffix}", f"{stem}.jpg"
    # Named before they are written, so that a clean-up finds a file stopped half-way (a new
    # random name is no other file's).
    panel.image.name = panel.image.field.generate_filename(panel, image_name)
    panel.display_image.name = panel.display_image.field.generate_filename(panel, display_name)
    if stored_in is not None:
        stored_in.append(panel)
    try:
        _panel_files_save(
            panel,
            image=(image_name, image_path.read_bytes()),
            display=(display_name, panel_display_bytes(image)),
        )
        with transaction.atomic():
            if stored_in is None:  # else panels_stored_together checks at its end
                panels_still_taken([panel])
            panel.save()
    except BaseException:  # Ctrl-C too
        panels_files_delete_unstored([panel])  # no file without its row
        raise
    return panel


def _panel_files_save(panel: Panel, *, image: tuple[str, bytes], display: tuple[str, bytes]):
    """Write a panel's image and display files (name, content); an OSError from a write names
    the media folder (a full disk refuses a write, which names no file)."""
    try:
        panel.image.save(image[0], ContentFile(image[1]), save=False)
        panel.display_image.save(display[0], ContentFile(display[1]), save=False)
    except OSError as error:
        if error.filename is not None:
            raise
        raise OSError(error.errno, error.strerror, panel.image.storage.location) from None


def panel_files_delete(panel: Panel) -> None:
    """Delete a panel's image files (an empty field deletes nothing); the row is not touched.
    Each panel has files of its own (random names)."""
    panel.image.delete(save=False)
    panel.display_image.delete(save=False)


def panels_files_delete_unstored(panels: list[Panel]) -> None:
    """Delete the files of those `panels` that have no row in the database (their store failed,
    or was rolled back). A row there keeps its files: an interruption that came just after the
    commit must not leave a stored panel without its pictures."""
    ids = [panel.pk for panel in panels if panel.pk is not None]
    try:
        stored = set(Panel.objects.filter(pk__in=ids).values_list("pk", flat=True))
    except DatabaseError:  # no answer (the connection broke, maybe mid-commit): keep them all;
        return  # a file without its row is harmless, a stored panel without its files is not
    for panel in panels:
        if panel.pk not in stored:
            panel_files_delete(panel)


@contextmanager
def panels_stored_together() -> Iterator[list[Panel]]:
    """One transaction for many panel_register calls: append each panel stored in the block
    to the yielded list (or pass it as their `stored_in`). When the block fails or is stopped
    (Ctrl-C), no row is kept and the files of the panels stored in it are deleted again."""
    stored: list[Panel] = []
    try:
        with transaction.atomic():
            yield stored
            panels_still_taken(stored)
    except BaseException:
        panels_files_delete_unstored(stored)
        raise


def panel_refusal_raise(*, experiment: Experiment, source: str, is_practice: bool = False) -> None:
    """PanelRefused when the experiment takes no new panel (`source` names it in the message):
    once it has participants its lists and practice are fixed, and its pilot runs' trial
    orders hold its panels."""
    if experiment.participants.filter(is_synthetic=False, is_pilot=False).exists():
        raise PanelRefused(
            f"Experiment {experiment.slug} has participants, so its lists are fixed and a new "
            f"main panel ({source}) would never be shown; make a new experiment for it."
            if not is_practice
            else f"Experiment {experiment.slug} has participants: a new practice panel "
            f"({source}) would give later participants other practice than earlier ones. "
            "Make a new experiment for it."
        )
    if experiment.participants.filter(is_pilot=True).exists():
        raise PanelRefused(
            f"Experiment {experiment.slug} has pilot runs, whose trial orders hold its panels; "
            f"delete them (admin: participants, is pilot) before adding {source}."
        )


def panels_still_taken(panels: list[Panel]) -> None:
    """Lock the panels' experiments, as arrivals do, and check again that they take new panels
    (panel_refusal_raise): a participant who entered while the files were written drew their
    practice without these panels. Call inside the transaction that stores them: arrivals then
    wait for it to commit, for a moment only, and see them."""
    for experiment_id in sorted({panel.experiment_id for panel in panels}):
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        first = next(panel for panel in panels if panel.experiment_id == experiment_id)
        panel_refusal_raise(
            experiment=experiment, source=first.source, is_practice=first.is_practice
        )


def experiment_lists_build(
    *, experiment: Experiment, lists: int, seed: int | None = None
) -> list[TrialList]:
    """Replace the experiment's lists with `lists` stratified ones (deterministic for a seed).

    Every main panel goes in exactly one list; each list gets an equal share (within one) of
    every (network, layer). Raises ListsBuildRefused once any participant exists.
    """
    seed = secrets.randbelow(2**31) if seed is None else seed
    if not 0 <= seed < 2**63:
        raise ListsBuildRefused(f"The seed must be between 0 and {2**63 - 1}, not {seed}.")
    with transaction.atomic():
        Experiment.objects.select_for_update().get(id=experiment.id)
        participants = Participant.objects.filter(experiment=experiment)
        if participants.filter(is_synthetic=False, is_pilot=False).exists():
            raise ListsBuildRefused(
                f"Experiment {experiment.slug} already has participants; rebuilding its lists "
                "would change what they were shown. Delete the participants first or make a new "
                "experiment."
            )
        if participants.filter(is_pilot=True).exists():
            raise ListsBuildRefused(
                f"Experiment {experiment.slug} has pilot runs, whose trial orders refer to the "
                "lists; delete them (admin: participants, is pilot) before rebuilding the lists."
            )
        if participants.exists():
            raise ListsBuildRefused(
                f"Experiment {experiment.slug} has simulated participants, whose answers refer "
                f"to the lists; remove them first (simulate_responses --experiment "
                f"{experiment.slug} --delete)."
            )
        panels = Panel.objects.filter(experiment=experiment, is_practice=False)
        strata = [(p.id, (p.network, p.layer)) for p in panels.only("id", "network", "layer")]
        try:
            assignment = list_building.stratified_lists(strata, lists=lists, seed=seed)
        except ValueError as error:
            raise ListsBuildRefused(f"Experiment {experiment.slug}: {error}") from error
        return trial_lists_store(experiment=experiment, assignment=assignment, seed=seed)


def trial_lists_store(
    *, experiment: Experiment, assignment: list[list[int]], seed: int
) -> list[TrialList]:
    """Delete the old lists and store the new ones with their items."""
    TrialList.objects.filter(experiment=experiment).delete()
    trial_lists = TrialList.objects.bulk_create(
        TrialList(experiment=experiment, number=number, seed=seed)
        for number in range(1, len(assignment) + 1)
    )
    TrialListItem.objects.bulk_create(
        TrialListItem(trial_list=trial_list, panel_id=panel_id)
        for trial_list, panel_ids in zip(trial_lists, assignment, strict=True)
        for panel_id in panel_ids
    )
    return trial_lists
