"""The selectivity report's numbers (paper section 3.1): figure 2, tables 2 and 3, the files."""

import json

import numpy as np
import pandas as pd
import pytest

from analysis.ratings.correlations import interpretable_against_rest
from analysis.selectivity.report import (
    REPORT_FILES,
    selectivity_report_compute,
    selectivity_report_save,
)
from analysis.selectivity.summary import (
    MEASURES,
    correlation_row,
    correlation_triangle,
    describe,
    layer_counts,
    measure_correlations,
    measure_summary,
    top_units,
)


def scores_table(layer="fc6", units=6, seed=0, **columns):
    """A score table like the stored one: every measure random in its range, or as given."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {name: rng.uniform(0, 1, units) for name in MEASURES}
        | {
            "network": "demo",
            "layer": layer,
            "unit": np.arange(units),
            "n_images": 100,
            "compat": "",
            "source": "acts.h5",
            "weights_sha256": "abc",
            "precision_k": 60,
            "is_dead": False,
            "is_localist": False,
            "ccmas_class": 1,
            "precision_class": 2,
            "classes_in_top100": rng.integers(1, 10, units).astype(float),
        }  # fmt: skip
    )
    for name, values in columns.items():
        table[name] = values
    return table


def test_correlations_of_a_monotone_relation_are_one_and_constants_are_nan():
    x = np.arange(10.0)
    assert correlation_row(x, x**3)["spearman"] == pytest.approx(1.0)
    assert correlation_row(x, x**3)["pearson"] < 1.0
    assert np.isnan(correlation_row(x, np.ones(10))["spearman"])
    assert correlation_row(x[:2], x[:2])["n"] == 2


def test_describe_leaves_out_undefined_values_and_gives_the_standard_error():
    stats = describe(np.array([1.0, 2.0, 3.0, 4.0, np.nan]))
    assert stats["n"] == 4 and stats["mean"] == 2.5 and stats["median"] == 2.5
    assert stats["se"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)
    assert (stats["q25"], stats["q75"], stats["min"], stats["max"]) == (1.75, 3.25, 1.0, 4.0)
    assert np.isnan(describe(np.array([5.0]))["se"])
    empty = describe(np.array([np.nan]))
    assert empty["n"] == 0 and np.isnan(empty["mean"])


def test_summary_has_a_row_per_layer_and_measure_and_skips_dead_units():
    dead = scores_table("fc7", precision=[np.nan, 0.5, 0.7, np.nan, 0.9, 0.1])
    summary = measure_summary(pd.concat([scores_table(), dead]))
    assert list(summary["layer"].unique()) == ["fc6", "fc7"]
    assert len(summary) == 2 * len(MEASURES)
    fc7 = summary.set_index(["layer", "measure"]).loc[("fc7", "precision")]
    assert fc7["n"] == 4 and fc7["mean"] == pytest.approx(0.55)


def test_counts_are_strictly_above_the_papers_thresholds():
    table = scores_table(
        precision=[0.75, 0.76, 0.9, 0.91, np.nan, 0.2],
        ccmas=[0.9, 0.95, 1.0, 0.1, np.nan, 0.3],
        is_dead=[False, False, False, False, True, False],
        is_localist=[False, False, False, True, False, False],
    )
    counts = layer_counts(table).iloc[0]
    assert (counts["units"], counts["dead"], counts["localist"]) == (6, 1, 1)
    assert counts["precision_over_0.75"] == 3  # 0.76, 0.9, 0.91: 0.75 itself is not above
    assert counts["precision_over_0.9"] == 1
    assert counts["ccmas_over_0.9"] == 2


def test_top_units_rank_by_ccmas_and_by_precision_per_layer_lower_unit_first_on_ties():
    table = scores_table(ccmas=[0.2, 0.9, 0.9, 0.1, np.nan, 0.3], precision=np.linspace(0, 1, 6))
    top = top_units(table, 2, lambda index: f"class {index}")
    by_ccmas = top[top["ranked_by"] == "ccmas"]
    assert by_ccmas["unit"].tolist() == [1, 2] and by_ccmas["rank"].tolist() == [1, 2]
    assert top[top["ranked_by"] == "precision"]["unit"].tolist() == [5, 4]
    assert set(top["ccmas_class"]) == {"class 1"} and set(top["precision_class"]) == {"class 2"}


def test_correlations_cover_every_pair_overall_and_per_layer():
    table = pd.concat([scores_table(units=20), scores_table("fc7", units=20, seed=1)])
    table["ccmas"] = table["precision"] ** 2  # monotone: Spearman 1
    correlations = measure_correlations(table)
    pairs = len(MEASURES) * (len(MEASURES) - 1) // 2
    assert len(correlations) == 3 * pairs
    assert set(correlations["layer"]) == {"all", "fc6", "fc7"}
    both = correlations.set_index(["layer", "measure_a", "measure_b"])
    assert both.loc[("all", "precision", "ccmas"), "spearman"] == pytest.approx(1.0)
    assert both.loc[("fc7", "precision", "ccmas"), "n"] == 20
    triangle = correlation_triangle(correlations).set_index("measure")
    assert (
        triangle.loc["precision", "ccmas"]
        == "1.00 / " + f"{both.loc[('all', 'precision', 'ccmas'), 'pearson']:.2f}"
    )
    assert triangle.loc["ccmas", "recall_at_100_precision"] != ""
    assert triangle.loc["recall_at_95_precision", "ccmas"] == ""  # lower triangle stays empty


def test_report_files_replace_an_earlier_reports_and_nothing_else(tmp_path):
    (tmp_path / "measures.csv").write_text("old")  # an earlier report's
    (tmp_path / "report.md").write_text("old")
    (tmp_path / "settings.json").write_text('{"report": "selectivity"}')
    (tmp_path / "mine.txt").write_text("keep")
    table = pd.concat([scores_table(units=8), scores_table("fc7", units=8, seed=2)])
    table.loc[0, "compat"] = "gale2020"
    report = selectivity_report_compute(table, network="demo", class_name=str, top=2)
    written = selectivity_report_save(report, tmp_path)
    assert sorted(path.name for path in written) == sorted(REPORT_FILES)
    assert (tmp_path / "mine.txt").read_text() == "keep"
    assert pd.read_csv(tmp_path / "measures.csv")["layer"].tolist()[0] == "fc6"
    assert (tmp_path / "measures.png").read_bytes().startswith(b"\x89PNG")
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["network"] == "demo" and settings["top"] == 2
    assert {entry["compat"] for entry in settings["scores"]} == {"", "gale2020"}
    markdown = (tmp_path / "report.md").read_text()
    assert (
        "gale2020 conventions" in markdown
        and "## Correlations between the measures, fc7" in markdown
    )


def test_a_layer_whose_ccmas_leaves_the_unit_interval_is_noted():
    table = pd.concat([scores_table(), scores_table("fc8", ccmas=[5.0, -3.0, 40, 1, 0, 0.5])])
    report = selectivity_report_compute(table, network="demo", class_name=str)
    [note] = report.notes
    assert note.startswith("CCMAS of fc8 runs outside [-1, 1]")


def test_layers_recorded_otherwise_than_the_others_are_noted():
    """conv5 before the ReLU and by the mean of its map, conv4 after it and by the max."""
    table = pd.concat(
        [
            scores_table("conv4", pre_relu=False, reduction="max"),
            scores_table("conv5", pre_relu=True, reduction="mean"),
            scores_table("fc6", pre_relu=False, reduction=""),
            scores_table("fc7", pre_relu=None, reduction=""),  # imported: not recorded
        ]
    )
    notes = selectivity_report_compute(table, network="demo", class_name=str).notes
    assert notes == [
        "The layers were recorded at different points: conv5 before the ReLU, conv4, fc6 "
        "after it (record_activations --pre-relu): their measures do not compare. Record them "
        "again in one run.",
        "The conv layers' maps were reduced to one value per channel differently (conv4 by "
        "the max; conv5 by the mean; record_activations --reduction): their measures do not "
        "compare. Record them again in one run.",
    ]
    same = pd.concat([scores_table("conv5", pre_relu=False), scores_table("fc6", pre_relu=False)])
    assert selectivity_report_compute(same, network="demo", class_name=str).notes == []


def test_interpretable_units_selectivity_is_compared_with_the_rest():
    units = pd.DataFrame(
        {
            "network": "demo",
            "layer": "fc6",
            "yes_rate": [100, 80, 90, 10, 20, 0, 40, 30],
            "precision": [0.9, 0.8, 0.85, 0.1, 0.2, 0.15, np.nan, 0.3],
            "ccmas": np.nan,
        }  # fmt: skip
    )
    rows = interpretable_against_rest(units, 0.8).set_index("measure")
    assert list(rows.index) == ["precision"]  # a measure with no value is left out
    row = rows.loc["precision"]
    assert (row["interpretable_n"], row["rest_n"]) == (3, 4)  # 80% counts: at least 80%
    assert row["interpretable_median"] == pytest.approx(0.85)
    assert row["rest_mean"] == pytest.approx(0.1875)
    assert row["mannwhitney_p"] < 0.06
    none = interpretable_against_rest(units.assign(yes_rate=0), 0.8).iloc[0]
    assert none["interpretable_n"] == 0 and np.isnan(none["mannwhitney_p"])
