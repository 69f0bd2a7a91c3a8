"""The researchers' admin: staff only, progress page, list building and export actions."""

import csv
import errno
import io
import os
from datetime import timedelta

import pytest
from django.contrib import admin
from django.forms import modelform_factory
from django.urls import reverse
from django.utils import timezone

from experiment.admin import ExperimentAdmin, ParticipantForm
from experiment.export import participant_pseudonym
from experiment.models import Experiment, Panel, Participant, Response, TrialList, Withdrawal
from experiment.services import (
    experiment_lists_build,
    participant_consent,
    participant_enter,
    participant_pilot_create,
)
from tests.experiment.conftest import panels_create
from tests.experiment.test_responses import answer


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.org", "pw-12345")
    client.force_login(user)
    return client


def test_the_admin_requires_a_staff_login(client, ready_experiment, django_user_model):
    progress = reverse("admin:experiment_experiment_progress", args=[ready_experiment.id])
    for url in (progress, reverse("admin:experiment_participant_changelist")):
        assert client.get(url)["Location"].startswith(reverse("admin:login"))
    user = django_user_model.objects.create_user("participant", password="pw-12345")
    client.force_login(user)
    assert client.get(progress).status_code == 302


def test_progress_page_counts_participants_per_list(staff_client, participant):
    for index in range(len(participant.trial_order)):
        answer(participant, index)
    participant_enter(experiment=participant.experiment, external_id="p2")
    url = reverse("admin:experiment_experiment_progress", args=[participant.experiment.id])
    page = staff_client.get(url).content.decode()
    assert "1 completed, 1 in progress and" in page
    assert "0 abandoned participants" in page
    assert page.count("/ 6</td>") == 2  # places taken of the cap, one row per list


def test_progress_page_gives_the_study_link_and_what_is_not_ready(staff_client, experiment):
    url = reverse("admin:experiment_experiment_progress", args=[experiment.id])
    page = staff_client.get(url).content.decode()
    assert "http://testserver/study/study/?PROLIFIC_PID={{%PROLIFIC_PID%}}&amp;STUDY_ID=" in page
    assert (
        "ExternalURL of an MTurk ExternalQuestion HIT: <code>http://testserver/study/study/mturk/</code>"
        in page
    )
    assert "Participants get 0 practice trials, not the 2 set" in page
    assert "There are no lists yet" in page and "There is no completion URL" in page
    assert "The consent page shows the default text" in page  # no researcher to contact
    assert "The title is the slug" not in page  # "Study" is a title
    Experiment.objects.filter(id=experiment.id).update(title="study", consent_text="Run by A.")
    page = staff_client.get(url).content.decode()
    assert "The title is the slug (study)" in page and "default text" not in page


def test_progress_page_warns_when_the_instructions_example_is_missing_or_gives_away(
    staff_client, experiment
):
    """As many practice panels as practice trials give the example away; unlabelled "yes"
    panels cannot be the example, whose screen shows the label as Q3's answer."""
    url = reverse("admin:experiment_experiment_progress", args=[experiment.id])
    panels_create(experiment, units=0, practice=3)
    Experiment.objects.filter(id=experiment.id).update(practice_trials=3)
    assert "is one of their own practice panels" in staff_client.get(url).content.decode()
    Experiment.objects.filter(id=experiment.id).update(practice_trials=2)
    page = staff_client.get(url).content.decode()
    assert "practice panel has a label" not in page and "their own practice panels" not in page
    experiment.panels.update(intended_label="")
    assert "No &quot;yes&quot; practice panel has a label" in staff_client.get(url).content.decode()


def test_changelists_show_panels_lists_participants_and_responses(staff_client, participant):
    answer(participant, 0, q1="yes", q2=1, q3="dog")
    for name in ("experiment", "panel", "triallist", "participant", "response"):
        response = staff_client.get(reverse(f"admin:experiment_{name}_changelist"))
        assert response.status_code == 200, name
    participants = staff_client.get(reverse("admin:experiment_participant_changelist"))
    assert "1 / 5" in participants.content.decode()
    panels = staff_client.get(reverse("admin:experiment_panel_changelist")).content.decode()
    assert 'style="height:64px"' in panels


def test_the_duration_column_reads_the_servers_clock_not_the_browsers(staff_client, participant):
    """A script claiming a minute a panel but answering at once shows 0.0 min, as the ratings
    report's server-side timing reads it (docs/experiment.md, section 6)."""
    for index in range(len(participant.trial_order)):
        answer(participant, index, response_ms=60_000)
    assert participant.status == Participant.Status.COMPLETED
    page = staff_client.get(reverse("admin:experiment_participant_changelist")).content.decode()
    assert '<td class="field-duration">0.0 min</td>' in page


def test_a_participants_page_gives_the_address_of_their_study_page(staff_client, participant):
    """For one who cannot go back to the browser they started in (an id others may know)."""
    page = staff_client.get(
        reverse("admin:experiment_participant_change", args=[participant.id])
    ).content.decode()
    study_page = reverse("experiment:home", args=[participant.experiment.slug, participant.token])
    assert f'<div class="readonly">{study_page}</div>' in page
    assert f'href="{study_page}"' not in page  # clicked here, the researcher would answer


def test_staff_who_may_only_view_participants_get_no_token_nor_study_page(
    client, participant, django_user_model
):
    """With them one could answer as the participant: a helper approving submissions needs
    neither."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw-12345", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_participant"))
    client.force_login(user)
    page = client.get(reverse("admin:experiment_participant_change", args=[participant.id]))
    html = page.content.decode()
    assert page.status_code == 200 and participant.external_id in html
    assert participant.token not in html and "study page" not in html


def test_build_lists_action_asks_for_k_then_builds(staff_client, experiment):
    panels_create(experiment, units=6)
    url = reverse("admin:experiment_experiment_changelist")
    selection = {"action": "build_lists", "_selected_action": [experiment.id]}
    form = staff_client.post(url, selection)
    assert b'name="lists"' in form.content
    done = staff_client.post(
        url, selection | {"apply": "1", "lists": "3", "seed": "4"}, follow=True
    )
    assert "Built 3 lists for study (seed 4)." in done.content.decode()
    assert experiment.trial_lists.count() == 3


def test_build_lists_action_reports_a_refusal(staff_client, ready_experiment):
    participant_enter(experiment=ready_experiment, external_id="p")
    url = reverse("admin:experiment_experiment_changelist")
    payload = {"action": "build_lists", "_selected_action": [ready_experiment.id]}
    done = staff_client.post(url, payload | {"apply": "1", "lists": "2"}, follow=True)
    assert "already has participants" in done.content.decode()


def test_export_action_downloads_the_responses_csv(staff_client, participant):
    answer(participant, 0, q1="yes", q2=2, q3="cat")
    url = reverse("admin:experiment_experiment_changelist")
    download = staff_client.post(
        url, {"action": "export_responses", "_selected_action": [participant.experiment.id]}
    )
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [(row["external_id"], row["q3_first"]) for row in rows] == [("p1", "cat")]


def test_anonymous_export_actions_leave_out_recruitment_ids_and_pilot_runs(
    staff_client, participant
):
    answer(participant, 0, q1="yes", q2=2, q3="cat")
    participant.experiment.participants.update(prolific_session_id="SESSIONX")
    pilot = participant_pilot_create(experiment=participant.experiment, by="boss")
    participant_consent(participant=pilot)
    answer(pilot, 0)
    url = reverse("admin:experiment_experiment_changelist")
    selected = {"_selected_action": [participant.experiment.id]}
    for action in ("export_responses_anonymous", "export_participants_anonymous"):
        download = staff_client.post(url, {"action": action, **selected})
        name = action.removeprefix("export_").replace("_", "-")
        assert f"{name}.csv" in download["Content-Disposition"]
        text = download.content.decode()
        assert "SESSIONX" not in text and "p1," not in text and pilot.external_id not in text
        [row] = csv.DictReader(io.StringIO(text))
        assert row["participant_id"] == participant_pseudonym(
            participant.id, key=b"test-pseudonym-key-of-at-least-32-characters"
        )
    assert row["answered"] == "1"


def test_an_anonymous_export_whose_key_cannot_be_made_is_a_message_not_an_error_page(
    staff_client, participant, settings, tmp_path, monkeypatch
):
    """The key is made on the first anonymous export; a full VAR_DIR gave HTTP 500."""
    settings.PSEUDONYM_KEY, settings.VAR_DIR = "", tmp_path

    def disk_full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    url = reverse("admin:experiment_experiment_changelist")
    selected = {"_selected_action": [participant.experiment.id]}
    page = staff_client.post(url, {"action": "export_responses_anonymous", **selected}, follow=True)
    assert page.status_code == 200
    assert (
        f"The export was not made: {tmp_path / 'pseudonym-key'}: No space left on device (free "
        "space on that disk)." in page.content.decode()
    )
    assert not any(tmp_path.iterdir())


def test_export_action_downloads_the_participants_csv(staff_client, participant):
    url = reverse("admin:experiment_experiment_changelist")
    download = staff_client.post(
        url, {"action": "export_participants", "_selected_action": [participant.experiment.id]}
    )
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [(row["external_id"], row["participant_status"]) for row in rows] == [
        ("p1", "in_progress")
    ]


def test_export_action_refuses_several_experiments(staff_client, experiment):
    other = Experiment.objects.create(slug="other", title="Other")
    url = reverse("admin:experiment_experiment_changelist")
    done = staff_client.post(
        url,
        {"action": "export_responses", "_selected_action": [experiment.id, other.id]},
        follow=True,
    )
    assert "Export one experiment at a time." in done.content.decode()


def test_exports_need_permission_to_view_responses_and_participants(
    client, participant, django_user_model
):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw-12345", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_experiment"))
    client.force_login(user)
    url = reverse("admin:experiment_experiment_changelist")
    selected = {"_selected_action": [participant.experiment.id]}
    actions = ["export_responses", "export_responses_anonymous"]
    actions += ["export_participants", "export_participants_anonymous"]
    for action in actions:
        refused = client.post(url, {"action": action, **selected})
        assert not refused["Content-Type"].startswith("text/csv"), action
    user.user_permissions.add(Permission.objects.get(codename="view_response"))
    client.force_login(django_user_model.objects.get(pk=user.pk))  # a fresh permission cache
    allowed = client.post(url, {"action": "export_responses", **selected})
    assert allowed["Content-Type"].startswith("text/csv")


def test_an_answer_is_deleted_only_with_its_participant(staff_client, participant):
    first = answer(participant, 0)
    page = staff_client.get(reverse("admin:experiment_response_change", args=[first.id]))
    assert page.status_code == 200 and "deletelink" not in page.content.decode()
    assert (
        staff_client.get(reverse("admin:experiment_response_delete", args=[first.id])).status_code
        == 403
    )
    bulk = staff_client.post(
        reverse("admin:experiment_response_changelist"),
        {"action": "delete_selected", "_selected_action": [first.id], "post": "yes"},
    )
    assert bulk.status_code in (200, 302) and Response.objects.filter(id=first.id).exists()
    withdrawal = staff_client.post(
        reverse("admin:experiment_participant_delete", args=[participant.id]), {"post": "yes"}
    )
    assert withdrawal.status_code == 302 and not Response.objects.filter(id=first.id).exists()


def test_deleting_an_experiment_with_participants_says_they_go_first(staff_client, participant):
    experiment = participant.experiment
    page = staff_client.get(reverse("admin:experiment_experiment_delete", args=[experiment.id]))
    html = page.content.decode()
    assert "study: 1 participants. Delete them first" in html
    assert "permission to delete" not in html
    staff_client.post(
        reverse("admin:experiment_experiment_delete", args=[experiment.id]), {"post": "yes"}
    )
    assert Experiment.objects.filter(id=experiment.id).exists()


def test_deleting_an_experiment_counts_what_goes_in_a_few_queries(
    staff_client, experiment, django_assert_max_num_queries
):
    """Not a line (and queries) per panel and list item: a study has thousands."""
    panels_create(experiment, units=40, practice=3)
    experiment_lists_build(experiment=experiment, lists=4, seed=0)
    url = reverse("admin:experiment_experiment_delete", args=[experiment.id])
    with django_assert_max_num_queries(15):
        html = staff_client.get(url).content.decode()
    assert "Experiment study: 43 panels, 4 lists, 0 withdrawals" in html
    assert "Trial list items: 40" in html
    assert staff_client.post(url, {"post": "yes"}).status_code == 302
    assert not Experiment.objects.exists() and not Panel.objects.exists()


def test_deleting_participants_counts_their_answers_in_a_few_queries(
    staff_client, ready_experiment, django_assert_max_num_queries
):
    people = []
    for name in ("a", "b", "c"):
        person = participant_enter(experiment=ready_experiment, external_id=name)
        participant_consent(participant=person)
        for index in range(len(person.trial_order)):
            answer(person, index)
        people.append(person)
    bulk = {"action": "delete_selected", "_selected_action": [p.id for p in people]}
    changelist = reverse("admin:experiment_participant_changelist")
    with django_assert_max_num_queries(15):
        html = staff_client.post(changelist, bulk).content.decode()
    assert "Participant study/a: 5 answers" in html and "Responses: 15" in html
    with django_assert_max_num_queries(22):
        assert staff_client.post(changelist, bulk | {"post": "yes"}).status_code == 302
    assert not Participant.objects.exists() and not Response.objects.exists()
    assert Withdrawal.objects.count() == 3  # each consented: kept out from now on


def test_the_participants_page_reads_the_list_filter_in_one_query(
    staff_client, participant, django_assert_max_num_queries
):
    """Not a query per list of every experiment (64 in the paper's study)."""
    other = Experiment.objects.create(slug="other", title="Other")
    panels_create(other, units=40)
    experiment_lists_build(experiment=other, lists=20, seed=0)
    changelist = reverse("admin:experiment_participant_changelist")
    with django_assert_max_num_queries(12):
        html = staff_client.get(changelist).content.decode()
    assert "other list 20" in html and "study list 1" in html
    chosen = staff_client.get(changelist, {"experiment__id__exact": participant.experiment_id})
    assert "other list 1<" not in chosen.content.decode()


def deletion_refused(client, model: str, object_id: int) -> None:
    """The admin refuses to delete the object, on its delete page and by the bulk action."""
    page = client.get(reverse(f"admin:experiment_{model}_delete", args=[object_id]))
    assert page.status_code == 403
    bulk = client.post(
        reverse(f"admin:experiment_{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [object_id], "post": "yes"},
    )
    assert bulk.status_code in (200, 403)


def test_a_panel_cannot_be_deleted_once_anyone_has_entered(staff_client, participant):
    practice = participant.experiment.panels.filter(is_practice=True).first()
    deletion_refused(staff_client, "panel", practice.id)
    assert participant.experiment.panels.filter(id=practice.id).exists()
    # the participant's trial page still works
    slug = participant.experiment.slug
    trials = staff_client.get(reverse("experiment:trials", args=[slug, participant.token]))
    assert trials.status_code == 200


@pytest.mark.parametrize("model", ["panel", "triallist"])
def test_a_delete_allowed_on_the_page_is_refused_if_someone_entered_meanwhile(
    staff_client, ready_experiment, model, monkeypatch
):
    """Between the permission check and the delete, the first participant may enter: the
    delete takes the lock arrivals take and checks again. (A practice panel and a list nobody
    is in: the database itself keeps listed panels and lists with participants.)"""
    admin_class = type(admin.site._registry[Panel if model == "panel" else TrialList])
    monkeypatch.setattr(admin_class, "has_delete_permission", lambda *args, **kwargs: True)
    entered = participant_enter(experiment=ready_experiment, external_id="meanwhile")
    if model == "panel":
        target = ready_experiment.panels.filter(is_practice=True).first()
    else:
        target = ready_experiment.trial_lists.exclude(id=entered.trial_list_id).first()
    url = reverse(f"admin:experiment_{model}_delete", args=[target.id])
    assert staff_client.post(url, {"post": "yes"}).status_code == 403
    assert type(target).objects.filter(id=target.id).exists()


def test_participants_filter_by_the_state_the_study_counts(staff_client, ready_experiment):
    """Abandoned is not stored: it follows from the hold time, as in the state column."""
    for name in ("active", "silent", "done"):
        participant_consent(
            participant=participant_enter(experiment=ready_experiment, external_id=name)
        )
    long_ago = timezone.now() - timedelta(minutes=ready_experiment.hold_minutes + 1)
    Participant.objects.filter(external_id="silent").update(last_seen_at=long_ago)
    Participant.objects.filter(external_id="done").update(status=Participant.Status.COMPLETED)
    changelist = reverse("admin:experiment_participant_changelist")
    for state, expected in [
        ("in_progress", "active"),
        ("abandoned", "silent"),
        ("completed", "done"),
    ]:
        page = staff_client.get(changelist, {"state": state}).content.decode()
        shown = {name for name in ("active", "silent", "done") if f">{name}<" in page}
        assert shown == {expected}, state


def test_a_panels_generator_record_is_shown_but_not_editable(staff_client, ready_experiment):
    panel = ready_experiment.panels.first()
    panel.metadata = {"settings": {"iterations": 200}}
    panel.save()
    url = reverse("admin:experiment_panel_change", args=[panel.id])
    page = staff_client.get(url).content.decode()
    assert "iterations" in page and 'name="metadata"' not in page
    staff_client.post(url, {"metadata": "{}", "intended_label": "fish"})
    panel.refresh_from_db()
    assert panel.metadata == {"settings": {"iterations": 200}}


def test_a_list_cannot_be_deleted_once_anyone_has_entered(staff_client, participant):
    """Not even one nobody is in: its panels would be rated by nobody, for good."""
    experiment = participant.experiment
    empty = experiment.trial_lists.exclude(id=participant.trial_list_id).get()
    deletion_refused(staff_client, "triallist", empty.id)
    assert experiment.trial_lists.count() == 2 and empty.items.exists()


def test_a_list_can_be_deleted_before_anyone_has_entered(staff_client, ready_experiment):
    first = ready_experiment.trial_lists.first()
    staff_client.post(
        reverse("admin:experiment_triallist_delete", args=[first.id]), {"post": "yes"}
    )
    assert ready_experiment.trial_lists.count() == 1


def test_saving_a_participant_in_the_admin_keeps_what_happened_meanwhile(staff_client, participant):
    url = reverse("admin:experiment_participant_change", args=[participant.id])
    form = staff_client.get(url).content.decode()
    assert 'name="status"' not in form  # managed by the study, not the researcher
    for index in range(len(participant.trial_order)):  # finishes while the form is open
        answer(participant, index)
    saved = staff_client.post(url, {"excluded": "on", "exclusion_reason": "straight-lining"})
    assert saved.status_code == 302
    participant.refresh_from_db()
    assert participant.status == "completed" and participant.excluded
    assert participant.exclusion_reason == "straight-lining"


def test_the_completion_code_must_match_the_completion_url(staff_client, experiment):
    url = reverse("admin:experiment_experiment_change", args=[experiment.id])
    payload = {
        "slug": "study",
        "title": "Study",
        "completion_code": "OTHER",
        "completion_url": "https://app.prolific.com/submissions/complete?cc=AB12",
        "practice_trials": "2",
        "participants_per_list": "6",
        "hold_minutes": "60",
        "recruitment": "any",
        "is_open": "on",
    }
    refused = staff_client.post(url, payload)
    assert "This URL expects the code AB12 (cc=AB12), not the completion code OTHER" in (
        refused.content.decode()
    )
    assert staff_client.post(url, payload | {"completion_code": "AB12"}).status_code == 302
    experiment.refresh_from_db()
    assert experiment.completion_code == "AB12"


def test_a_cap_or_hold_time_of_zero_is_refused(staff_client, experiment):
    url = reverse("admin:experiment_experiment_change", args=[experiment.id])
    payload = {"slug": "study", "title": "Study", "completion_code": experiment.completion_code}
    payload |= {
        "practice_trials": "2",
        "participants_per_list": "6",
        "hold_minutes": "60",
        "recruitment": "any",
    }
    for field in ("participants_per_list", "hold_minutes"):
        refused = staff_client.post(url, payload | {field: "0"})
        assert "Ensure this value is greater than or equal to 1" in refused.content.decode()
    experiment.refresh_from_db()
    assert (experiment.participants_per_list, experiment.hold_minutes) == (6, 60)


def test_the_slug_and_practice_trials_are_fixed_once_anyone_has_entered(staff_client, participant):
    url = reverse("admin:experiment_experiment_change", args=[participant.experiment.id])
    form = staff_client.get(url).content.decode()
    assert 'name="slug"' not in form and 'name="practice_trials"' not in form
    assert 'name="participants_per_list"' in form  # the cap may still change


def test_the_completion_code_is_fixed_once_a_participant_completed(staff_client, participant):
    """They pasted it where the recruitment site checks it."""
    url = reverse("admin:experiment_experiment_change", args=[participant.experiment.id])
    assert 'name="completion_code"' in staff_client.get(url).content.decode()
    Participant.objects.filter(id=participant.id).update(status=Participant.Status.COMPLETED)
    assert 'name="completion_code"' not in staff_client.get(url).content.decode()
    # A completion URL pasted afterwards that expects another code: said, not a server error.
    code = participant.experiment.completion_code
    payload = {
        "title": "Study",
        "participants_per_list": "6",
        "hold_minutes": "60",
        "recruitment": "any",
    }
    payload["completion_url"] = "https://app.prolific.com/submissions/complete?cc=AB12"
    refused = staff_client.post(url, payload)
    assert refused.status_code == 200
    assert f"take a URL with cc={code}" in refused.content.decode()
    assert staff_client.post(url, payload | {"completion_url": f"https://x.org/?cc={code}"})[
        "Location"
    ]


def test_view_only_staff_cannot_build_lists(client, django_user_model, experiment):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw-12345", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_experiment"))
    client.force_login(user)
    panels_create(experiment, units=4)
    url = reverse("admin:experiment_experiment_changelist")
    payload = {"action": "build_lists", "_selected_action": [experiment.id]}
    client.post(url, payload | {"apply": "1", "lists": "2"})
    assert experiment.trial_lists.count() == 0


def test_progress_counts_places_as_assignment_does(staff_client, ready_experiment):
    from datetime import timedelta

    from django.utils import timezone

    from experiment.models import Participant

    synthetic = participant_enter(experiment=ready_experiment, external_id="sim")
    Participant.objects.filter(id=synthetic.id).update(is_synthetic=True, status="completed")
    visitor = participant_enter(experiment=ready_experiment, external_id="visitor")
    quiet = timezone.now() - timedelta(minutes=20)  # within the hold, past a visitor's 10 min
    Participant.objects.filter(id=visitor.id).update(last_seen_at=quiet)
    url = reverse("admin:experiment_experiment_progress", args=[ready_experiment.id])
    page = staff_client.get(url).content.decode()
    assert "0 completed, 0 in progress and" in page and "1 abandoned" in page
    assert "1 synthetic participants (simulate_responses) are not counted" in page
    assert page.count("0 / 6</td>") == 2  # neither takes a place, as assignment counts


def test_an_exclusion_needs_a_reason(staff_client, participant):
    url = reverse("admin:experiment_participant_change", args=[participant.id])
    refused = staff_client.post(url, {"excluded": "on", "exclusion_reason": "  "})
    assert refused.status_code == 200 and "Say why" in refused.content.decode()
    participant.refresh_from_db()
    assert not participant.excluded


def test_progress_page_gives_the_median_time_to_complete(staff_client, ready_experiment):
    start = timezone.now() - timedelta(days=1)
    for name, minutes in [("a", 10), ("b", 20), ("c", 60), ("excluded", 999)]:
        participant = participant_enter(experiment=ready_experiment, external_id=name)
        Participant.objects.filter(id=participant.id).update(
            status=Participant.Status.COMPLETED,
            started_at=start,
            completed_at=start + timedelta(minutes=minutes),
            excluded=name == "excluded",
            exclusion_reason="test" if name == "excluded" else "",
        )
    url = reverse("admin:experiment_experiment_progress", args=[ready_experiment.id])
    page = staff_client.get(url).content.decode()
    assert "Median time from entry to completion: 20.0 minutes (3 completed)" in page


def test_a_change_page_saved_late_writes_only_what_was_changed_on_it(staff_client, participant):
    """A colleague closed the study, and analyze_ratings excluded a participant, while these
    pages were open: saving them must not reopen the study nor clear the exclusion."""
    experiment = participant.experiment
    shown = {  # what each page showed (its hidden initial-* inputs) and what is sent
        "title": "Study", "consent_text": "", "completion_url": "",
        "completion_code": experiment.completion_code, "participants_per_list": "6",
        "hold_minutes": "60",
        "recruitment": "any",
    }  # fmt: skip
    sent = shown | {"participants_per_list": "7", "is_open": "on"}
    sent |= {f"initial-{name}": value for name, value in shown.items()}
    sent["initial-is_open"] = "True"
    Experiment.objects.filter(id=experiment.id).update(is_open=False)  # meanwhile
    url = reverse("admin:experiment_experiment_change", args=[experiment.id])
    assert staff_client.post(url, sent).status_code == 302
    experiment.refresh_from_db()
    assert (experiment.is_open, experiment.participants_per_list) == (False, 7)

    Participant.objects.filter(id=participant.id).update(excluded=True, exclusion_reason="fast")
    url = reverse("admin:experiment_participant_change", args=[participant.id])
    unchanged = {
        "initial-excluded": "False",
        "exclusion_reason": "",
        "initial-exclusion_reason": "",
    }
    assert staff_client.post(url, unchanged).status_code == 302
    participant.refresh_from_db()
    assert (participant.excluded, participant.exclusion_reason) == (True, "fast")


def test_a_late_page_is_checked_against_what_is_stored_with_its_changes(staff_client, participant):
    """Rules over several fields hold for the row saved: a colleague saved a completion URL
    with the code while this page (showing none) changed the code; analyze_ratings excluded a
    participant while this page cleared the (then empty) reason's box."""
    experiment = participant.experiment
    code = experiment.completion_code
    shown = {
        "title": "Study", "consent_text": "", "completion_url": "", "completion_code": code,
        "participants_per_list": "6", "hold_minutes": "60", "recruitment": "any",
    }  # fmt: skip
    sent = shown | {f"initial-{name}": value for name, value in shown.items()}
    sent |= {"is_open": "on", "initial-is_open": "True", "completion_code": "NEWCODE1"}
    url_with_code = f"https://app.prolific.com/submissions/complete?cc={code}"
    Experiment.objects.filter(id=experiment.id).update(completion_url=url_with_code)
    url = reverse("admin:experiment_experiment_change", args=[experiment.id])
    refused = staff_client.post(url, sent).content.decode()
    assert f"This URL expects the code {code} (cc={code})" in refused
    assert "Someone saved Completion url since this page was opened" in refused
    experiment.refresh_from_db()
    assert experiment.completion_code == code

    Participant.objects.filter(id=participant.id).update(excluded=True, exclusion_reason="fast")
    url = reverse("admin:experiment_participant_change", args=[participant.id])
    cleared = {"initial-excluded": "False", "exclusion_reason": "", "initial-exclusion_reason": "x"}
    refused = staff_client.post(url, cleared)
    assert "Say why: the report and the exports show the reason." in refused.content.decode()
    participant.refresh_from_db()
    assert (participant.excluded, participant.exclusion_reason) == (True, "fast")


def test_a_field_fixed_since_the_page_was_opened_is_refused_not_dropped(staff_client, experiment):
    """The page was opened before anyone entered, so it offered the slug and practice trials;
    someone entered before it was sent. Saying "changed successfully" while leaving them would
    hide that the change was not made."""
    panels_create(experiment, units=2)
    experiment_lists_build(experiment=experiment, lists=1, seed=0)
    shown = {
        "slug": "study", "title": "Study", "consent_text": "", "completion_url": "",
        "completion_code": experiment.completion_code, "practice_trials": "2",
        "participants_per_list": "6", "hold_minutes": "60", "recruitment": "any",
    }  # fmt: skip
    sent = shown | {f"initial-{name}": value for name, value in shown.items()}
    participant_enter(experiment=experiment, external_id="p1")  # after the page was opened
    url = reverse("admin:experiment_experiment_change", args=[experiment.id])
    refused = staff_client.post(url, sent | {"slug": "renamed", "practice_trials": "1"})
    assert refused.status_code == 200
    assert refused.content.decode().count("Someone has entered the study since this page") == 2
    experiment.refresh_from_db()
    assert (experiment.slug, experiment.practice_trials) == ("study", 2)
    assert staff_client.post(url, sent | {"title": "Renamed"}).status_code == 302
    experiment.refresh_from_db()
    assert (experiment.slug, experiment.title) == ("study", "Renamed")


def test_a_participant_deleted_while_their_page_was_open_is_said_not_a_server_error(participant):
    form_class = modelform_factory(Participant, form=ParticipantForm, fields=["exclusion_reason"])
    sent = {"exclusion_reason": "noted", "initial-exclusion_reason": ""}
    form = form_class(sent, instance=participant)
    Participant.objects.filter(pk=participant.pk).delete()
    assert form.non_field_errors() == [
        "This participant was deleted since the page was opened: nothing was saved."
    ]


def test_deleting_more_than_a_thousand_selected_rows_is_confirmed(staff_client, experiment):
    """The confirmation page posts back one field per row: the paper's 3,299 panels exceeded
    Django's default limit of 1,000 fields, and the delete failed with 400 Bad Request."""
    panels_create(experiment, units=1500)
    changelist = reverse("admin:experiment_panel_changelist")
    chosen = {"action": "delete_selected", "select_across": "1", "index": "0"}
    page = staff_client.post(changelist, chosen | {"_selected_action": [Panel.objects.first().pk]})
    assert page.content.decode().count('name="_selected_action"') == 1500
    every = list(Panel.objects.values_list("pk", flat=True))
    answer = staff_client.post(changelist, chosen | {"_selected_action": every, "post": "yes"})
    assert answer.status_code == 302 and not Panel.objects.exists()


def test_a_participants_page_edits_only_the_exclusion(staff_client, participant):
    """browser_bound keeps an id others may know to its first browser: not a box to untick."""
    url = reverse("admin:experiment_participant_change", args=[participant.id])
    form = staff_client.get(url).context["adminform"].form
    assert sorted(form.fields) == ["excluded", "exclusion_reason"]


def test_an_experiment_delete_allowed_on_the_page_is_refused_if_someone_entered_meanwhile(
    staff_client, ready_experiment, monkeypatch
):
    """The page counted nobody (an arrival not yet committed): the delete takes the lock
    arrivals take and checks again, instead of failing on their rows with a server error."""
    nobody = ([], {}, set(), [])  # what the confirmation page saw
    monkeypatch.setattr(ExperimentAdmin, "get_deleted_objects", lambda *args: nobody)
    participant_enter(experiment=ready_experiment, external_id="meanwhile")
    url = reverse("admin:experiment_experiment_delete", args=[ready_experiment.id])
    assert staff_client.post(url, {"post": "yes"}).status_code == 403
    assert Experiment.objects.filter(id=ready_experiment.id).exists()
