"""analyze_ratings: files, printed table, bad input, real vs synthetic, exclusions."""

import json
import re
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from analysis.labels import AgreementSettings
from analysis.models import SelectivityScore
from analysis.selectors import ratings_report
from experiment.export import participant_pseudonym
from tests.analysis.ratings_data import (  # noqa: F401  (label_cache_in_tmp: autouse fixture)
    add_second_panel_of_a_unit,
    answer_all,
    build_experiment,
    label_cache_in_tmp,
)

pytestmark = pytest.mark.django_db


def analyze(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("analyze_ratings", *args, stdout=out)
    return out.getvalue()


def exclude(participant, reason: str) -> None:
    """As a researcher does in the participant's admin page."""
    from experiment.models import Participant

    Participant.objects.filter(pk=participant.pk).update(excluded=True, exclusion_reason=reason)


def test_unknown_experiment_names_the_known_ones():
    build_experiment("known")
    with pytest.raises(CommandError, match="No experiment 'nope' \\(existing: known\\)"):
        analyze("--experiment", "nope")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--seed", "-1", "--bootstrap", "5"], "seed must be 0 or more, not -1"),
        (["--bootstrap", "1"], "0 \\(none\\) or at least 2"),
        (["--bootstrap", "-2"], "0 \\(none\\) or at least 2"),
        (["--threshold", "1.5"], "threshold must be in \\(0, 1\\], not 1.5"),
    ],
)
def test_bad_table_settings_are_clear_errors(tmp_path, arguments, message):
    build_experiment("known")
    with pytest.raises(CommandError, match=message):
        analyze("--experiment", "known", *arguments, "--out", str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def test_no_responses_gives_an_empty_report_that_says_so(tmp_path):
    build_experiment("empty")
    output = analyze("--experiment", "empty", "--out", str(tmp_path))
    assert "No main-trial responses" in output
    assert (tmp_path / "report.md").exists()


def test_writes_table_files_and_figures_and_prints_table1(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "p1", yes=lambda panel: panel.layer == "fc8", label="eggnog")
    answer_all(experiment, "p2", yes=lambda panel: panel.layer == "fc8", label="drinks")
    output = analyze("--experiment", "exp", "--out", str(tmp_path))
    assert "| alexnet | conv5 | 4 | 8 | 0.0% (±0.0%)" in output
    assert "| alexnet | fc8 | 4 | 8 | 100.0% (±0.0%) | 100.0% (±0.0%) | 100.0%" in output
    for name in ("table1.csv", "units.csv", "correlations.csv", "report.md", "table1.png"):
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "interpretable_selectivity.csv").exists()
    assert (
        "## Selectivity of the units with at least 80% 'yes' against the rest"
        in (tmp_path / "report.md").read_text()
    )
    assert "2 real participants analysed" in output


def test_a_folder_holding_an_export_of_a_reports_file_name_is_refused(tmp_path):
    """export_participants' participants.csv (approval marks, say) is never overwritten."""
    build_experiment()
    (tmp_path / "participants.csv").write_text("approved\n")
    with pytest.raises(CommandError, match="holds participants.csv, which no earlier report"):
        analyze("--experiment", "exp", "--out", str(tmp_path))
    assert (tmp_path / "participants.csv").read_text() == "approved\n"
    assert not (tmp_path / "report.md").exists()


def test_a_report_naming_participants_is_readable_by_its_owner_only(settings, tmp_path):
    """As the exports: it holds recruitment-site ids. An anonymous one is for publishing."""
    settings.VAR_DIR = tmp_path
    experiment = build_experiment()
    answer_all(experiment, "PROLIFIC-ID-1", yes=True)
    analyze("--experiment", "exp", "--out", str(tmp_path / "full"))
    analyze("--experiment", "exp", "--anonymous", "--out", str(tmp_path / "public"))
    for folder, mode in (("full", 0o600), ("public", 0o644)):
        files = [path for path in (tmp_path / folder).iterdir() if not path.name.startswith(".")]
        assert files and {path.stat().st_mode & 0o777 for path in files} == {mode}, folder


def test_report_csvs_escape_participant_text_a_spreadsheet_would_run(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "=cmd|' /C calc'!A0", yes=True, label="@eggnog")
    answer_all(experiment, "p2", yes=True, label="eggnog")
    analyze("--experiment", "exp", "--out", str(tmp_path))
    participants = pd.read_csv(tmp_path / "participants.csv", keep_default_na=False)
    assert sorted(participants["external_id"]) == ["'=cmd|' /C calc'!A0", "p2"]
    for path in tmp_path.glob("*.csv"):
        cells = pd.read_csv(path, dtype=str, keep_default_na=False).to_numpy().ravel()
        assert not [cell for cell in cells if cell.startswith(("=", "@"))], path.name


def test_practice_trials_are_left_out_of_table1_and_reported_separately():
    experiment = build_experiment(units_per_layer={"fc8": 2}, practice=2)
    answer_all(experiment, "p1", yes=True, label="eggnog")
    report = ratings_report(experiment=experiment)
    assert report.table1.iloc[0]["responses"] == 2  # 2 main panels, not 4
    assert sorted(report.practice["accuracy"]) == [0.0, 100.0]  # said yes to the 'no' panel


def test_units_without_selectivity_scores_are_reported(tmp_path):
    experiment = build_experiment(scores=False)
    answer_all(experiment, "p1", yes=True, label="dog")
    output = analyze("--experiment", "exp", "--out", str(tmp_path))
    assert "8 rated units have no selectivity scores" in output
    assert "compute_selectivity" in output


def test_units_a_registered_network_does_not_have_are_named_not_sent_to_compute(tmp_path):
    """vgg16's layer is conv5_3, and its fc8 has 1000 units: compute_selectivity would refuse
    both, so the report says what is wrong with the panels instead."""
    from experiment.models import Panel

    experiment = build_experiment(scores=False)  # alexnet's conv5 and fc8 units 0-3
    main = Panel.objects.filter(experiment=experiment, is_practice=False)
    main.update(network="vgg16")
    main.filter(layer="fc8", unit=3).update(unit=5000)
    answer_all(experiment, "p1", yes=True, label="dog")
    notes = ratings_report(experiment=experiment).notes
    outside = [note for note in notes if "of the registered network vgg16" in note]
    assert outside == [
        "4 rated units are not units of the registered network vgg16 (e.g. vgg16 conv5.0, "
        "vgg16 conv5.1, vgg16 conv5.2, vgg16 conv5.3): vgg16 has no layer conv5 (its layers: "
        "conv5_3, fc6, fc7, fc8). Such panels were likely imported under a wrong layer name "
        "or unit numbering (import_panels --layer; units count from 0), or come from another "
        "network of the same name; compute_selectivity cannot score such units, and (d), (e) "
        "and the correlations leave them out.",
        "1 rated unit is not a unit of the registered network vgg16 (e.g. vgg16 fc8.5000): "
        "vgg16 fc8 has units 0-999. Such panels were likely imported under a wrong layer name "
        "or unit numbering (import_panels --layer; units count from 0), or come from another "
        "network of the same name; compute_selectivity cannot score such units, and (d), (e) "
        "and the correlations leave them out.",
    ]
    assert any(note.startswith("3 rated units have no selectivity scores") for note in notes)


def test_synthetic_participants_are_not_mixed_with_real_ones_unless_asked(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "real", yes=True, label="dog")
    answer_all(experiment, "fake", yes=False, synthetic=True)
    assert ratings_report(experiment=experiment).table1["a"].tolist() == [100.0, 100.0]
    synthetic = ratings_report(experiment=experiment, participants="synthetic")
    assert synthetic.table1["a"].tolist() == [0.0, 0.0]
    assert "1 synthetic participant analysed" in synthetic.notes[0]
    both = ratings_report(experiment=experiment, participants="all")
    assert both.table1["a"].tolist() == [50.0, 50.0]
    assert both.notes[0].startswith("Experiment exp: 2 participants analysed")


def test_only_synthetic_participants_need_an_explicit_choice(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "fake", yes=True, synthetic=True)
    with pytest.raises(CommandError, match="only synthetic participants.*--participants synthetic"):
        analyze("--experiment", "exp", "--out", str(tmp_path))
    output = analyze("--experiment", "exp", "--participants", "synthetic", "--out", str(tmp_path))
    assert "1 synthetic participant analysed" in output


def test_pilot_runs_are_never_analysed_nor_taken_for_real_participants(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "fake", yes=True, synthetic=True)
    pilot = answer_all(experiment, "pilot-1", yes=False)
    pilot.is_pilot, pilot.excluded = True, True
    pilot.save()
    with pytest.raises(CommandError, match="only synthetic participants"):
        analyze("--experiment", "exp", "--out", str(tmp_path))
    report = ratings_report(experiment=experiment, participants="all")
    assert report.table1["a"].tolist() == [100.0, 100.0]
    assert (
        "(answered: 0 real, 1 synthetic; 0 excluded and left out; pilot runs, never analysed: 1)"
        in (report.notes[0])
    )
    assert "pilot-1" not in set(report.quality["external_id"])


def test_an_anonymous_report_names_participants_as_the_anonymous_exports_do(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    experiment = build_experiment()
    SelectivityScore.objects.update(source="/home/alice/acts.h5")
    participant = answer_all(experiment, "PROLIFIC-ID-1", yes=True)
    exclude(answer_all(experiment, "other", yes=False), "knows Alice")
    analyze("--experiment", "exp", "--anonymous")
    folder = tmp_path / "analysis" / "exp-real-anonymous"  # never the full report's folder
    for path in folder.iterdir():
        if path.suffix in {".csv", ".md", ".json"}:
            for secret in ("PROLIFIC-ID-1", "other", "Alice", "alice"):
                assert secret not in path.read_text(), (path.name, secret)
    people = pd.read_csv(folder / "participants.csv")
    assert "external_id" not in people.columns and "exclusion_reason" not in people.columns
    assert participant_pseudonym(
        participant.id, key=b"test-pseudonym-key-of-at-least-32-characters"
    ) in set(people["participant"])
    assert set(pd.read_csv(folder / "units.csv")["source"].dropna()) == {"acts.h5"}
    assert json.loads((folder / "settings.json").read_text())["anonymous"] is True


def test_excluded_participants_are_left_out_and_counted():
    experiment = build_experiment()
    answer_all(experiment, "good", yes=True)
    bad = answer_all(experiment, "bad", yes=False)
    exclude(bad, "straight-lining")
    report = ratings_report(experiment=experiment)
    assert report.table1["a"].tolist() == [100.0, 100.0]
    assert "1 real excluded and left out" in report.notes[0]
    # A report of the synthetic ones counts none of the real exclusions.
    answer_all(experiment, "fake", yes=True, synthetic=True)
    report = ratings_report(experiment=experiment, participants="synthetic")
    assert "0 synthetic excluded and left out" in report.notes[0]


def test_answers_in_a_script_wordnet_cannot_read_are_counted_in_the_notes():
    experiment = build_experiment(units_per_layer={"fc8": 2}, practice=0)
    answer_all(experiment, "p1", yes=True, label="狗")
    answer_all(experiment, "p2", yes=True, label="eggnog 蛋酒")
    answer_all(experiment, "p3", yes=True, label="eggnog")
    notes = ratings_report(experiment=experiment).notes
    assert (
        "4 'yes' answers hold words in a script the label agreement cannot read (e.g. Greek, "
        "Chinese): those words are left out of the labels, and 2 of them are left without a "
        "label, which (c)-(e) leave out." in notes
    )


def test_a_dash_for_c_is_explained_when_no_unit_has_two_labelled_answers():
    experiment = build_experiment(units_per_layer={"fc8": 2}, lists=2, practice=0)
    answer_all(experiment, "p1", yes=True, label="eggnog", trials=1)
    answer_all(experiment, "p2", yes=True, label="", trials=1)  # a 'yes' without a label
    report = ratings_report(experiment=experiment)
    assert np.isnan(report.table1.iloc[0]["c"])
    assert (
        "(c) is '–' for alexnet fc8: none of its consistently interpretable units has labelled "
        "'yes' answers of two participants to compare" in " ".join(report.notes)
    )


def test_exclude_flagged_excludes_fast_all_same_participants_and_says_who_and_why(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "careful", yes=lambda panel: panel.layer == "fc8")
    hasty = answer_all(experiment, "hasty", yes=True, ms=300)
    output = analyze("--experiment", "exp", "--exclude-flagged", "--out", str(tmp_path))
    assert "Excluded 1 flagged participant:\n  hasty: all answers the same; median time" in output
    hasty.refresh_from_db()
    assert hasty.excluded and "median time 0.3 s" in hasty.exclusion_reason
    assert "1 real participant analysed" in output


def test_a_bot_that_makes_up_its_response_times_is_flagged_and_leaves_table1(tmp_path):
    """The security review's bot, through the services the trial page calls: its answers vary
    and claim 4000 + 37 i ms each, but arrive at once. The server's clock flags it, so
    --exclude-flagged takes its ratings out of Table 1."""
    from experiment.services import participant_consent, participant_enter, response_record

    experiment = build_experiment()
    answer_all(experiment, "careful", yes=lambda panel: panel.layer == "fc8")
    bot = participant_enter(experiment=experiment, external_id="bot")
    participant_consent(participant=bot)
    for index, panel_id in enumerate(bot.trial_order):
        said_yes = experiment.panels.get(pk=panel_id).layer == "fc8"
        response_record(
            participant=bot, trial_index=index, panel_id=panel_id, q1="yes" if said_yes else "no",
            q2=4 if said_yes else None, q3="drink" if said_yes else "",
            response_ms=4000 + 37 * index,
        )  # fmt: skip
    output = analyze("--experiment", "exp", "--exclude-flagged", "--out", str(tmp_path))
    bot.refresh_from_db()
    assert bot.status == "completed" and bot.excluded
    assert re.match(r"median time 0\.\d s by the server's clock < 2 s", bot.exclusion_reason)
    assert "1 real participant analysed" in output
    table = pd.read_csv(tmp_path / "participants.csv").set_index("external_id")
    assert table.loc["bot", "median_ms"] > 4000 and table.loc["bot", "server_median_ms"] < 1000
    assert table.loc["careful", "server_median_ms"] == 5000
    assert pd.read_csv(tmp_path / "table1.csv")["responses"].sum() == 8  # careful's alone


def test_exclude_flagged_stores_nothing_when_the_report_cannot_be_written(tmp_path):
    """The exclusions would be stored, the list of whom and why never seen."""
    experiment = build_experiment()
    answer_all(experiment, "careful", yes=lambda panel: panel.layer == "fc8")
    hasty = answer_all(experiment, "hasty", yes=True, ms=300)
    (tmp_path / "report.md").write_text("# my notes")  # no report wrote this folder
    with pytest.raises(CommandError, match="choose another folder"):
        analyze("--experiment", "exp", "--exclude-flagged", "--out", str(tmp_path))
    hasty.refresh_from_db()
    assert not hasty.excluded
    assert (tmp_path / "report.md").read_text() == "# my notes"


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("{tmp}/notes.txt/report", "notes.txt is a file, not a folder"),
        ("/proc/report", "/proc does not take new files"),  # a folder that refuses new ones
    ],
)
def test_exclude_flagged_stores_nothing_when_the_folder_cannot_be_made(tmp_path, out, message):
    """The check passed a folder not there yet, found unmakeable only after the exclusions."""
    if not Path("/proc").is_dir():
        pytest.skip("needs Linux's /proc")
    experiment = build_experiment()
    answer_all(experiment, "careful", yes=lambda panel: panel.layer == "fc8")
    hasty = answer_all(experiment, "hasty", yes=True, ms=300)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CommandError, match=f"Cannot write the report to .*{message}"):
        analyze("--experiment", "exp", "--exclude-flagged", "--out", out.format(tmp=tmp_path))
    hasty.refresh_from_db()
    assert not hasty.excluded
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_exclude_flagged_never_excludes_a_participant_still_in_progress(tmp_path):
    """Between the practice and the main trials, or after two fast trials, a participant is
    listed but neither flagged nor excluded: they may yet finish well."""
    from experiment.models import Participant

    experiment = build_experiment()
    answer_all(experiment, "careful", yes=lambda panel: panel.layer == "fc8")
    in_progress = Participant.Status.IN_PROGRESS
    starter = answer_all(experiment, "starter", yes=True, trials=2, status=in_progress)
    quick = answer_all(experiment, "quick", yes=True, ms=300, trials=4, status=in_progress)
    output = analyze("--experiment", "exp", "--exclude-flagged", "--out", str(tmp_path))
    assert "Excluded 0 flagged participants." in output
    assert not Participant.objects.filter(pk__in=[starter.pk, quick.pk], excluded=True).exists()
    table = pd.read_csv(tmp_path / "participants.csv", keep_default_na=False)
    shown = table.set_index("external_id").loc[["starter", "quick"]]
    assert shown["status"].tolist() == ["in_progress", "in_progress"]
    assert shown["main_trials"].tolist() == [0, 2] and shown["flags"].tolist() == ["", ""]
    # Their answers so far still count; the starter's practice trials are in no table.
    assert "2 real participants analysed" in output
    assert "1 answered practice trials only, so is in no table" in output


def test_an_abandoned_participant_is_flagged_and_can_be_excluded(tmp_path):
    """Silent past the hold time, their answers count in Table 1, so they are judged too."""
    from datetime import timedelta

    from django.utils import timezone

    from experiment.models import Participant

    experiment = build_experiment()
    answer_all(experiment, "careful", yes=lambda panel: panel.layer == "fc8")
    gone = answer_all(experiment, "gone", yes=True, ms=300, trials=6, status="in_progress")
    Participant.objects.filter(pk=gone.pk).update(last_seen_at=timezone.now() - timedelta(days=3))
    output = analyze("--experiment", "exp", "--exclude-flagged", "--out", str(tmp_path))
    assert "Excluded 1 flagged participant:\n  gone: all answers the same" in output
    table = pd.read_csv(tmp_path / "participants.csv", keep_default_na=False)
    assert table.set_index("external_id").loc["gone", "status"] == "abandoned"


@pytest.mark.parametrize("meanwhile", ["came back", "answered"])
def test_one_who_came_back_or_answered_after_the_report_read_is_not_excluded(meanwhile):
    """A bootstrap takes minutes: the flags are of answers that are no longer all theirs."""
    from datetime import timedelta

    from django.utils import timezone

    from analysis.services import ratings_flagged_exclude
    from experiment.models import Participant, Response

    experiment = build_experiment()
    answer_all(experiment, "careful", yes=lambda panel: panel.layer == "fc8")
    gone = answer_all(experiment, "gone", yes=True, ms=300, trials=6, status="in_progress")
    Participant.objects.filter(pk=gone.pk).update(last_seen_at=timezone.now() - timedelta(days=3))
    report = ratings_report(experiment=experiment)
    assert report.quality.set_index("external_id").loc["gone", "flags"]  # flagged
    if meanwhile == "came back":  # the trial page reloaded: in progress again
        Participant.objects.filter(pk=gone.pk).update(last_seen_at=timezone.now())
    else:  # an answer sent from a page left open, the participant still silent otherwise
        panel = experiment.panels.filter(is_practice=False).order_by("id")[6]
        Response.objects.create(
            participant=gone, panel=panel, trial_index=6, q1_yes=False, response_ms=4000
        )
        Participant.objects.filter(pk=gone.pk).update(
            last_seen_at=timezone.now() - timedelta(days=2)
        )
    assert ratings_flagged_exclude(experiment=experiment, report=report) == []
    gone.refresh_from_db()
    assert not gone.excluded


def test_excluding_every_real_participant_is_not_taken_for_a_synthetic_only_study(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "hasty", yes=True, ms=300)
    answer_all(experiment, "synthetic-1", yes=False, synthetic=True)
    output = analyze("--experiment", "exp", "--exclude-flagged", "--out", str(tmp_path))
    assert "Excluded 1 flagged participant:\n  hasty" in output
    assert "0 real participants analysed" in output


def test_excluded_participants_stay_in_participants_csv_with_their_reason(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "good", yes=lambda panel: panel.layer == "fc8")
    answer_all(experiment, "hasty", yes=True, ms=300)
    bad = answer_all(experiment, "bad", yes=False)
    exclude(bad, "straight-lining")
    analyze("--experiment", "exp", "--exclude-flagged", "--out", str(tmp_path))
    table = pd.read_csv(tmp_path / "participants.csv", keep_default_na=False)
    table = table.set_index("external_id")
    assert table["excluded"].to_dict() == {"good": False, "hasty": True, "bad": True}
    assert table.loc["bad", "exclusion_reason"] == "straight-lining"  # not the flags
    assert table.loc["hasty", "exclusion_reason"].startswith("all answers the same")
    assert table.loc["bad", "main_trials"] == 8


def test_bootstrap_option_gives_standard_errors(tmp_path):
    experiment = build_experiment()
    for n in range(4):
        answer_all(experiment, f"p{n}", yes=lambda panel, n=n: (panel.unit or 0) < n)
    analyze("--experiment", "exp", "--bootstrap", "50", "--out", str(tmp_path))
    assert '"bootstrap": 50' in (tmp_path / "settings.json").read_text()
    table = pd.read_csv(tmp_path / "table1.csv")
    assert (table["a"] == 37.5).all() and (table["a_se"] > 0).all()


def test_an_override_changes_the_analysis_and_is_counted():
    from analysis.services import overrides_set

    experiment = build_experiment(units_per_layer={"conv5": 2})
    answer_all(experiment, "p1", yes=True, label="car")
    before = ratings_report(experiment=experiment).table1.iloc[0]
    overrides_set(label_a="cars", label_b="n02099712", agree=True)  # Labrador retriever
    after = ratings_report(experiment=experiment)
    assert (before["d"], after.table1.iloc[0]["d"]) == (0.0, 100.0)
    assert "Label overrides: 1 used of 1 stored." in after.notes


def test_an_unwritable_output_folder_is_a_clear_error(tmp_path):
    build_experiment()
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CommandError, match="Cannot write the report to"):
        analyze("--experiment", "exp", "--out", str(blocker / "report"))


def test_a_unit_with_two_main_panels_is_one_row_of_the_report(tmp_path):
    """Older imports could give a unit two main panels; their answers are pooled, each
    participant's once."""
    experiment = build_experiment()
    add_second_panel_of_a_unit(experiment, "conv5", 0)
    answer_all(experiment, "p1", yes=True)
    answer_all(experiment, "p2", yes=True, trials=3)  # practice, then the first panel only
    output = analyze("--experiment", "exp", "--out", str(tmp_path))
    units = pd.read_csv(tmp_path / "units.csv")
    assert (
        len(units) == 8 and units.query("layer == 'conv5' and unit == 0")["responses"].item() == 2
    )
    assert "| alexnet | conv5 | 4 | 5 |" in output
    assert "1 answer was a participant's second answer to a unit" in output


def test_one_participants_two_answers_to_a_unit_count_once_and_never_agree_with_each_other():
    """X saw both panels of a unit and wrote "dog" twice: that is no agreement between
    people, and X is one rater of the unit, in (a), (d) and the Q2 calibration alike."""
    experiment = build_experiment(units_per_layer={"conv5": 1}, lists=1, practice=0)
    again = add_second_panel_of_a_unit(experiment, "conv5", 0)
    first = experiment.panels.get(source="conv5-0")
    for external_id, answers in (
        ("X", [(first, "dog"), (again, "dog")]),
        ("Y", [(first, "car")]),
        ("Z", [(again, "cat")]),
    ):
        participant = answer_all(experiment, external_id, yes=True, trials=0)
        for index, (panel, label) in enumerate(answers):
            participant.responses.create(
                panel=panel, trial_index=index, q1_yes=True, q2_bin=4, q3_first=label,
                response_ms=5000,
            )  # fmt: skip
    report = ratings_report(experiment=experiment)
    row = report.table1.iloc[0]
    assert (row["responses"], row["c"]) == (3, 0.0)  # X-Y, X-Z, Y-Z: none agree
    assert row["d"] == pytest.approx(100 / 3)  # X's dog of 3 raters (Labrador retriever)
    assert report.calibration["responses"].sum() == 3


def test_the_default_folder_is_under_var_dir_and_apart_for_each_participant_choice(settings):
    experiment = build_experiment()
    answer_all(experiment, "real", yes=True)
    answer_all(experiment, "fake", yes=False, synthetic=True)
    analyze("--experiment", "exp")
    analyze("--experiment", "exp", "--participants", "synthetic")
    real, synthetic = (
        settings.VAR_DIR / "analysis" / f"exp-{kind}" for kind in ("real", "synthetic")
    )
    assert pd.read_csv(real / "table1.csv")["a"].tolist() == [100.0, 100.0]
    assert pd.read_csv(synthetic / "table1.csv")["a"].tolist() == [0.0, 0.0]


def test_settings_json_records_what_produced_the_report(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "p1", yes=lambda panel: panel.layer == "fc8")
    analyze(
        "--experiment", "exp", "--exclude-flagged", "--threshold", "0.6", "--out", str(tmp_path)
    )
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert (saved["experiment"], saved["participants"], saved["exclude_flagged"]) == (
        "exp", "real", True,
    )  # fmt: skip
    assert datetime.fromisoformat(saved["created"]).year >= 2025
    assert saved["table1"]["yes_threshold"] == 0.6 and saved["quality"]["min_median_ms"] == 2000
    assert saved["agreement"] == json.loads(json.dumps(asdict(AgreementSettings())))
    assert ["edible_fruit.n.01"] in [senses for _, senses in saved["agreement"]["lay_senses"]]
    assert saved["selectivity_scores"] == [{"source": "", "compat": "", "units": 8}]
    units = pd.read_csv(tmp_path / "units.csv", keep_default_na=False)
    assert set(units["n_images"]) == {10} and set(units["source"]) == {""}


def test_practice_csv_names_each_practice_panels_source_and_intended_answer(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "p1", yes=True, label="fish")
    analyze("--experiment", "exp", "--out", str(tmp_path))
    practice = pd.read_csv(tmp_path / "practice.csv", keep_default_na=False)
    shown = practice[["source", "intended_answer", "intended_label", "accuracy"]]
    assert shown.values.tolist() == [
        ["practice-0", "yes", "fish", 100.0], ["practice-1", "no", "", 0.0],
    ]  # fmt: skip


def test_participants_table_names_participants_by_their_external_id(tmp_path):
    experiment = build_experiment()
    answer_all(experiment, "PROLIFIC-1", yes=True)
    analyze("--experiment", "exp", "--out", str(tmp_path))
    table = pd.read_csv(tmp_path / "participants.csv")
    assert table["external_id"].tolist() == ["PROLIFIC-1"]
    assert table["status"].tolist() == ["completed"]
    assert table["flags"].tolist() == ["all answers the same"]


def test_an_unwritable_label_cache_only_costs_speed(settings, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings.VAR_DIR = blocker  # var/cache cannot be made under a file
    experiment = build_experiment()
    answer_all(experiment, "p1", yes=True, label="okapis")  # a label no other test decides
    report = ratings_report(experiment=experiment)
    assert report.table1["a"].tolist() == [100.0, 100.0]
    assert "Label decisions not cached" in caplog.text


def test_selectivity_of_other_weights_than_the_panels_is_pointed_out():
    """Units are matched by number: scores of another network's weights would pair silently."""
    from analysis.models import SelectivityScore
    from experiment.models import Panel

    experiment = build_experiment()
    answer_all(experiment, "p1", yes=True, label="eggnog")
    made = {"settings": {"weights_sha256": {"target": "a" * 64, "generator": "g" * 64}}}
    Panel.objects.filter(experiment=experiment, is_practice=False).update(metadata=made)
    SelectivityScore.objects.filter(layer="fc8").update(weights_sha256="a" * 64)  # the same
    SelectivityScore.objects.filter(layer="conv5").update(weights_sha256="b" * 64)
    notes = ratings_report(experiment=experiment).notes
    mismatch = [note for note in notes if "other weights" in note]
    assert mismatch == [
        f"alexnet conv5: its selectivity was measured on other weights (SHA-256 {'b' * 12}) "
        f"than its panels were made with ({'a' * 12}); record the activations again with the "
        "weights generate_panels used."
    ]


def test_an_unregistered_networks_classes_read_as_imagenets_are_named_in_the_notes(tmp_path):
    """Panels and scores imported for a network the generator does not know: its class
    indices are ImageNet's to (d) and (e), which the report must say."""
    from experiment.models import Panel

    experiment = build_experiment()
    Panel.objects.filter(experiment=experiment, is_practice=False).update(network="myresnet")
    SelectivityScore.objects.update(network="myresnet")
    answer_all(experiment, "p1", yes=True, label="eggnog")
    output = analyze("--experiment", "exp", "--out", str(tmp_path))
    note = (
        "myresnet is not a registered network: its classes are named as ImageNet's "
        "(generator/am/data/imagenet_class_index.json): (d) and (e) compared the labels"
    )
    assert note in output and note in (tmp_path / "report.md").read_text()
    assert not any("not a registered network" in n for n in analyze_notes_of_alexnet())


def analyze_notes_of_alexnet() -> list[str]:
    """The notes of a report on a registered network's units (build_experiment's alexnet)."""
    experiment = build_experiment(slug="registered")
    answer_all(experiment, "p2", yes=True, label="eggnog")
    return ratings_report(experiment=experiment).notes


def test_a_participant_who_enters_while_the_report_is_read_is_taken_as_in_progress(monkeypatch):
    """The participants' states are read before their answers: one who entered and answered
    between the two reads is in progress, not flagged as done with nothing finished."""
    import analysis.selectors as selectors
    from experiment.models import Participant

    experiment = build_experiment()
    answer_all(experiment, "careful", yes=lambda panel: panel.layer == "fc8")
    real_states = selectors.participant_states

    def states_then_an_arrival(*, experiment):
        states = real_states(experiment=experiment)
        in_progress = Participant.Status.IN_PROGRESS
        answer_all(experiment, "newcomer", yes=True, ms=300, trials=4, status=in_progress)
        return states

    monkeypatch.setattr(selectors, "participant_states", states_then_an_arrival)
    quality = ratings_report(experiment=experiment).quality.set_index("external_id")
    assert quality.loc["newcomer", "status"] == "in_progress"
    assert quality.loc["newcomer", "flags"] == ""
