"""Table 1 (a)-(e): a hand-computed case, overrides, and recovery of known synthetic rates."""

import numpy as np
import pandas as pd
import pytest

from analysis.labels import AgreementJudge
from analysis.ratings.agreement import agreement_arrays
from analysis.ratings.table1 import Table1Settings, table1
from tests.analysis.ratings_data import (
    FLAT_COATED_RETRIEVER,
    hand_case,
    matcher,  # noqa: F401  (fixture)
    responses_frame,
    units_frame,
)


def row_of(responses, units, judge, **settings) -> pd.Series:
    return table1(agreement_arrays(responses, units, judge), Table1Settings(**settings))[0].iloc[0]


def test_table1_matches_the_hand_computed_example(matcher):  # noqa: F811
    """u1: 5/5 yes, labels dog x3, puppy, car; u2: 4/5 yes, apple x2, green pepper, car; u3: 1/4.

    (a) 10/14. (b) u1, u2 of 3. (c) u1: the 6 pairs among dog/puppy of 10; u2: apple-apple and
    apple-green pepper x2 of 6 -> (0.6 + 0.5) / 2. (d) u1: 4/5 name a dog (flat-coated
    retriever); u2: 3/4 (apples and green peppers under 'produce' with Granny Smith) -> 0.775.
    (e) u1 only (u2 has no CCMAS class): car ~ sports car, 1/5.
    """
    row = row_of(*hand_case(matcher))
    assert row["a"] == pytest.approx(100 * 10 / 14)
    assert row["a_se"] == pytest.approx(100 * np.sqrt((10 / 14) * (4 / 14) / 14))
    assert row["b"] == pytest.approx(100 * 2 / 3)
    assert row["b_se"] == pytest.approx(100 * np.sqrt((2 / 3) * (1 / 3) / 3))
    assert (row["c"], row["c_units"]) == (pytest.approx(55.0), 2)
    assert row["c_se"] == pytest.approx(100 * np.std([0.6, 0.5], ddof=1) / np.sqrt(2))
    assert (row["d"], row["d_units"]) == (pytest.approx(77.5), 2)
    assert (row["e"], row["e_units"]) == (pytest.approx(20.0), 1)
    assert np.isnan(row["e_se"])  # one unit: no spread to estimate


def test_an_override_changes_exactly_the_pairs_it_names(matcher):  # noqa: F811
    """car~dog: u1 gains the 3 car-dog pairs (9/10; car-puppy still disagrees), u2 unchanged."""
    responses, units, judge = hand_case(matcher, {("car", "dog"): True})
    row = row_of(responses, units, judge)
    assert row["c"] == pytest.approx(100 * (0.9 + 0.5) / 2)
    assert row["d"] == pytest.approx(77.5)
    assert judge.used_overrides == {("car", "dog")}


def test_an_override_against_a_class_changes_d(matcher):  # noqa: F811
    responses, units, judge = hand_case(matcher, {("dog", FLAT_COATED_RETRIEVER): False})
    row = row_of(responses, units, judge)
    assert row["d"] == pytest.approx(100 * (1 / 5 + 3 / 4) / 2)  # only 'puppy' still agrees


def test_the_threshold_of_b_is_inclusive(matcher):  # noqa: F811
    assert row_of(*hand_case(matcher), yes_threshold=0.8)["b"] == pytest.approx(200 / 3)
    assert row_of(*hand_case(matcher), yes_threshold=0.81)["b"] == pytest.approx(100 / 3)


def synthetic_layer(rng, n_units, raters, p_yes, coherence, layer):
    """Units with a known yes-rate; a 'yes' says 'dog' with prob. `coherence`, else a nonce word."""
    rows = []
    for u in range(n_units):
        for rater in rng.choice(400, raters, replace=False):
            yes = rng.random() < p_yes
            label = ("dog",) if rng.random() < coherence else (f"zq{rng.integers(1e9)}",)
            rows.append((int(rater), f"{layer}{u}", yes, label if yes else ()))
    units = units_frame(
        [(f"{layer}{u}", "net", layer, u, FLAT_COATED_RETRIEVER, "") for u in range(n_units)]
    )
    return pd.DataFrame(rows, columns=["participant", "unit", "yes", "labels"]), units


def test_known_rates_are_recovered_within_their_standard_errors(matcher):  # noqa: F811
    """a = p; b = P(Binomial(6, p) >= 5); c = q^2 (pairs agree when both say dog); d = q."""
    rng = np.random.default_rng(7)
    low, low_units = synthetic_layer(rng, 300, 6, 0.5, 0.5, "conv")
    high, high_units = synthetic_layer(rng, 300, 6, 0.85, 0.7, "fc")
    responses = pd.concat([low, high], ignore_index=True)
    units = pd.concat([low_units, high_units])
    table = table1(agreement_arrays(responses, units, AgreementJudge(matcher)), Table1Settings())[0]
    for row, p, q in zip(table.itertuples(), (0.5, 0.85), (0.5, 0.7), strict=True):
        b_expected = sum(pytest.importorskip("scipy").stats.binom.pmf(k, 6, p) for k in (5, 6))
        assert abs(row.a - 100 * p) < 3 * row.a_se
        assert abs(row.b - 100 * b_expected) < 3 * row.b_se
        if row.c_units > 10:
            assert abs(row.c - 100 * q * q) < 3 * row.c_se
            assert abs(row.d - 100 * q) < 3 * row.d_se


def test_bootstrap_over_participants_matches_the_analytical_se_without_participant_effects(
    matcher,  # noqa: F811
):
    rng = np.random.default_rng(3)
    responses, units = synthetic_layer(rng, 200, 6, 0.4, 0.6, "L")
    arrays = agreement_arrays(responses, units, AgreementJudge(matcher))
    analytical = table1(arrays, Table1Settings())[0].iloc[0]
    boot = table1(arrays, Table1Settings(bootstrap=300, seed=1))[0].iloc[0]
    assert boot["a"] == analytical["a"]  # the estimate itself never changes
    assert boot["a_se"] == pytest.approx(analytical["a_se"], rel=0.3)
    # Resampling participants also changes how many raters a unit has, so (b) varies more.
    assert analytical["b_se"] / 2 < boot["b_se"] < 2 * analytical["b_se"]
    assert np.isfinite(boot[["c_se", "d_se"]].astype(float)).all()


def test_two_answers_of_one_participant_to_a_unit_are_no_pair(matcher):  # noqa: F811
    """A unit with two panels (older imports) answered twice by one person: not agreement
    between people."""
    units = units_frame([("u1", "net", "L", 1, FLAT_COATED_RETRIEVER, "")])
    responses = responses_frame([(1, "u1", True, "dog"), (1, "u1", True, "dog"),
                                 (2, "u1", True, "car")], matcher)  # fmt: skip
    arrays = agreement_arrays(responses, units, AgreementJudge(matcher, {}))
    assert sorted(zip(arrays.pair_first, arrays.pair_second, strict=True)) == [(0, 2), (1, 2)]
    assert row_of(responses, units, AgreementJudge(matcher, {}))["c"] == 0.0


def test_responses_to_unknown_units_are_refused(matcher):  # noqa: F811
    responses, units, judge = hand_case(matcher)
    with pytest.raises(ValueError, match="missing from the unit table"):
        agreement_arrays(responses, units.drop(index="u3"), judge)
