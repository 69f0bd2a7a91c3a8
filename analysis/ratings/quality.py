"""Per-participant data quality and the practice trials (kept out of Table 1)."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

PRACTICE_KEYS = ["panel", "source", "intended_answer", "intended_label"]


@dataclass(frozen=True)
class QualitySettings:
    """When a participant is flagged for review (flags suggest exclusion; they never exclude)."""

    min_median_ms: int = 2000  # a 10x10 panel cannot be inspected faster than this
    min_practice_accuracy: float = 0.5
    min_main_trials: int = 1


def practice_accuracy(practice: pd.DataFrame) -> pd.DataFrame:
    """Per practice panel: responses, 'yes' share and accuracy against the intended answer, in
    percent."""
    if practice.empty:
        return pd.DataFrame(columns=[*PRACTICE_KEYS, "responses", "yes", "accuracy"])
    practice = practice.assign(correct=_practice_correct(practice))
    table = practice.groupby(PRACTICE_KEYS, sort=True).agg(
        responses=("yes", "size"), yes=("yes", "mean"), accuracy=("correct", "mean")
    )
    return (table.reset_index()).assign(
        yes=lambda t: 100 * t.yes, accuracy=lambda t: 100 * t.accuracy
    )


def _practice_correct(practice: pd.DataFrame) -> pd.Series:
    """1/0 whether the answer matches the intended one; NaN when the panel has none."""
    intended = practice["intended_answer"].map({"yes": 1.0, "no": 0.0})
    return (practice["yes"].astype(float) == intended).astype(float).where(intended.notna())


def participant_quality(
    main: pd.DataFrame, practice: pd.DataFrame, settings: QualitySettings
) -> pd.DataFrame:
    """One row per participant: trials, 'yes' share, median time, practice accuracy, flags.

    Shares are in percent. Everyone who answered anything has a row, but participants still
    taking part (`active`: in progress within the hold time) are not flagged: one may have done
    only the practice so far, or two fast trials, and an exclusion is for good. Completed and
    abandoned participants are, since their answers count.
    """
    everyone = pd.Index(
        np.union1d(main["participant"], practice["participant"]), name="participant"
    )
    table = main.groupby("participant").agg(
        main_trials=("yes", "size"), yes_share=("yes", "mean"), median_ms=("response_ms", "median")
    )
    table = table.reindex(everyone)
    table["main_trials"] = table["main_trials"].fillna(0).astype(int)
    table["yes_share"] *= 100
    table["practice_acc"] = _practice_percent(practice).reindex(everyone)
    table["all_same"] = table["yes_share"].isin([0.0, 100.0]) & (table["main_trials"] > 1)
    active = pd.concat([main, practice]).groupby("participant")["active"].any()
    table["flags"] = [
        "" if still else _flags(row, settings)
        for row, still in zip(table.itertuples(), active.reindex(everyone), strict=True)
    ]
    return table.reset_index()


def _practice_percent(practice: pd.DataFrame) -> pd.Series:
    """Each participant's share of practice answers equal to the intended one, in percent."""
    if practice.empty:
        return pd.Series(dtype=float)
    correct = practice.assign(correct=_practice_correct(practice))
    return 100 * correct.groupby("participant")["correct"].mean()


def _flags(row, settings: QualitySettings) -> str:
    """The reasons a participant deserves a look, joined by '; '."""
    flags = []
    if row.all_same:
        flags.append("all answers the same")
    if row.median_ms < settings.min_median_ms:
        flags.append(
            f"median time {row.median_ms / 1000:.1f} s < {settings.min_median_ms / 1000:g} s"
        )
    if np.isfinite(row.practice_acc) and row.practice_acc < 100 * settings.min_practice_accuracy:
        flags.append(f"practice accuracy {row.practice_acc:.0f}%")
    if row.main_trials < settings.min_main_trials:
        trials = f"{row.main_trials} main trials < {settings.min_main_trials}"
        flags.append(trials if row.main_trials else "no main trials")
    return "; ".join(flags)
