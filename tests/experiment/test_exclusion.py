"""Excluding participants from the analysis, and including them again, several at a time."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from experiment.export import participants_csv_write
from experiment.models import Participant
from experiment.selectors import experiment_progress, list_fills
from experiment.services import (
    participant_enter,
    participant_pilot_create,
    participants_exclude,
    participants_include,
)
from tests.experiment.test_admin import staff_client  # noqa: F401  (fixture)
from tests.experiment.test_responses import answer

CHANGELIST = "admin:experiment_participant_changelist"


@pytest.fixture
def people(participant):
    """p1 (consented), p2, a pilot run, and p3 excluded before by analyze_ratings' flags."""
    experiment = participant.experiment
    second = participant_enter(experiment=experiment, external_id="p2")
    pilot = participant_pilot_create(experiment=experiment, by="boss")
    flagged = participant_enter(experiment=experiment, external_id="p3")
    Participant.objects.filter(id=flagged.id).update(
        excluded=True, exclusion_reason="median time < 2 s"
    )
    return participant, second, pilot, flagged


def rows(*participants):
    """(external_id, excluded, exclusion_reason) of the participants, as stored now."""
    ids = [p.id for p in participants]
    stored = Participant.objects.filter(id__in=ids).order_by("external_id")
    return list(stored.values_list("external_id", "excluded", "exclusion_reason"))


def test_excluding_gives_the_reason_and_leaves_pilot_runs_and_earlier_reasons(people):
    first, second, pilot, flagged = people
    change = participants_exclude(participants=people, reason="  said they guessed  ")
    assert (change.changed, change.unchanged, change.pilots) == (2, 1, 1)
    assert rows(first, second, flagged) == [
        ("p1", True, "said they guessed"),
        ("p2", True, "said they guessed"),
        ("p3", True, "median time < 2 s"),  # the first reason stands
    ]
    pilot.refresh_from_db()
    assert pilot.excluded and pilot.exclusion_reason == "Pilot run by boss, not a participant."


def test_one_excluded_without_a_reason_gets_the_reason_given(participant):
    Participant.objects.filter(id=participant.id).update(excluded=True, exclusion_reason="")
    change = participants_exclude(participants=[participant], reason="bot")
    assert (change.changed, change.unchanged) == (1, 0)
    assert rows(participant) == [("p1", True, "bot")]


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_an_exclusion_without_a_reason_or_with_an_overlong_one_is_refused(participant, reason):
    with pytest.raises(ValueError, match="reason"):
        participants_exclude(participants=[participant], reason=reason)
    assert rows(participant) == [("p1", False, "")]


def test_an_excluded_participant_gives_up_their_place_and_is_counted_apart(participant):
    assert list_fills(experiment=participant.experiment) == {participant.trial_list_id: 1}
    participants_exclude(participants=[participant], reason="bot")
    assert list_fills(experiment=participant.experiment) == {}
    assert experiment_progress(experiment=participant.experiment).excluded == 1
    stream = io.StringIO()
    participants_csv_write(experiment=participant.experiment, stream=stream)
    [row] = csv.DictReader(io.StringIO(stream.getvalue()))
    assert (row["excluded"], row["exclusion_reason"]) == ("1", "bot")


def test_including_again_clears_the_reason_but_leaves_pilot_runs_excluded(people):
    first, second, pilot, flagged = people
    change = participants_include(participants=people)
    assert (change.changed, change.unchanged, change.pilots) == (1, 2, 1)
    assert rows(flagged) == [("p3", False, "")]
    pilot.refresh_from_db()
    assert pilot.excluded and pilot.exclusion_reason.startswith("Pilot run by boss")


def test_the_exclude_action_asks_for_a_reason_then_excludes(staff_client, people):  # noqa: F811
    first, second, pilot, flagged = people
    url = reverse(CHANGELIST)
    selection = {"action": "exclude_from_analysis", "_selected_action": [p.id for p in people]}
    page = staff_client.post(url, selection).content.decode()
    assert "4 participants chosen:" in page and 'name="reason"' in page
    assert "study/p3 (excluded: median time &lt; 2 s)" in page and "(pilot run)" in page
    refused = staff_client.post(url, selection | {"apply": "1", "reason": "  "})
    assert "Say why: the report and the exports show the reason." in refused.content.decode()
    assert rows(first) == [("p1", False, "")]
    done = staff_client.post(url, selection | {"apply": "1", "reason": "a bot"}, follow=True)
    message = done.content.decode()
    assert "Excluded 2 participant(s) from the analysis, with the reason “a bot”." in message
    assert "1 excluded before keep their own reason" in message
    assert "Skipped 1 pilot run(s)" in message
    assert rows(first, second, flagged) == [
        ("p1", True, "a bot"),
        ("p2", True, "a bot"),
        ("p3", True, "median time < 2 s"),
    ]


def test_the_include_action_confirms_then_includes_again(staff_client, people):  # noqa: F811
    first, second, pilot, flagged = people
    url = reverse(CHANGELIST)
    selection = {"action": "include_in_analysis", "_selected_action": [pilot.id, flagged.id]}
    page = staff_client.post(url, selection).content.decode()
    assert "2 participants chosen:" in page and "reasons are cleared" in page
    assert rows(flagged) == [("p3", True, "median time < 2 s")]  # not before it is confirmed
    done = staff_client.post(url, selection | {"apply": "1"}, follow=True).content.decode()
    assert "Included 1 participant(s) in the analysis again" in done
    assert "Skipped 1 pilot run(s)" in done
    assert rows(flagged) == [("p3", False, "")]
    assert Participant.objects.get(id=pilot.id).excluded


def test_only_a_pilot_run_chosen_is_a_warning_that_nothing_changed(
    staff_client,  # noqa: F811
    people,
):
    pilot = people[2]
    selection = {"action": "include_in_analysis", "_selected_action": [pilot.id], "apply": "1"}
    done = staff_client.post(reverse(CHANGELIST), selection, follow=True).content.decode()
    assert "Included 0 participant(s)" in done and 'class="warning"' in done


def test_the_exclusion_actions_need_the_change_permission(client, django_user_model, participant):
    user = django_user_model.objects.create_user("viewer", password="pw-12345", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_participant"))
    client.force_login(user)
    url = reverse(CHANGELIST)
    page = client.get(url).content.decode()
    assert 'value="exclude_from_analysis"' not in page
    assert 'value="include_in_analysis"' not in page
    selection = {"action": "exclude_from_analysis", "_selected_action": [participant.id]}
    client.post(url, selection | {"apply": "1", "reason": "a bot"})
    assert rows(participant) == [("p1", False, "")]


def test_a_participant_still_answering_may_finish_once_excluded(participant):
    participants_exclude(participants=[participant], reason="bot")
    participant.refresh_from_db()
    for index in range(len(participant.trial_order)):
        answer(participant, index)
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED and participant.excluded
