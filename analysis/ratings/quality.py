"""Per-participant data quality and the practice trials (kept out of Table 1)."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.report_files import counted

PRACTICE_KEYS = ["panel", "source", "intended_answer", "intended_label"]


@dataclass(frozen=True)
class QualitySettings:
    """When a participant is flagged for review (flags suggest exclusion; they never exclude)."""

    # A 10x10 panel cannot be inspected faster than this; checked against the browser's count
    # and the server's clock (participant_quality).
    min_median_ms: int = 2000
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
    """One row per participant: trials, 'yes' share, median time by the browser's count and by
    the server's clock, the server's total time, practice accuracy, flags.

    Shares are in percent. Everyone who answered anything has a row, but participants still
    taking part (`active`: in progress within the hold time) are not flagged: one may have done
    only the practice so far, or two fast trials, and an exclusion is for good. Completed and
    abandoned participants are, since their answers count. The server's figures need the
    answers' `created_at` and the participants' `consented_at`; frames without them (made by
    hand) leave those figures empty and the browser's count alone.
    """
    everyone = pd.Index(
        np.union1d(main["participant"], practice["participant"]), name="participant"
    )
    table = main.groupby("participant").agg(
        main_trials=("yes", "size"), yes_share=("yes", "mean"), median_ms=("response_ms", "median")
    )
    table = table.reindex(everyone)
    table = table.join(server_times(main, practice).reindex(everyone))
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


def server_times(main: pd.DataFrame, practice: pd.DataFrame) -> pd.DataFrame:
    """Per participant, by the server's clock: the median interval before their main answers
    (`server_median_ms`) and the minutes from consent to their last answer (`server_total_min`).

    An answer's interval runs from the participant's previous answer (any trial, practice
    too; from consent for the first) to its own, as the server stored them (`created_at`).
    The trial page shows a panel only once the answer before is stored, so a real
    participant's interval holds the whole of their response time and their network's delays
    besides: it is never shorter than the response time the browser reports. A client that
    makes up its response times cannot make up these.
    """
    columns = ["server_median_ms", "server_total_min"]
    if not all({"created_at", "consented_at"} <= set(frame) for frame in (main, practice)):
        return pd.DataFrame(columns=columns, dtype=float)
    answers = pd.concat([main.assign(main=True), practice.assign(main=False)], ignore_index=True)
    answers = answers.assign(
        created_at=pd.to_datetime(answers["created_at"], utc=True),
        consented_at=pd.to_datetime(answers["consented_at"], utc=True),
    ).sort_values(["participant", "created_at"], kind="stable")
    by_participant = answers.groupby("participant")
    previous = by_participant["created_at"].shift().fillna(answers["consented_at"])
    answers["server_ms"] = (answers["created_at"] - previous).dt.total_seconds() * 1000
    last = by_participant["created_at"].max() - by_participant["consented_at"].first()
    return pd.DataFrame(
        {
            columns[0]: answers.loc[answers["main"]].groupby("participant")["server_ms"].median(),
            columns[1]: last.dt.total_seconds() / 60,
        }
    )


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
    if speed := _speed_flag(row, settings):
        flags.append(speed)
    if np.isfinite(row.practice_acc) and row.practice_acc < 100 * settings.min_practice_accuracy:
        flags.append(f"practice accuracy {row.practice_acc:.0f}%")
    if row.main_trials < settings.min_main_trials:
        trials = (
            f"{counted(row.main_trials, 'main trial', 'main trials')} < {settings.min_main_trials}"
        )
        flags.append(trials if row.main_trials else "no main trials")
    return "; ".join(flags)


def _speed_flag(row, settings: QualitySettings) -> str:
    """The median-time flag, naming the figure under the limit: the browser's count, or the
    server's clock, or both.

    Either one under the limit flags (the smaller of the two is checked). A real participant's
    server intervals are never shorter than their response times (server_times), so for
    them this is the browser's count, as before, however slow their network; a client that
    reports long response times while answering fast is caught by the server's clock.
    """
    limit = settings.min_median_ms
    figures = {"the browser's count": row.median_ms, "the server's clock": row.server_median_ms}
    under = {clock: ms for clock, ms in figures.items() if ms < limit}  # NaN is never under
    if not under:
        return ""
    times = ", ".join(f"{ms / 1000:.1f} s by {clock}" for clock, ms in under.items())
    text = f"median time {times} < {limit / 1000:g} s"
    if "the browser's count" not in under:
        text += f" (the browser reported {row.median_ms / 1000:.1f} s)"
    return text
