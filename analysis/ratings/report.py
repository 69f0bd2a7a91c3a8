"""The whole ratings report from responses and units: tables, notes, Markdown, files on disk."""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.labels import AgreementJudge, has_unreadable_words
from analysis.ratings import plots
from analysis.ratings.agreement import agreement_arrays
from analysis.ratings.calibration import q2_calibration
from analysis.ratings.correlations import (
    SELECTIVITY,
    correlation_matrix,
    interpretability_correlations,
    interpretable_against_rest,
)
from analysis.ratings.quality import QualitySettings, participant_quality, practice_accuracy
from analysis.ratings.table1 import MEASURES, Table1Settings, table1
from analysis.report_files import counted, markdown_table, report_write

COUNT_COLUMNS = ("unit", "responses", "classes_in_top100", "n_images")
UNIT_COLUMNS = [
    "network", "layer", "unit", "most_active_wnid", "ccmas_wnid", *SELECTIVITY,
    "n_images", "compat", "source",
]  # fmt: skip
TABLE_STEMS = (
    "table1", "units", "correlations", "interpretable_selectivity", "q2_calibration", "practice",
    "participants", "label_decisions",
)  # fmt: skip
TABLE1_FIGURE, CALIBRATION_FIGURE, SCATTER_FIGURE = (
    "table1.png",
    "q2_calibration.png",
    "scatter_{}.png",
)
# Every file a report writes; an earlier report's are removed first (scatter plots vary).
REPORT_FILES = (
    *(f"{stem}.csv" for stem in TABLE_STEMS), "report.md", "settings.json", TABLE1_FIGURE,
    CALIBRATION_FIGURE, SCATTER_FIGURE.format("*"),
)  # fmt: skip


@dataclass
class RatingsReport:
    """Everything analyze_ratings writes and the admin page shows."""

    table1: pd.DataFrame
    units: pd.DataFrame
    correlations: pd.DataFrame
    interpretable: pd.DataFrame  # selectivity of (b)'s units against the other rated units
    calibration: pd.DataFrame
    practice: pd.DataFrame
    quality: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)  # label pairs decided

    def tables(self) -> dict[str, pd.DataFrame]:
        """The report's tables by file stem (TABLE_STEMS)."""
        tables = (
            self.table1, _counts_whole(self.units), self.correlations, self.interpretable,
            self.calibration, self.practice, self.quality, self.decisions,
        )  # fmt: skip
        return dict(zip(TABLE_STEMS, tables, strict=True))


def _counts_whole(units: pd.DataFrame) -> pd.DataFrame:
    """The unit table with its counts as whole numbers: a unit without scores makes their
    columns floats, which units.csv would write as 10.0 beside the other columns' integers."""
    return units.astype({column: "Int64" for column in COUNT_COLUMNS if column in units})


def unit_table(units: pd.DataFrame, values: dict, responses_per_unit: pd.Series) -> pd.DataFrame:
    """Per-unit responses, yes-rate and agreements beside the unit's selectivity scores."""
    table = units.reindex(columns=UNIT_COLUMNS).copy()
    table.insert(3, "responses", responses_per_unit.reindex(units.index).fillna(0).astype(int))
    table.insert(4, "yes_rate", 100 * values["yes_rate"])
    table.insert(5, "human_agreement", 100 * values["c"])
    table.insert(6, "agree_most_active", 100 * values["d"])
    table.insert(7, "agree_ccmas", 100 * values["e"])
    return table.reset_index(drop=True)


def missing_notes(main: pd.DataFrame, units: pd.DataFrame) -> list[str]:
    """What cannot be computed and why, in words a researcher can act on."""
    notes = []
    if main.empty:
        return ["No main-trial responses: Table 1, correlations and calibration are empty."]
    rated = units.loc[units.index.isin(main["unit"])]
    no_class = rated["most_active_wnid"].fillna("").eq("") & rated["ccmas_wnid"].fillna("").eq("")
    # A stored score row has its image count; imported rows may lack both classes, not scores.
    no_scores = rated["n_images"].isna() if "n_images" in rated else no_class
    dead = rated.get("is_dead", pd.Series(False, index=rated.index)).fillna(False).astype(bool)
    outside = rated.get("outside_network", pd.Series("", index=rated.index)).fillna("")
    notes += outside_network_notes(rated.loc[no_scores & outside.ne("")], outside)
    for mask, one, many, what in (
        (no_class & dead, "rated unit is", "rated units are",
         "dead on the recorded images (every activation equal) (e.g. {}): a dead unit has no "
         "class to compare with, so (d), (e) and the correlations leave it out."),
        (no_scores & ~dead & outside.eq(""), "rated unit has", "rated units have",
         "no selectivity scores (e.g. {}): (d), (e) and the correlations leave units without "
         "scores out; run compute_selectivity or import_selectivity for their layers."),
    ):  # fmt: skip
        if mask.any():
            examples = ", ".join(
                f"{r.network} {r.layer}.{r.unit}" for r in rated[mask].head(5).itertuples()
            )
            notes.append(f"{counted(int(mask.sum()), one, many)} {what.format(examples)}")
    for column, name, measure in (
        ("most_active_wnid", "most-active", "(d)"),
        ("ccmas_wnid", "CCMAS", "(e)"),
    ):
        lacking = rated[column].fillna("").eq("") & ~no_scores & ~dead
        if lacking.any():
            notes.append(
                f"{counted(int(lacking.sum()), 'rated unit has', 'rated units have')} "
                f"selectivity scores without a {name} class the report can name (imported from "
                "a CSV without it, or with an index beyond the network's classes): "
                f"{measure} leaves such units out."
            )
    compat = set(rated.get("compat", pd.Series(dtype=str)).dropna()) - {""}
    if compat:
        notes.append(
            f"Some selectivity scores follow the {', '.join(sorted(compat))} conventions, not the "
            "correct definitions (docs/measures.md); recompute without --compat to compare."
        )
    return notes


def outside_network_notes(rated: pd.DataFrame, outside: pd.Series) -> list[str]:
    """A note per reason (`outside`, by unit key) on rated units that are no units of their
    registered network: no score can be computed for them, so the advice to compute one would
    lead nowhere; the panels' layer name or unit numbering is what to check."""
    notes = []
    for reason, group in rated.groupby(outside.reindex(rated.index), sort=False):
        network = group["network"].iloc[0]
        examples = ", ".join(f"{r.network} {r.layer}.{r.unit}" for r in group.head(5).itertuples())
        units = counted(len(group), "rated unit is not a unit", "rated units are not units")
        notes.append(
            f"{units} of the registered network {network} (e.g. {examples}): {reason}. Such "
            "panels were likely imported under a wrong layer name or unit numbering "
            "(import_panels --layer; units count from 0), or come from another network of the "
            "same name; compute_selectivity cannot score such units, and (d), (e) and the "
            "correlations leave them out."
        )
    return notes


def first_answers(main: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Each participant's first answer to each unit (responses come in trial order), and a
    note on the others: a unit with two main panels (older imports) pools its panels' answers,
    but one person answering both is one rater, in (a)-(e) and the Q2 calibration alike."""
    repeated = main.duplicated(["participant", "unit"], keep="first")
    if not repeated.any():
        return main, []
    answers = counted(int(repeated.sum()), "answer was", "answers were")
    return main.loc[~repeated], [
        f"{answers} a participant's second answer to a unit (a unit with two main panels, "
        "from older imports): each participant counts once per unit, with their first answer."
    ]


# The paper's units were each rated by 5 or 6 people (every list went to 5 or 6 participants).
FEW_RATERS = 5


def few_raters_notes(main: pd.DataFrame) -> list[str]:
    """A note on rated units with fewer than FEW_RATERS responses (a study under way, or
    participants who left): their yes-rates are coarse, and one 'yes' of one counts as 100%."""
    counts = main.groupby("unit").size()
    few = counts[counts < FEW_RATERS]
    if few.empty:
        return []
    return [
        f"{len(few)} of the {counted(len(counts), 'rated unit', 'rated units')} "
        f"{'has' if len(few) == 1 else 'have'} fewer than {FEW_RATERS} responses (the fewest: "
        f"{int(few.min())}): their yes-rates are coarse (one 'yes' of one counts as 100% in "
        "(b)), so Table 1 and the correlations rest on few ratings for them."
    ]


def no_pairs_notes(table: pd.DataFrame) -> list[str]:
    """Why (c) is '–' in a layer whose (b) has units: no pair of labels to compare."""
    return [
        f"(c) is '–' for {row.network} {row.layer}: none of its consistently interpretable "
        "units has labelled 'yes' answers of two participants to compare (each was labelled "
        "by one participant at most)."
        for row in table.loc[table["c"].isna() & (table["b"] > 0)].itertuples()
    ]


def unreadable_notes(main: pd.DataFrame) -> list[str]:
    """A note on 'yes' answers with words the labels leave out (a script WordNet cannot read:
    Greek, Chinese), which would otherwise drop out of (c)-(e) unseen."""
    if not {"q3_first", "q3_second"} <= set(main.columns):  # frames of typed labels only
        return []
    yes = main.loc[main["yes"].astype(bool)]
    answers = zip(yes["q3_first"].fillna(""), yes["q3_second"].fillna(""), strict=True)
    unreadable = np.array([has_unreadable_words(*pair) for pair in answers], dtype=bool)
    if not unreadable.any():
        return []
    unlabelled = int((yes["labels"].map(len).to_numpy() == 0)[unreadable].sum())
    answers = counted(int(unreadable.sum()), "'yes' answer holds", "'yes' answers hold")
    return [
        f"{answers} words in a script the label agreement cannot read (e.g. Greek, Chinese): "
        f"those words are left out of the labels, and {unlabelled} of them "
        f"{'is' if unlabelled == 1 else 'are'} left without a label, which (c)-(e) leave out."
    ]


def ratings_report_compute(
    responses: pd.DataFrame,
    units: pd.DataFrame,
    judge: AgreementJudge,
    table_settings: Table1Settings | None = None,
    quality_settings: QualitySettings | None = None,
) -> RatingsReport:
    """Table 1, per-unit values, correlations, Q2 calibration, practice and participant quality.

    `responses`: participant, unit, is_practice, yes, q2_bin, labels, response_ms, panel,
    source, intended_answer, intended_label, active and excluded (the participant's; an
    excluded participant is only listed in the quality table), and created_at and
    consented_at for the server's timing (participant_quality). `units`: indexed by unit key;
    see UNIT_COLUMNS.
    """
    table_settings, quality_settings = (
        table_settings or Table1Settings(),
        quality_settings or QualitySettings(),
    )
    is_practice = responses["is_practice"].astype(bool)
    included = ~responses["excluded"].astype(bool)
    main, practice = responses.loc[~is_practice & included], responses.loc[is_practice & included]
    main, repeats = first_answers(main)
    rated_units = units.loc[units.index.isin(main["unit"])]
    arrays = agreement_arrays(main, rated_units, judge)
    table, values = table1(arrays, table_settings)
    per_unit = unit_table(rated_units, values, main.groupby("unit").size())
    return RatingsReport(
        table1=table,
        units=per_unit,
        correlations=interpretability_correlations(per_unit),
        interpretable=interpretable_against_rest(per_unit, table_settings.yes_threshold),
        calibration=q2_calibration(main),
        practice=practice_accuracy(practice),
        quality=participant_quality(
            responses.loc[~is_practice], responses.loc[is_practice], quality_settings
        )
        if len(responses)
        else pd.DataFrame(),
        notes=[
            *missing_notes(main, units),
            *repeats,
            *no_pairs_notes(table),
            *few_raters_notes(main),
            *unreadable_notes(main),
            f"Label overrides: {len(judge.used_overrides)} used of {len(judge.overrides)} stored.",
        ],
        decisions=pd.DataFrame(judge.decisions()),
        settings={
            "table1": asdict(table_settings),
            "quality": asdict(quality_settings),
            "agreement": asdict(judge.matcher.settings),
            "label_overrides": {"used": len(judge.used_overrides), "stored": len(judge.overrides)},
            "selectivity_scores": score_sources(per_unit),
        },
    )


def score_sources(units: pd.DataFrame) -> list[dict]:
    """Where the rated units' selectivity scores came from: each source and compat mode (""
    for the correct definitions) with how many units it scored."""
    scored = units.dropna(subset=["source"])
    counts = scored.groupby(["source", "compat"], dropna=False).size()
    return [
        {"source": source, "compat": compat if isinstance(compat, str) else "", "units": int(n)}
        for (source, compat), n in counts.items()
    ]


def table1_display(table: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as the paper prints it: 'value% (±SE%)' per measure."""
    shown = table[["network", "layer", "units", "responses"]].copy()
    for name in MEASURES:
        shown[f"({name})"] = [
            "–" if np.isnan(v) else f"{v:.1f}% (±{s:.1f}%)" if np.isfinite(s) else f"{v:.1f}%"
            for v, s in zip(table[name], table[f"{name}_se"], strict=True)
        ]
    return shown


def ratings_report_sections(report: RatingsReport) -> dict[str, pd.DataFrame]:
    """The tables shown after Table 1 and the notes, by heading (Markdown and admin page)."""
    threshold = report.settings.get("table1", {}).get("yes_threshold", 0.8)
    return {
        "Interpretability vs selectivity per layer (Spearman / Pearson; 'within layers': "
        "the layers' coefficients pooled, layer-adjusted; 'pooled across layers' mixes layers "
        "with different means and is confounded by layer)": correlation_matrix(report.correlations),
        f"Selectivity of the units with at least {100 * threshold:g}% 'yes' against the rest "
        "(Mann-Whitney U)": report.interpretable,
        "Q2 calibration": report.calibration,
        "Practice trials (not in Table 1)": report.practice,
        "Participants": report.quality,
    }


def ratings_report_markdown(report: RatingsReport, title: str) -> str:
    """The report as Markdown: Table 1, notes, then ratings_report_sections."""
    parts = [f"# {title}", "", markdown_table(table1_display(report.table1)), ""]
    parts += [f"- {note}" for note in report.notes] + [""]
    for heading, table in ratings_report_sections(report).items():
        parts += [f"## {heading}", "", markdown_table(table) if len(table) else "(none)", ""]
    return "\n".join(parts)


def ratings_report_figures(report: RatingsReport) -> dict[str, bytes]:
    """PNG figures by file name."""
    figures = {TABLE1_FIGURE: plots.table1_figure(report.table1)}
    if report.calibration["responses"].sum():
        figures[CALIBRATION_FIGURE] = plots.calibration_figure(report.calibration)
    for measure in SELECTIVITY:
        if report.units[measure].notna().any():
            figures[SCATTER_FIGURE.format(measure)] = plots.scatter_figure(report.units, measure)
    return figures


def ratings_report_save(report: RatingsReport, out_dir: Path, title: str) -> list[Path]:
    """Write CSVs, report.md, the figures and the settings; returns the paths written.

    An earlier report's files in out_dir are removed first, so none of them (a scatter plot of
    a measure no longer scored) can pass for part of this one; other files are left alone.
    A report naming participants by their ids (not anonymised) is readable by its owner only.
    """
    return report_write(
        out_dir, kind="ratings", names=REPORT_FILES, tables=report.tables(),
        markdown=ratings_report_markdown(report, title), settings=report.settings,
        figures=ratings_report_figures(report),
        private=not report.settings.get("anonymous", False),
    )  # fmt: skip


def ratings_report_anonymise(
    report: RatingsReport, *, pseudonym: Callable[[int], str]
) -> RatingsReport:
    """The report as it may be published: participants named by `pseudonym(database id)`,
    without their external ids or exclusion reasons (free text), and the selectivity
    recordings by file name only (a path can name whoever made it)."""
    quality = report.quality.drop(columns=["external_id", "exclusion_reason"], errors="ignore")
    if "participant" in quality:
        quality = quality.assign(participant=quality["participant"].map(pseudonym))
    units = report.units.copy()
    if "source" in units:
        units["source"] = units["source"].map(_file_name)
    scores = [
        score | {"source": _file_name(score["source"])}
        for score in report.settings.get("selectivity_scores", [])
    ]
    settings = report.settings | {"anonymous": True, "selectivity_scores": scores}
    return replace(report, quality=quality, units=units, settings=settings)


def _file_name(path):
    """The last part of a path (other values as they are)."""
    return Path(path).name if isinstance(path, str) else path
