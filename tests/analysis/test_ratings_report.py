"""Q2 calibration, practice and participant quality, correlations, and the written report."""

import json
import os
import re
import signal

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.ratings import plots
from analysis.ratings.calibration import leave_one_out_yes, q2_calibration
from analysis.ratings.correlations import (
    correlation_matrix,
    interpretability_correlations,
    within_layer_correlation,
)
from analysis.ratings.quality import QualitySettings, participant_quality, practice_accuracy
from analysis.ratings.report import ratings_report_compute, ratings_report_save
from analysis.report_files import ReportFolderError, csv_cells
from tests.analysis.ratings_data import hand_case, matcher  # noqa: F401


def test_leave_one_out_share_excludes_the_respondent():
    responses = pd.DataFrame({"unit": ["u"] * 4 + ["v"], "yes": [True, True, False, False, True]})
    shares = leave_one_out_yes(responses).tolist()
    assert shares[:4] == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert np.isnan(shares[4])  # alone on its unit


def test_q2_calibration_puts_each_yes_in_its_bin():
    responses = pd.DataFrame(
        {
            "unit": ["u"] * 4,
            "yes": [True, True, True, False],
            "q2_bin": [4.0, 4.0, 0.0, np.nan],
        }
    )
    table = q2_calibration(responses).set_index("q2_bin")
    assert table.loc["80-100%", "responses"] == 2
    assert table.loc["80-100%", "observed"] == pytest.approx(100 * 2 / 3)
    assert table.loc["0-20%", "observed"] == pytest.approx(100 * 2 / 3)
    assert table.loc["40-60%", "responses"] == 0
    assert table["predicted"].tolist() == [10, 30, 50, 70, 90]


def quality_frames():
    main = pd.DataFrame(
        {
            "participant": [1, 1, 2, 2, 3, 3],
            "yes": [True, False, True, True, True, False],
            "response_ms": [6000, 7000, 5000, 5000, 800, 900],
            "active": False,
        }
    )
    practice = pd.DataFrame(
        {
            "participant": [1, 1, 2, 2, 3, 3],
            "panel": [10, 11, 10, 11, 10, 11],
            "source": ["fish.png", "noise.png"] * 3,
            "intended_answer": ["yes", "no", "yes", "no", "yes", "no"],
            "intended_label": ["fish", ""] * 3,
            "yes": [True, False, False, True, True, False],
            "active": False,
        }
    )
    return main, practice


def test_participants_are_flagged_for_all_same_answers_speed_and_practice():
    main, practice = quality_frames()
    table = participant_quality(main, practice, QualitySettings()).set_index("participant")
    assert table.loc[1, "flags"] == ""
    assert "all answers the same" in table.loc[2, "flags"]
    assert "practice accuracy 0%" in table.loc[2, "flags"]
    assert "median time 0.8 s" in table.loc[3, "flags"]


def with_server_times(main, practice, gap_ms):
    """The frames with the server's times: each participant consents at 10:00, then their
    answers (practice first) are stored gap_ms[participant] apart."""
    consent = pd.Timestamp("2026-03-01 10:00", tz="UTC")
    answers = pd.concat([practice.assign(main=False), main.assign(main=True)], ignore_index=True)
    place = answers.groupby("participant").cumcount() + 1
    gaps = answers["participant"].map(gap_ms)
    answers["consented_at"] = consent
    answers["created_at"] = consent + pd.to_timedelta(place * gaps, unit="ms")
    split = answers.pop("main")
    return answers.loc[split], answers.loc[~split]


def test_a_client_that_makes_up_its_response_times_is_flagged_by_the_servers_clock():
    """The security review's bot: response_ms = 4000 + 37 i, every answer posted at once. By
    the browser's count it took over 4 s a panel; the server stored its answers 4 ms apart."""
    main, practice = quality_frames()
    bot = pd.DataFrame(
        {"participant": 9, "yes": [i % 2 == 0 for i in range(10)],
         "response_ms": [4000 + 37 * i for i in range(10)], "active": False}
    )  # fmt: skip
    main, practice = with_server_times(
        pd.concat([main, bot], ignore_index=True), practice, {1: 9000, 2: 9000, 3: 9000, 9: 4}
    )
    table = participant_quality(main, practice, QualitySettings()).set_index("participant")
    assert table.loc[9, "median_ms"] == 4166.5 and table.loc[9, "server_median_ms"] == 4
    assert table.loc[9, "flags"] == (
        "median time 0.0 s by the server's clock < 2 s (the browser reported 4.2 s)"
    )
    assert table.loc[9, "server_total_min"] == pytest.approx(10 * 4 / 60000)


def test_a_slow_network_never_flags_a_participant_whose_browser_count_passes():
    """The server's intervals hold the network's delays besides the response time: longer
    ones leave the flags to the browser's count, which flags a fast participant as before."""
    main, practice = with_server_times(*quality_frames(), {1: 30000, 2: 30000, 3: 30000})
    table = participant_quality(main, practice, QualitySettings()).set_index("participant")
    assert table.loc[1, "flags"] == ""
    assert table["server_median_ms"].tolist() == [30000, 30000, 30000]
    assert table["server_total_min"].tolist() == pytest.approx([2.0, 2.0, 2.0])  # 4 answers
    assert table.loc[3, "flags"] == "median time 0.8 s by the browser's count < 2 s"


def test_both_clocks_under_the_limit_are_named_in_the_flag():
    main, practice = with_server_times(*quality_frames(), {1: 9000, 2: 9000, 3: 500})
    table = participant_quality(main, practice, QualitySettings()).set_index("participant")
    assert table.loc[3, "flags"] == (
        "median time 0.8 s by the browser's count, 0.5 s by the server's clock < 2 s"
    )


def test_the_servers_figures_stand_next_to_the_browsers_median():
    main, practice = with_server_times(*quality_frames(), {1: 9000, 2: 9000, 3: 9000})
    columns = participant_quality(main, practice, QualitySettings()).columns.tolist()
    at = columns.index("median_ms")
    assert columns[at : at + 3] == ["median_ms", "server_median_ms", "server_total_min"]


def test_participants_shares_are_in_percent_like_table1():
    main, practice = quality_frames()
    table = participant_quality(main, practice, QualitySettings()).set_index("participant")
    assert table["yes_share"].tolist() == [50.0, 100.0, 50.0]
    assert table["practice_acc"].tolist() == [100.0, 0.0, 100.0]


def test_a_participant_still_in_progress_is_listed_but_never_flagged():
    """Between the practice and the first main trial, or after two fast trials, a participant
    has not shown what a flag (and an exclusion) would say."""
    main, practice = quality_frames()
    main.loc[main.participant == 3, "active"] = True  # fast, and still at it
    practice.loc[practice.participant == 3, "active"] = True
    practice_only = pd.DataFrame(
        {"participant": [4, 5], "panel": [10, 10], "source": "fish.png", "intended_answer": "yes",
         "intended_label": "fish", "yes": [False, False], "active": [True, False]}
    )  # fmt: skip
    practice = pd.concat([practice, practice_only], ignore_index=True)
    table = participant_quality(main, practice, QualitySettings()).set_index("participant")
    assert table.index.tolist() == [1, 2, 3, 4, 5]
    assert table.loc[3, "flags"] == "" and table.loc[4, "flags"] == ""
    assert table.loc[4, "main_trials"] == 0
    assert table.loc[5, "flags"] == "practice accuracy 0%; no main trials"


def test_one_main_trial_under_the_minimum_is_named_in_the_singular():
    main, practice = quality_frames()
    main = main.drop(index=0)  # participant 1 answered one main trial
    table = participant_quality(main, practice, QualitySettings(min_main_trials=2))
    assert table.set_index("participant").loc[1, "flags"] == "1 main trial < 2"


def test_practice_accuracy_is_reported_per_panel_with_its_source_and_intended_answer():
    _, practice = quality_frames()
    table = practice_accuracy(practice).set_index("panel")
    assert table.loc[10, "accuracy"] == pytest.approx(200 / 3)
    assert table.loc[11, "accuracy"] == pytest.approx(200 / 3)
    assert table.loc[10, "responses"] == 3
    assert table.loc[10, ["source", "intended_answer", "intended_label"]].tolist() == [
        "fish.png", "yes", "fish",
    ]  # fmt: skip


def test_correlations_cover_every_measure_present_per_layer_and_overall():
    units = pd.DataFrame(
        {
            "network": ["n"] * 6, "layer": ["a"] * 3 + ["b"] * 3,
            "yes_rate": [10, 20, 30, 40, 50, 60.0], "human_agreement": [1, 2, 3, 4, 5, 6.0],
            "agree_most_active": [0, 1, 2, 3, 4, 5.0],
            "precision": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "ccmas": [np.nan] * 6,
        }
    )  # fmt: skip
    table = interpretability_correlations(units)
    assert set(table["measure"]) == {"precision"}  # ccmas has no values
    # The layers first, then the layer-adjusted and the pooled rows.
    assert table["layer"].tolist() == ["a"] * 3 + ["b"] * 3 + ["within layers", "all"] * 3
    assert table["scope"].tolist() == (
        ["per layer"] * 6 + ["layer-adjusted", "pooled across layers"] * 3
    )
    assert table["layers"].tolist() == [1] * 6 + [2, 2] * 3
    assert table["spearman"].to_numpy() == pytest.approx(1.0)


def no_relation_within_layers(seed=0, units=2000):
    """conv5, fc6 and fc8 units whose yes-rate and precision are independent within each
    layer, while fc8's are both far higher (as in the paper: Table 1 (a), figure 2)."""
    rng = np.random.default_rng(seed)
    layers = [("conv5", 20, 0.3), ("fc6", 20, 0.4), ("fc8", 70, 0.95)]
    return pd.concat(
        pd.DataFrame(
            {
                "network": "alexnet",
                "layer": layer,
                "yes_rate": np.clip(rng.normal(yes, 10, units), 0, 100),
                "human_agreement": rng.uniform(0, 100, units),
                "agree_most_active": rng.uniform(0, 100, units),
                "precision": np.clip(rng.normal(precision, 0.05, units), 0, 1),
            }
        )
        for layer, yes, precision in layers
    ).reset_index(drop=True)


def test_the_layer_adjusted_correlation_is_near_zero_where_only_the_layer_means_differ():
    units = no_relation_within_layers()
    table = interpretability_correlations(units)
    rows = table[table["interpretability"].eq("yes_rate")].set_index("layer")
    assert rows.loc["all", "spearman"] > 0.6  # pooled: the layers' means make it look strong
    assert rows.loc["all", "scope"] == "pooled across layers"
    for layer in ("conv5", "fc6", "fc8"):
        assert abs(rows.loc[layer, "spearman"]) < 0.08
    within = rows.loc["within layers"]
    assert abs(within["spearman"]) < 0.05 and abs(within["pearson"]) < 0.05
    assert (within["n"], within["layers"]) == (6000, 3)
    # It is the per-layer coefficients' mean, weighted by the layers' units (equal here).
    per_layer = rows.loc[["conv5", "fc6", "fc8"]]
    assert within["spearman"] == pytest.approx(per_layer["spearman"].mean())
    assert within["pearson"] == pytest.approx(per_layer["pearson"].mean())


def test_the_layer_adjusted_correlation_keeps_a_relation_inside_the_layers():
    units = no_relation_within_layers()
    units["precision"] = units.groupby("layer")["precision"].transform("mean") + (
        units["yes_rate"] - units.groupby("layer")["yes_rate"].transform("mean")
    ) * (-0.001)  # within each layer: higher yes-rate, lower precision
    rows = interpretability_correlations(units).set_index(["layer", "interpretability"])
    assert rows.loc[("within layers", "yes_rate"), "spearman"] == pytest.approx(-1.0)
    assert rows.loc[("within layers", "yes_rate"), "spearman_p"] < 1e-10
    assert rows.loc[("all", "yes_rate"), "spearman"] > 0.3  # the pooled one: the other way


def test_the_layer_adjusted_correlation_of_one_layer_is_spearmans_and_pearsons():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=40), rng.normal(size=40)
    y[:5] = np.nan  # pairs with a missing value are left out
    layers = np.zeros(40, int)
    layers[35:], y[35:] = 1, np.nan  # a layer with no finite pair enters nothing
    within = within_layer_correlation(x, y, layers)
    expected = stats.spearmanr(x[5:35], y[5:35]), stats.pearsonr(x[5:35], y[5:35])
    assert (within["n"], within["layers"]) == (30, 1)
    assert within["spearman"] == pytest.approx(expected[0].statistic)
    assert within["spearman_p"] == pytest.approx(expected[0].pvalue)
    assert within["pearson"] == pytest.approx(expected[1].statistic)
    assert within["pearson_p"] == pytest.approx(expected[1].pvalue)
    # Scaling or shifting one layer changes nothing; a layer without spread enters nothing.
    two = within_layer_correlation(
        np.r_[x[5:35], 100 + 7 * x[5:35], np.ones(4)], np.r_[y[5:35], y[5:35], np.arange(4.0)],
        np.repeat([0, 1, 2], [30, 30, 4]),
    )  # fmt: skip
    assert (two["n"], two["layers"]) == (60, 2)
    assert two["spearman"] == pytest.approx(within["spearman"])
    assert two["pearson"] == pytest.approx(within["pearson"])
    assert two["spearman_p"] < within["spearman_p"]  # twice the units, n - 3 df
    assert np.isnan(within_layer_correlation(x[5:7], y[5:7], layers[5:7])["spearman"])


def test_the_layer_adjusted_p_values_hold_their_level_without_a_relation():
    """Layers of 5, 8 and 12 units with different means and spreads, no relation inside."""
    rng = np.random.default_rng(2)
    layers = np.repeat([0, 1, 2], [5, 8, 12])
    p = np.array(
        [
            [
                within_layer_correlation(
                    rng.normal(size=25) + 3 * layers, rng.normal(size=25) * (1 + layers) - layers,
                    layers,
                )[name]
                for name in ("spearman_p", "pearson_p")
            ]
            for _ in range(500)
        ]
    )  # fmt: skip
    assert (p < 0.05).mean(axis=0) == pytest.approx([0.05, 0.05], abs=0.03)
    assert (p < 0.5).mean(axis=0) == pytest.approx([0.5, 0.5], abs=0.08)


def test_scatter_plots_show_each_layers_rho_and_mark_the_pooled_one():
    units = no_relation_within_layers(units=50)
    units.loc[units["layer"].eq("fc6"), "precision"] = np.nan  # fc6 unscored: no rho
    labels, title = plots.scatter_labels(units, "precision", "yes_rate")
    conv5 = units[units["layer"].eq("conv5")]
    rho = stats.spearmanr(conv5["precision"], conv5["yes_rate"]).statistic
    assert labels["alexnet", "conv5"] == f"alexnet conv5: ρ = {rho:.2f} (n = 50)"
    assert labels["alexnet", "fc6"] == "alexnet fc6: ρ = – (n = 0)"
    within, pooled = title.splitlines()
    assert within.startswith("within layers ρ = ") and within.endswith("(n = 100)")
    assert pooled.startswith("pooled across layers ρ = 0.") and "confounded by layer" in pooled
    assert plots.scatter_figure(units, "precision").startswith(b"\x89PNG")


def test_the_report_is_written_as_csv_markdown_and_png(matcher, tmp_path):  # noqa: F811
    responses, units, judge = hand_case(matcher)
    report = ratings_report_compute(responses, units, judge)
    written = {path.name for path in ratings_report_save(report, tmp_path, "Hand case")}
    assert {"table1.csv", "units.csv", "report.md", "table1.png", "label_decisions.csv"} <= written
    markdown = (tmp_path / "report.md").read_text()
    assert "71.4% (±12.1%)" in markdown
    assert "Label overrides: 0 used of 0 stored." in markdown
    assert (tmp_path / "table1.png").read_bytes()[:4] == b"\x89PNG"
    units_csv = pd.read_csv(tmp_path / "units.csv")
    assert units_csv["yes_rate"].tolist() == pytest.approx([100, 80, 25])


def test_counts_of_a_unit_table_with_gaps_are_written_as_whole_numbers(matcher, tmp_path):  # noqa: F811
    """A unit without scores makes classes_in_top100 and n_images floats in the frame; the CSV
    still writes 10, not 10.0 beside the other counts."""
    responses, units, judge = hand_case(matcher)
    units["n_images"], units["classes_in_top100"] = [50.0, None, 50.0], [10.0, None, 3.0]
    ratings_report_save(ratings_report_compute(responses, units, judge), tmp_path, "Gaps")
    rows = (tmp_path / "units.csv").read_text().splitlines()
    header = rows[0].split(",")
    cells = [dict(zip(header, row.split(","), strict=True)) for row in rows[1:]]
    assert [(c["classes_in_top100"], c["n_images"]) for c in cells] == [
        ("10", "50"), ("", ""), ("3", "50"),
    ]  # fmt: skip


def test_a_whole_number_reads_as_one_at_any_size_and_a_missing_value_as_a_dash():
    """A count's 10.0 beside its 3 (a summary's min and max) read as two kinds of number."""
    from analysis.report_files import format_cell

    cells = [3.0, 10.0, 5000.0, 9.5, 66.666, 0.0123, None, pd.NA, float("nan"), 7, 99.99999]
    assert [format_cell(v) for v in cells] == [
        "3", "10", "5000", "9.5", "66.7", "0.0123", "–", "–", "–", "7", "100",
    ]  # fmt: skip


def test_flags_with_gaps_are_written_as_0_1_or_empty():
    """label_decisions.csv's override: a decision or none, as 0/1 like every other flag."""
    table = pd.DataFrame({"override": [True, None, False], "label": ["=a", "b", None]})
    cells = csv_cells(table)
    assert cells["override"].tolist() == [1, pd.NA, 0]
    assert cells.to_csv(index=False).splitlines() == ["override,label", "1,'=a", ",b", "0,"]


def test_an_earlier_reports_files_are_removed_and_nothing_else(matcher, tmp_path):  # noqa: F811
    """A scatter plot of a measure this report does not plot must not pass for a new one."""
    responses, units, judge = hand_case(matcher)
    for name in ("scatter_precision.png", "units.csv", "report.md"):
        (tmp_path / name).write_text("old")
    (tmp_path / "settings.json").write_text('{"report": "ratings"}')  # an earlier report's
    (tmp_path / "my_notes.md").write_text("mine")
    (tmp_path / "scatter_old").mkdir()
    written = ratings_report_save(ratings_report_compute(responses, units, judge), tmp_path, "T")
    assert not (tmp_path / "scatter_precision.png").exists()  # the hand case has no scores
    assert (tmp_path / "units.csv").read_text() != "old"
    on_disk = {path.name for path in tmp_path.iterdir()}
    assert on_disk == {path.name for path in written} | {
        "my_notes.md",
        "scatter_old",
        ".report.lock",
    }


@pytest.mark.parametrize(
    ("found", "why"),
    [
        (None, "it has no settings.json"),
        ('{"theme": "dark"}', "its settings.json is not a report's"),
        ('{"report": "selectivity"}', "a selectivity report wrote"),
    ],
    ids=["none", "own", "other"],
)
def test_a_folder_no_ratings_report_wrote_is_refused(matcher, tmp_path, found, why):  # noqa: F811
    """The researcher's own report.md and scatter plots, or another kind of report's files."""
    (tmp_path / "report.md").write_text("# my lab notebook")
    (tmp_path / "scatter_pilot_2023.png").write_text("mine")
    if found:
        (tmp_path / "settings.json").write_text(found)
    responses, units, judge = hand_case(matcher)
    with pytest.raises(ReportFolderError, match=f"{re.escape(why)}.*choose another folder"):
        ratings_report_save(ratings_report_compute(responses, units, judge), tmp_path, "T")
    assert (tmp_path / "report.md").read_text() == "# my lab notebook"
    assert (tmp_path / "scatter_pilot_2023.png").exists()


def test_a_report_that_fails_half_way_leaves_the_earlier_one_whole(matcher, tmp_path, monkeypatch):  # noqa: F811
    responses, units, judge = hand_case(matcher)
    report = ratings_report_compute(responses, units, judge)
    ratings_report_save(report, tmp_path, "First")
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_bytes", full_disk)  # the figures
    with pytest.raises(OSError, match="No space left"):
        ratings_report_save(report, tmp_path, "Second")
    monkeypatch.undo()
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    assert after == before and not list(tmp_path.parent.glob(f".{tmp_path.name}.partial-*"))
    ratings_report_save(report, tmp_path, "Third")  # and the next run goes through
    assert (tmp_path / "report.md").read_text().startswith("# Third")


def test_ctrl_c_while_the_files_are_moved_in_stops_after_the_whole_report(
    matcher,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    """Not a folder of the new report's settings beside the old one's tables."""
    responses, units, judge = hand_case(matcher)
    report = ratings_report_compute(responses, units, judge)
    ratings_report_save(report, tmp_path, "First")
    moves, replace = [], os.replace

    def interrupted_move(source, target):
        replace(source, target)
        moves.append(target)
        if len(moves) == 5:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, half-way through the moves

    monkeypatch.setattr(os, "replace", interrupted_move)
    with pytest.raises(KeyboardInterrupt):
        ratings_report_save(report, tmp_path, "Second")
    assert len(moves) > 5  # every file was moved before it stopped
    assert (tmp_path / "report.md").read_text().startswith("# Second")


def test_the_settings_hold_the_agreement_rules_and_the_score_sources(matcher, tmp_path):  # noqa: F811
    responses, units, judge = hand_case(matcher)
    units["source"], units["compat"], units["n_images"] = "acts.h5", "", 50
    units.loc["u3", ["source", "compat"]] = ["old.csv", "gale2020"]
    ratings_report_save(ratings_report_compute(responses, units, judge), tmp_path, "T")
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved["agreement"]["max_hypernym_distance"] == 6
    assert saved["selectivity_scores"] == [
        {"source": "acts.h5", "compat": "", "units": 2},
        {"source": "old.csv", "compat": "gale2020", "units": 1},
    ]
    units_csv = pd.read_csv(tmp_path / "units.csv", keep_default_na=False)
    assert units_csv[["n_images", "source"]].values.tolist() == [
        [50, "acts.h5"], [50, "acts.h5"], [50, "old.csv"],
    ]  # fmt: skip


def test_missing_selectivity_scores_are_named_in_the_notes(matcher):  # noqa: F811
    responses, units, judge = hand_case(matcher)
    units.loc["u2", ["most_active_wnid", "ccmas_wnid"]] = ""
    report = ratings_report_compute(responses, units, judge)
    assert any(
        "1 rated unit has no selectivity scores" in n and "net L.2" in n for n in report.notes
    )


def test_scores_without_either_class_are_not_called_missing(matcher):  # noqa: F811
    """Scores imported without classes (precision only, say) are scores: their precision
    feeds the correlations; only (d) and (e) leave them out."""
    responses, units, judge = hand_case(matcher)
    units["n_images"] = 50
    units.loc["u2", ["most_active_wnid", "ccmas_wnid"]] = ""
    notes = ratings_report_compute(responses, units, judge).notes
    assert not any("no selectivity scores" in n for n in notes)
    assert any("without a most-active class" in n for n in notes)
    assert any("without a CCMAS class" in n for n in notes)
    units.loc["u2", "n_images"] = None  # no score row at all
    notes = ratings_report_compute(responses, units, judge).notes
    assert any("1 rated unit has no selectivity scores" in n for n in notes)


def test_scores_without_a_most_active_class_are_named_in_the_notes(matcher):  # noqa: F811
    responses, units, judge = hand_case(matcher)
    units.loc["u1", "most_active_wnid"] = ""  # its CCMAS class stays
    notes = ratings_report_compute(responses, units, judge).notes
    assert any(
        n.startswith("1 rated unit has selectivity scores without a most-active class")
        and n.endswith("(d) leaves such units out.")
        for n in notes
    )
    assert not any("no selectivity scores" in n for n in notes)


def test_dead_units_are_named_as_dead_not_as_missing_scores(matcher):  # noqa: F811
    responses, units, judge = hand_case(matcher)
    units["is_dead"] = False
    units.loc["u2", ["most_active_wnid", "ccmas_wnid"]] = ""
    units.loc["u2", "is_dead"] = True
    report = ratings_report_compute(responses, units, judge)
    assert any("1 rated unit is dead" in n and "net L.2" in n for n in report.notes)
    assert not any("no selectivity scores" in n for n in report.notes)


def test_units_with_few_raters_are_counted_in_the_notes(matcher):  # noqa: F811
    responses, units, judge = hand_case(matcher)
    main = responses.loc[~responses["is_practice"].astype(bool)]
    per_unit = main.groupby("unit").size()
    notes = ratings_report_compute(responses, units, judge).notes
    few = [n for n in notes if "fewer than 5 responses" in n]
    assert len(few) == int((per_unit < 5).any())
    if few:
        assert few[0].startswith(f"{int((per_unit < 5).sum())} of the {len(per_unit)} rated")
    one = responses.loc[~responses["unit"].eq(per_unit.index[0]) | responses["is_practice"]]
    one = pd.concat([one, main.loc[main["unit"].eq(per_unit.index[0])].head(1)])
    notes = ratings_report_compute(one, units, judge).notes
    assert any("(the fewest: 1)" in n for n in notes)


def test_scores_in_the_papers_code_conventions_are_flagged(matcher):  # noqa: F811
    responses, units, judge = hand_case(matcher)
    units["compat"] = "gale2020"
    report = ratings_report_compute(responses, units, judge)
    assert any("gale2020 conventions" in n for n in report.notes)


def test_the_correlation_matrix_has_a_row_per_layer_and_a_column_per_measure():
    units = pd.DataFrame(
        {
            "network": ["n"] * 4, "layer": ["a"] * 4, "yes_rate": [1, 2, 3, 4.0],
            "human_agreement": [4, 3, 2, 1.0], "agree_most_active": [1, 1, 1, 1.0],
            "precision": [0.1, 0.2, 0.3, 0.4], "ccmas": [0.4, 0.1, 0.3, 0.2],
        }
    )  # fmt: skip
    matrix = correlation_matrix(interpretability_correlations(units))
    assert matrix["layer"].unique().tolist() == ["a", "within layers", "all"]
    matrix = matrix.set_index(["layer", "interpretability"])
    assert list(matrix.columns) == ["network", "scope", "precision", "ccmas"]
    assert matrix.loc[("all", "yes_rate"), "scope"] == "pooled across layers"
    assert matrix.loc[("within layers", "yes_rate"), "precision"] == "1.00 / 1.00"
    assert matrix.loc[("all", "yes_rate"), "precision"] == "1.00 / 1.00"
    assert matrix.loc[("a", "human_agreement"), "precision"] == "-1.00 / -1.00"
    assert matrix.loc[("a", "agree_most_active"), "ccmas"] == "–"  # constant: undefined


def test_markdown_cells_keep_participants_text_in_its_cell():
    from analysis.report_files import markdown_table

    table = pd.DataFrame({"label": ["dog | cat\nbird <script>x</script>"], "n": [2]})
    assert markdown_table(table).splitlines()[2] == (
        "| dog \\| cat bird &lt;script>x&lt;/script> | 2 |"
    )
