"""A researcher's exclusions: participants left out of the analysis, and the reason why."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from experiment.models import Participant

EXCLUSION_REASON_MAX_CHARS = Participant._meta.get_field("exclusion_reason").max_length


@dataclass(frozen=True)
class ExclusionChange:
    """What participants_exclude or participants_include did with the participants given."""

    changed: int  # excluded (with the reason given) / included again
    unchanged: int  # excluded before, keeping their reason / not excluded to begin with
    pilots: int  # pilot runs: always excluded, with their own reason, so left as they were


def participants_exclude(*, participants: Iterable[Participant], reason: str) -> ExclusionChange:
    """Leave participants out of the analysis from now on, `reason` saying why (the ratings
    report and the exports show it); ValueError for an empty or overlong reason.

    One excluded before keeps the reason given first (analyze_ratings' flags, a colleague's
    note): a broader choice made later must not overwrite that record; change it on the
    participant's page. One excluded without a reason (before one was required) gets this
    one. Pilot runs are left as they are. An excluded participant gives up their list place
    (selectors.list_fills), so the next arrival fills their list; one still answering may finish.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("An exclusion needs a reason: the report and the exports show it.")
    if len(reason) > EXCLUSION_REASON_MAX_CHARS:
        raise ValueError(
            f"The reason has {len(reason)} characters; shorten it to "
            f"{EXCLUSION_REASON_MAX_CHARS} at most."
        )
    with transaction.atomic():
        rows = exclusions_locked(participants)
        pilots = sum(pilot for _, pilot, _, _ in rows)
        kept = {pk for pk, pilot, excluded, why in rows if not pilot and excluded and why.strip()}
        chosen = [pk for pk, pilot, _, _ in rows if not pilot and pk not in kept]
        Participant.objects.filter(pk__in=chosen).update(excluded=True, exclusion_reason=reason)
    return ExclusionChange(changed=len(chosen), unchanged=len(kept), pilots=pilots)


def participants_include(*, participants: Iterable[Participant]) -> ExclusionChange:
    """Count excluded participants in the analysis again (an exclusion made by mistake): their
    reason is cleared. Pilot runs stay excluded: they are not participants (delete them
    instead). One included again holds a list place again once completed or while active,
    so a list whose place was filled meanwhile holds one more than its cap."""
    with transaction.atomic():
        rows = exclusions_locked(participants)
        pilots = sum(pilot for _, pilot, _, _ in rows)
        chosen = [pk for pk, pilot, excluded, _ in rows if excluded and not pilot]
        Participant.objects.filter(pk__in=chosen).update(excluded=False, exclusion_reason="")
    unchanged = len(rows) - len(chosen) - pilots
    return ExclusionChange(changed=len(chosen), unchanged=unchanged, pilots=pilots)


def exclusions_locked(participants: Iterable[Participant]) -> list[tuple[int, bool, bool, str]]:
    """(pk, is_pilot, excluded, exclusion_reason) of the participants, locked until the
    transaction ends: analyze_ratings --exclude-flagged or a colleague's page may write the
    same rows meanwhile, and what is counted must be what is changed."""
    ids = [participant.pk for participant in participants]
    return list(
        Participant.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")  # the order participants_withdraw locks in
        .values_list("pk", "is_pilot", "excluded", "exclusion_reason")
    )
