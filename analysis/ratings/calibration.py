"""Q2 calibration: the share of 'yes' a participant predicted against the share observed.

For each 'yes' with a Q2 answer, the observed share is the 'yes' rate among the *other*
participants who rated the same unit (leaving the respondent out, whose own 'yes' is certain).
"""

import numpy as np
import pandas as pd

Q2_BINS = ("0-20%", "20-40%", "40-60%", "60-80%", "80-100%")


def leave_one_out_yes(responses: pd.DataFrame) -> pd.Series:
    """Per response, the 'yes' share of the other responses to its unit (NaN when alone)."""
    yes = responses["yes"].astype(float)
    by_unit = yes.groupby(responses["unit"])
    total, count = by_unit.transform("sum"), by_unit.transform("count")
    others = count - 1
    return ((total - yes) / others).where(others > 0)


def q2_calibration(responses: pd.DataFrame) -> pd.DataFrame:
    """Per Q2 bin: predicted midpoint, responses, observed mean share and its SE (percent)."""
    observed = leave_one_out_yes(responses)
    answered = responses["yes"].astype(bool) & responses["q2_bin"].notna() & observed.notna()
    rows = []
    for bin_index, name in enumerate(Q2_BINS):
        shares = observed[answered & (responses["q2_bin"] == bin_index)].to_numpy()
        se = shares.std(ddof=1) / np.sqrt(len(shares)) if len(shares) > 1 else np.nan
        rows.append(
            {
                "q2_bin": name,
                "predicted": 10.0 + 20.0 * bin_index,
                "responses": len(shares),
                "observed": 100 * shares.mean() if len(shares) else np.nan,
                "observed_se": 100 * se,
            }
        )
    return pd.DataFrame(rows)
