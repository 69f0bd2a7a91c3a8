"""build_lists, export_responses and demo_experiment from the command line."""

import csv
import errno
import os
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from experiment.digits import digit_unit_panels_write
from experiment.export import (
    CSV_COLUMNS,
    PERSONAL_COLUMNS,
    participant_pseudonym,
    pseudonym_key,
)
from experiment.models import Experiment, Panel, Participant
from experiment.selectors import experiment_problems
from experiment.services import (
    StudyUnavailable,
    participant_consent,
    participant_enter,
    participant_pilot_create,
    participants_withdraw,
)
from tests.experiment.conftest import panels_create
from tests.experiment.test_responses import answer

ANDROID_USER_AGENT = (
    "Mozilla/5.0 (Linux; Android 13; SM-G991B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)


def test_build_lists_command_reports_the_lists(experiment, capsys):
    panels_create(experiment, layer="fc6", units=7)
    call_command("build_lists", experiment="study", lists=3, seed=9)
    assert "Built 3 lists for study (seed 9): 2 to 3 panels each." in capsys.readouterr().out
    assert experiment.trial_lists.count() == 3


def test_build_lists_command_refuses_with_a_clear_message(ready_experiment):
    participant_enter(experiment=ready_experiment, external_id="p")
    with pytest.raises(CommandError, match="already has participants"):
        call_command("build_lists", experiment="study", lists=2)
    with pytest.raises(CommandError, match="No experiment 'nope'"):
        call_command("build_lists", experiment="nope", lists=2)


def test_export_writes_one_row_per_response_with_the_named_columns(participant, tmp_path):
    answer(participant, 0, q1="yes", q2=4, q3="dog, cat", response_ms=812)
    answer(participant, 1)
    answer(participant, 2)
    out = tmp_path / "responses.csv"
    call_command("export_responses", experiment="study", out=str(out))
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == 3
    first, _, second = rows
    assert first["external_id"] == "p1"
    assert (first["q1"], first["q2_bin"], first["q2_label"]) == ("yes", "4", "80-100%")
    assert (first["q3_first"], first["q3_second"]) == ("dog", "cat")
    assert (first["is_practice"], first["unit"], first["response_ms"]) == ("1", "", "812")
    main_panel = Panel.objects.get(id=second["panel_id"])
    assert (second["network"], second["layer"]) == (main_panel.network, main_panel.layer)
    assert second["unit"] == str(main_panel.unit)
    assert second["list"] == str(participant.trial_list.number)
    assert (second["trial_index"], second["q1"], second["q2_bin"]) == ("2", "no", "")
    assert second["panel_source"] == main_panel.source and second["exclusion_reason"] == ""


def test_participants_export_has_what_approving_submissions_needs(participant, tmp_path):
    for index in range(len(participant.trial_order)):
        answer(participant, index)
    Participant.objects.filter(id=participant.id).update(user_agent=ANDROID_USER_AGENT)
    Participant.objects.create(experiment=participant.experiment, external_id="p2")
    out = tmp_path / "participants.csv"
    call_command("export_participants", experiment="study", out=str(out))
    done, new = csv.DictReader(out.open())
    assert (done["external_id"], done["participant_status"]) == ("p1", "completed")
    assert (done["answered"], done["trials"]) == ("5", "5") and float(done["minutes"]) >= 0
    assert (new["external_id"], new["answered"], new["completed_at"]) == ("p2", "0", "")
    assert (done["feedback"], new["feedback"]) == ("", "")
    assert (done["user_agent"], new["user_agent"]) == (ANDROID_USER_AGENT, "")
    assert (done["entry"], new["entry"]) == ("", "")  # entered by the services, not a link
    assert out.stat().st_mode & 0o777 == 0o600  # participants' ids: readable by its owner only


def test_exports_escape_text_a_spreadsheet_would_run_as_a_formula(ready_experiment, tmp_path):
    """A forged id or a Q3 answer starting with = + - @ (or ') gets a leading apostrophe, in
    both files; other text and the numbers are written as they are."""
    formula_id = '=HYPERLINK("http://evil.example","x")'
    participant = participant_enter(
        experiment=ready_experiment, external_id=formula_id, prolific_session_id="@SUM(1)"
    )
    participant_consent(participant=participant)
    answer(participant, 0, q1="yes", q2=1, q3="+1+1, -dog")
    answer(participant, 1, q1="yes", q2=1, q3="cat, 'tis")
    responses, participants = tmp_path / "responses.csv", tmp_path / "participants.csv"
    call_command("export_responses", experiment="study", out=str(responses))
    call_command("export_participants", experiment="study", out=str(participants))
    first, second = csv.DictReader(responses.open())
    assert (first["external_id"], first["prolific_session_id"]) == ("'" + formula_id, "'@SUM(1)")
    assert (first["q3_first"], first["q3_second"]) == ("'+1+1", "'-dog")
    # A leading apostrophe is escaped too, so dropping one from every cell undoes it exactly.
    assert (second["q3_first"], second["q3_second"]) == ("cat", "''tis")
    assert second["response_ms"] == "1500"
    [row] = csv.DictReader(participants.open())
    assert row["external_id"] == "'" + formula_id
    participant.refresh_from_db()
    assert participant.external_id == formula_id  # stored as typed


def test_anonymous_exports_leave_out_recruitment_ids_and_pilot_runs(participant, tmp_path, capsys):
    """A data set to publish: a pseudonym links the rows; no platform id, free text about the
    participant or pilot run."""
    answer(participant, 0, q1="yes", q2=4, q3="dog")
    Participant.objects.filter(id=participant.id).update(
        prolific_session_id="SESSIONX",
        mturk_assignment_id="ASSIGNMENTX",
        feedback="I am Jane",
        excluded=True,
        exclusion_reason="same person as Jim",
        user_agent=ANDROID_USER_AGENT,
    )
    pilot = participant_pilot_create(experiment=participant.experiment, by="boss")
    participant_consent(participant=pilot)
    answer(pilot, 0)
    simulated = participant_enter(experiment=participant.experiment, external_id="simulated")
    Participant.objects.filter(id=simulated.id).update(is_synthetic=True)
    participant_enter(experiment=participant.experiment, external_id="left-at-consent")
    responses, participants = tmp_path / "responses.csv", tmp_path / "participants.csv"
    call_command("export_responses", experiment="study", out=str(responses), anonymous=True)
    assert "Wrote 1 responses of study (anonymous)" in capsys.readouterr().out
    call_command("export_participants", experiment="study", out=str(participants), anonymous=True)
    for path in (responses, participants):
        text = path.read_text()
        secrets = ("p1", "SESSIONX", "ASSIGNMENTX", "Jane", "Jim", pilot.external_id, "boss")
        secrets += ("SM-G991B",)  # the phone's model, in its user agent
        for secret in (
            *secrets,
            participant_pseudonym(
                simulated.id, key=b"test-pseudonym-key-of-at-least-32-characters"
            ),
        ):
            assert secret not in text, (path.name, secret)
        [row] = csv.DictReader(path.open())  # not the visitor who never consented
        assert row["participant_id"] == participant_pseudonym(
            participant.id, key=b"test-pseudonym-key-of-at-least-32-characters"
        )
        assert row["excluded"] == "1" and not set(PERSONAL_COLUMNS) & set(row)
    [row] = csv.DictReader(responses.open())
    assert list(row) == [name for name in CSV_COLUMNS if name not in PERSONAL_COLUMNS]
    assert (row["q1"], row["q3_first"]) == ("yes", "dog")


def test_without_a_configured_key_pseudonyms_use_one_made_once_for_the_installation(
    settings, tmp_path, db
):
    settings.PSEUDONYM_KEY, settings.VAR_DIR = "", tmp_path / "var"
    key = pseudonym_key()
    assert len(key) == 64 and pseudonym_key() == key  # made once, then kept
    assert (tmp_path / "var" / "pseudonym-key").stat().st_mode & 0o777 == 0o600
    assert participant_pseudonym(1, key=key) != participant_pseudonym(1, key=b"other")
    assert participant_pseudonym(1, key=key) != participant_pseudonym(2, key=key)


def test_a_pseudonym_key_too_short_to_be_secret_is_refused(settings, tmp_path):
    settings.PSEUDONYM_KEY = "short"
    with pytest.raises(ImproperlyConfigured, match="DJANGO_PSEUDONYM_KEY has 5 characters"):
        pseudonym_key()
    settings.PSEUDONYM_KEY, settings.VAR_DIR = "", tmp_path
    (tmp_path / "pseudonym-key").write_text("")  # an emptied or cut-off file
    with pytest.raises(ImproperlyConfigured, match="pseudonym-key has 0 characters"):
        pseudonym_key()


def test_a_lost_key_is_not_made_anew_while_withdrawals_need_it(participant, settings, tmp_path):
    """The withdrawals' digests were made with it: a new key would let them all in again."""
    settings.PSEUDONYM_KEY, settings.VAR_DIR = "", tmp_path / "var"
    participants_withdraw(participants=[participant])
    (tmp_path / "var" / "pseudonym-key").unlink()  # a restore without the key file
    with pytest.raises(ImproperlyConfigured, match="restore it from your backup"):
        participant_enter(experiment=participant.experiment, external_id="p1")
    assert not (tmp_path / "var" / "pseudonym-key").exists()


def test_another_key_than_the_withdrawals_were_stored_with_is_refused(participant, settings):
    """A restore with another env file, or a change from the key file to DJANGO_PSEUDONYM_KEY:
    no withdrawn id would be recognised."""
    participants_withdraw(participants=[participant])
    settings.PSEUDONYM_KEY = "another-key-of-at-least-thirty-two-characters"
    with pytest.raises(ImproperlyConfigured, match="not the one the stored withdrawals were made"):
        participant_enter(experiment=participant.experiment, external_id="p1")
    settings.PSEUDONYM_KEY = "test-pseudonym-key-of-at-least-32-characters"  # restored
    with pytest.raises(StudyUnavailable):
        participant_enter(experiment=participant.experiment, external_id="p1")


def test_a_key_another_user_made_says_to_run_as_one_user(settings, tmp_path, db, monkeypatch):
    settings.PSEUDONYM_KEY, settings.VAR_DIR = "", tmp_path
    (tmp_path / "pseudonym-key").write_text("k" * 64)

    def refused(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("pathlib.Path.read_text", refused)
    with pytest.raises(ImproperlyConfigured, match="cannot be read by this user"):
        pseudonym_key()


def test_export_to_a_missing_folder_is_refused(participant, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_responses", experiment="study", out=str(tmp_path / "x" / "r.csv"))


def test_a_failed_export_leaves_the_earlier_file_as_it_was(participant, tmp_path, monkeypatch):
    out = tmp_path / "participants.csv"
    out.write_text("the earlier export\n")
    out.chmod(0o644)

    def failing(**kwargs):
        kwargs["stream"].write("half a row")
        raise RuntimeError("database went away")

    command = "experiment.management.commands.export_participants.Command.write"
    monkeypatch.setattr(command, staticmethod(failing))
    with pytest.raises(RuntimeError, match="database went away"):
        call_command("export_participants", experiment="study", out=str(out))
    assert out.read_text() == "the earlier export\n" and list(tmp_path.iterdir()) == [out]
    monkeypatch.undo()
    call_command("export_participants", experiment="study", out=str(out))
    assert out.read_text().startswith("participant_id,")
    assert out.stat().st_mode & 0o777 == 0o600


def test_an_export_on_a_full_disk_says_so_and_leaves_the_earlier_file(
    participant, tmp_path, monkeypatch
):
    out = tmp_path / "responses.csv"
    out.write_text("the earlier export\n")

    def disk_full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # where the disk refuses what was written
    with pytest.raises(CommandError) as refused:
        call_command("export_responses", experiment="study", out=str(out))
    assert str(refused.value) == (
        f"{out} was not written: No space left on device (free space on that disk). The earlier "
        "responses.csv is kept as it was."
    )
    assert out.read_text() == "the earlier export\n" and list(tmp_path.iterdir()) == [out]


def test_a_pseudonym_key_a_full_var_dir_cannot_hold_is_named(
    participant, tmp_path, settings, monkeypatch
):
    """Made on the first anonymous export: its failure names the key's file, not the export."""
    settings.PSEUDONYM_KEY, settings.VAR_DIR = "", tmp_path / "var"

    def disk_full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    out = tmp_path / "responses.csv"
    with pytest.raises(CommandError) as refused:
        call_command("export_responses", experiment="study", out=str(out), anonymous=True)
    assert str(refused.value) == (
        f"{out} was not written: {tmp_path / 'var' / 'pseudonym-key'}: No space left on device "
        "(free space on that disk)."
    )
    assert not any((tmp_path / "var").iterdir()) and not out.exists()


def test_export_to_a_folder_asks_for_a_file_name(participant, tmp_path):
    with pytest.raises(CommandError, match="it is a folder; give a file name"):
        call_command("export_participants", experiment="study", out=str(tmp_path))


def test_demo_experiment_leaves_an_admin_it_did_not_make_alone(
    db, capsys, tmp_path, settings, django_user_model
):
    settings.VAR_DIR = tmp_path
    django_user_model.objects.create_user("admin", password="the-real-one", is_staff=True)
    call_command("demo_experiment", experiment="demo")
    assert "already exists; it was left as it is" in capsys.readouterr().out
    user = authenticate(username="admin", password="the-real-one")
    assert user is not None and not user.is_superuser


def test_demo_experiment_runs_twice_and_prints_working_credentials(db, capsys, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("demo_experiment", experiment="demo")
    first = capsys.readouterr().out
    assert "Created experiment demo." in first
    assert "Practice panels imported: 7" in first
    call_command("demo_experiment", experiment="demo")
    second = capsys.readouterr().out
    assert "Found experiment demo." in second
    assert "Practice panels imported: 0" in second
    password = second.split("password ")[1].strip().strip("'")
    assert password == first.split("password ")[1].strip().strip("'")  # the same on every run
    assert authenticate(username="admin", password=password).is_superuser
    experiment = Experiment.objects.get(slug="demo")
    assert "voluntary" in experiment.consent_text
    practice = experiment.panels.filter(is_practice=True)
    assert sorted(practice.values_list("intended_answer", flat=True)) == ["no"] * 3 + ["yes"] * 4
    assert not experiment.trial_lists.exists()
    # One panel more than the practice trials: the instructions' example gives nothing away.
    problems = experiment_problems(experiment=experiment)
    assert not any("gives its answer away" in problem for problem in problems)


def test_demo_experiment_builds_lists_once_main_panels_exist(db, capsys, tmp_path):
    call_command("demo_experiment", experiment="demo")
    digit_unit_panels_write(tmp_path, layer="fc6", units=5, images=4)
    call_command("import_panels", str(tmp_path), experiment="demo", network="digits")
    call_command("demo_experiment", experiment="demo")
    assert "Built 4 trial lists" in capsys.readouterr().out
    participant = participant_enter(experiment=Experiment.objects.get(slug="demo"), external_id="x")
    assert len(participant.trial_order) == 6 + len(participant.trial_list.items.all())


def test_export_marks_participants_silent_past_the_hold_time_abandoned(participant, tmp_path):
    answer(participant, 0)
    Participant.objects.filter(id=participant.id).update(
        last_seen_at=timezone.now() - timedelta(minutes=participant.experiment.hold_minutes + 1)
    )
    out = tmp_path / "responses.csv"
    call_command("export_responses", experiment="study", out=str(out))
    [row] = list(csv.DictReader(out.open()))
    assert row["participant_status"] == "abandoned"


def test_demo_experiment_on_a_full_var_dir_leaves_no_password_file_and_says_so(
    db, tmp_path, settings, monkeypatch
):
    """The password file is written whole or not at all: an empty one gave the admin ''."""
    settings.VAR_DIR = tmp_path

    def disk_full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # where the disk refuses what was written
    with pytest.raises(CommandError) as refused:
        call_command("demo_experiment", experiment="demo")
    assert str(refused.value).startswith(
        f"The demo was not set up in full: {tmp_path / 'demo-admin-password'}: No space left on "
        "device (free space on that disk). Run demo_experiment again once that is mended"
    )
    assert not any(tmp_path.iterdir())
    assert not Experiment.objects.exists()


def test_demo_experiment_makes_a_new_password_where_an_empty_file_was_left(
    db, capsys, tmp_path, settings, django_user_model
):
    """An earlier version on a full disk left an empty file, and gave the admin that password."""
    settings.VAR_DIR = tmp_path
    (tmp_path / "demo-admin-password").write_text("")
    django_user_model.objects.create_superuser("admin", password="")
    call_command("demo_experiment", experiment="demo")
    password = capsys.readouterr().out.split("password ")[1].strip().strip("'")
    assert len(password) >= 16
    assert (tmp_path / "demo-admin-password").read_text() == password + "\n"
    assert authenticate(username="admin", password=password).is_superuser
