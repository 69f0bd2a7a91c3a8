"""An experiment's recruitment: which ways in new participants may take (Prolific, MTurk, any)."""

import csv

import pytest
from django.core.management import call_command
from django.test import Client

from experiment.models import Experiment, Participant
from experiment.mturk import PREVIEW_ASSIGNMENT_ID
from experiment.selectors import experiment_problems
from experiment.services import (
    StudyUnavailable,
    participant_consent,
    participant_enter,
    participants_withdraw,
)
from tests.experiment.test_mturk import HIT, accepted
from tests.experiment.test_views import enter, study_make

PID = "5f1e2d3c4b5a69788796a5b4"  # a Prolific ID's form: 24 hex digits
PROLIFIC_LINK = {"PROLIFIC_PID": PID, "STUDY_ID": "65aa", "SESSION_ID": "s1"}


@pytest.fixture
def study(tmp_path, db):
    return study_make(tmp_path, practice_trials=2, completion_url="https://example.org/done")


def recruit(study, way: str) -> Experiment:
    experiment = study.experiment
    experiment.recruitment = way
    experiment.save()
    return experiment


def test_prolific_only_lets_in_prolifics_links_alone(client, study):
    recruit(study, Experiment.Recruitment.PROLIFIC)
    participant = enter(client, **PROLIFIC_LINK)
    assert (participant.external_id, participant.entry) == (PID, Participant.Entry.PROLIFIC)
    refused = [
        {"participant": "p1"},  # the study link with an id of one's own
        {"workerId": "A1B2C3"},  # a survey-link worker
        {"PROLIFIC_PID": "made-up", "STUDY_ID": "65aa", "SESSION_ID": "s2"},  # not a PID
        {"PROLIFIC_PID": "6f1e2d3c4b5a69788796a5b4"},  # no study nor session
        {
            "PROLIFIC_PID": "7f1e2d3c4b5a69788796a5b4",
            "STUDY_ID": "{{%STUDY_ID%}}",
            "SESSION_ID": "s3",
        },
    ]
    for query in refused:
        reply = Client().get("/study/demo/", query)
        page = reply.content.decode()
        assert reply.status_code == 200, query
        assert "Please open this study from Prolific" in page, query
    assert Participant.objects.count() == 1


def test_prolific_only_turns_mturk_workers_away_before_they_accept(client, study):
    recruit(study, Experiment.Recruitment.PROLIFIC)
    page = client.get(HIT, {"assignmentId": PREVIEW_ASSIGNMENT_ID}).content.decode()
    assert "from Prolific only" in page and "Please do not accept this HIT" in page
    page = client.get(HIT, accepted()).content.decode()
    assert "Please return this HIT" in page and "from Prolific only" in page
    assert not Participant.objects.exists()


def test_mturk_only_lets_in_the_hits_workers_alone(client, study):
    recruit(study, Experiment.Recruitment.MTURK)
    for query in ({"participant": "p1"}, PROLIFIC_LINK, {"workerId": "A1B2C3"}, {}):
        page = Client().get("/study/demo/", query).content.decode()
        assert "Please take part through the HIT" in page, query
    assert not Participant.objects.exists()
    page = client.get(HIT, accepted()).content.decode()
    assert "Open the study" in page
    assert Participant.objects.get().entry == Participant.Entry.MTURK_HIT


def test_a_restricted_study_asks_nobody_to_type_an_id(client, study):
    recruit(study, Experiment.Recruitment.PROLIFIC)
    page = client.get("/study/demo/").content.decode()
    assert "Please open this study from Prolific" in page
    assert 'name="participant"' not in page
    page = client.get("/study/demo/", {"PROLIFIC_PID": "{{%PROLIFIC_PID%}}"}).content.decode()
    assert "placeholder" in page and 'name="participant"' not in page


def test_the_participants_export_says_how_each_came_in(client, study, tmp_path):
    enter(client, **PROLIFIC_LINK)
    enter(Client(), participant="p1")
    out = tmp_path / "participants.csv"
    call_command("export_participants", experiment="demo", out=str(out))
    assert [row["entry"] for row in csv.DictReader(out.open())] == ["prolific", "link"]


def test_participants_already_in_go_on_after_the_recruitment_narrows(client, study):
    """Recruitment decides who may join: someone who joined by the study link still goes on."""
    first = enter(client, participant="p1")
    recruit(study, Experiment.Recruitment.PROLIFIC)
    assert enter(client, participant="p1").id == first.id


def test_the_service_refuses_without_creating_anything(study):
    experiment = recruit(study, Experiment.Recruitment.MTURK)
    with pytest.raises(StudyUnavailable) as refusal:
        participant_enter(experiment=experiment, external_id="p1", entry="link")
    assert refusal.value.reason == "mturk_only"
    assert not Participant.objects.exists()


def test_a_study_through_mturk_alone_needs_no_completion_url(study):
    experiment = recruit(study, Experiment.Recruitment.MTURK)
    experiment.completion_url = ""
    experiment.save()
    assert not any(
        "completion URL" in problem for problem in experiment_problems(experiment=experiment)
    )
    experiment.recruitment = Experiment.Recruitment.PROLIFIC
    assert any(
        "completion URL" in problem for problem in experiment_problems(experiment=experiment)
    )


def test_the_progress_page_gives_only_the_links_that_let_people_in(admin_client, study):
    experiment = recruit(study, Experiment.Recruitment.PROLIFIC)
    progress = f"/admin/experiment/experiment/{experiment.id}/progress/"
    page = admin_client.get(progress).content.decode()
    assert "Study link for Prolific" in page and "ExternalURL" not in page
    assert "Prolific only" in page
    recruit(study, Experiment.Recruitment.MTURK)
    page = admin_client.get(progress).content.decode()
    assert "Study link for Prolific" not in page and "ExternalURL" in page


def test_a_withdrawn_participant_is_told_so_whichever_way_they_come_back(client, study):
    participant = enter(client, **PROLIFIC_LINK)
    participant_consent(participant=participant)
    participants_withdraw(participants=[participant])
    recruit(study, Experiment.Recruitment.PROLIFIC)
    page = client.get("/study/demo/", {"PROLIFIC_PID": PID}).content.decode()  # no STUDY_ID
    assert "You have withdrawn from this study" in page


def test_a_participant_refused_for_another_reason_is_not_sent_to_prolific(client, study):
    """Someone who joined by the study link before Prolific only, from another browser: the
    refusal says why, with no advice to open a Prolific page they never used."""
    enter(client, participant="p1")
    recruit(study, Experiment.Recruitment.PROLIFIC)
    page = Client().get("/study/demo/", {"participant": "p1"}).content.decode()
    assert "already started the study in another browser" in page
    assert "Prolific only" not in page and 'name="participant"' not in page
