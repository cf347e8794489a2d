"""dreamlib.stats against scipy.stats and against numbers computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from dreamlib.stats import (
    ClaimVerdict,
    PairedDifference,
    holm,
    judge,
    mean_ci,
    paired_difference,
    seeds_for_half_width,
    slope,
    two_level_bootstrap,
    verdict,
)

# --------------------------------------------------------------------------------------------
# mean_ci


def test_mean_ci_by_hand():
    # mean 3, s² = 2.5, half-width t(0.975, 4) · √2.5 / √5 = 2.776445 · 0.707107 = 1.963243
    ci = mean_ci([1, 2, 3, 4, 5])
    assert ci.mean == 3 and ci.n == 5 and ci.confidence == 0.95 and ci.estimate == 3
    assert ci.half_width == pytest.approx(2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5))
    assert ci.half_width == pytest.approx(1.963243, abs=1e-6)
    assert (ci.low, ci.high) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-6)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_mean_ci_matches_scipy(confidence):
    values = [71.2, 69.8, 72.5, 70.1, 70.9, 73.3]
    ci = mean_ci(values, confidence)
    low, high = st.t.interval(confidence, len(values) - 1, loc=np.mean(values),
                              scale=st.sem(values))
    assert (ci.low, ci.high) == pytest.approx((low, high))
    ci_1samp = st.ttest_1samp(values, 0).confidence_interval(confidence)
    assert (ci.low, ci.high) == pytest.approx((ci_1samp.low, ci_1samp.high))
    assert ci.half_width == pytest.approx((high - low) / 2)


def test_mean_ci_single_value_has_no_interval():
    ci = mean_ci([70.0])
    assert ci.mean == 70.0 and ci.n == 1
    assert math.isnan(ci.low) and math.isnan(ci.high) and math.isnan(ci.half_width)


def test_mean_ci_zero_variance_is_the_point():
    ci = mean_ci([2.5, 2.5, 2.5])
    assert (ci.mean, ci.low, ci.high, ci.half_width) == (2.5, 2.5, 2.5, 0.0)


@pytest.mark.parametrize("values, match", [([], "at least one"), ([1.0, math.nan], "finite"),
                                           ([[1.0, 2.0]], "flat")])
def test_mean_ci_bad_values(values, match):
    with pytest.raises(ValueError, match=match):
        mean_ci(values)


@pytest.mark.parametrize("confidence", [0, 1, 95])
def test_bad_confidence(confidence):
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([1, 2], confidence)


# --------------------------------------------------------------------------------------------
# paired_difference


def test_paired_difference_matches_scipy():
    a = [72.1, 70.4, 73.0, 71.8, 72.6]
    b = [70.9, 70.6, 71.2, 70.5, 71.0]
    result = paired_difference(a, b)
    diff = np.subtract(a, b)
    test = st.ttest_rel(a, b)
    low, high = st.t.interval(0.95, 4, loc=diff.mean(), scale=st.sem(diff))
    assert result.mean == pytest.approx(diff.mean()) and result.estimate == result.mean
    assert (result.low, result.high) == pytest.approx((low, high))
    assert result.p_value == pytest.approx(test.pvalue)
    assert result.statistic == pytest.approx(test.statistic)
    assert result.n == 5


def test_paired_difference_by_hand():
    # differences 1, 2, 3: mean 2, s = 1, t = 2 / (1/√3) = 3.4641, 2 dof
    result = paired_difference([11, 12, 13], [10, 10, 10])
    assert result.mean == 2 and result.statistic == pytest.approx(2 * math.sqrt(3))
    assert result.p_value == pytest.approx(2 * st.t.sf(2 * math.sqrt(3), 2))
    assert result.half_width == pytest.approx(4.302652729749464 / math.sqrt(3))


def test_paired_difference_zero_variance_is_supported_not_nan():
    result = paired_difference([71.0, 72.0, 73.0], [70.0, 71.0, 72.0])
    assert (result.mean, result.low, result.high, result.half_width) == (1.0, 1.0, 1.0, 0.0)
    assert result.p_value == 0.0 and result.statistic == math.inf
    assert verdict(result.low, result.high, holm([result.p_value])[0]) == "supported"
    minus = paired_difference([70.0, 71.0], [71.0, 72.0])
    assert minus.p_value == 0.0 and minus.statistic == -math.inf
    assert verdict(minus.low, minus.high, minus.p_value) == "not supported"


def test_paired_difference_identical_methods():
    result = paired_difference([70.0, 71.0, 72.0], [70.0, 71.0, 72.0])
    assert result.mean == 0 and result.p_value == 1.0
    assert verdict(result.low, result.high, result.p_value) == "inconclusive"


def test_paired_difference_errors():
    with pytest.raises(ValueError, match="3 values of a and 2 of b"):
        paired_difference([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2 paired seeds"):
        paired_difference([1], [2])


# --------------------------------------------------------------------------------------------
# holm


def test_holm_known_example():
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == [1.0, 1.0]  # 0.5·2 = 1.0 capped; 0.6 raised to 1.0 by step-down
    assert holm([0.02]) == [0.02]
    assert holm([]) == []


def test_holm_between_raw_and_bonferroni():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 17):
        for _ in range(50):
            p = rng.uniform(0, 0.2, m) ** rng.uniform(0.5, 3)
            adjusted = np.array(holm(p))
            assert np.all(adjusted >= p - 1e-15)
            assert np.all(adjusted <= np.minimum(1, m * p) + 1e-15)
            order = np.argsort(p)
            assert np.all(np.diff(adjusted[order]) >= -1e-15)  # monotone in the raw order


def test_holm_rejects_bad_p():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])
    with pytest.raises(ValueError, match="finite"):
        holm([math.nan])


# --------------------------------------------------------------------------------------------
# slope


def test_slope_matches_linregress():
    x = [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]  # blocks, one point per seed
    y = [70.1, 70.9, 69.8, 71.0, 71.6, 70.7, 71.9, 72.4, 71.5, 72.2, 73.0, 72.6]
    result = slope(x, y)
    fit = st.linregress(x, y)
    half = st.t.ppf(0.975, len(x) - 2) * fit.stderr
    assert result.slope == pytest.approx(fit.slope) and result.estimate == result.slope
    assert (result.low, result.high) == pytest.approx((fit.slope - half, fit.slope + half))
    assert result.p_value == pytest.approx(fit.pvalue) and result.n == 12
    assert result.intercept == pytest.approx(fit.intercept)


def test_slope_by_hand():
    # x 1,2,3 y 1,2,4: slope = Sxy/Sxx = 3/2; residuals -1/6, 1/3, -1/6 -> SSE 1/6,
    # stderr = √(SSE/1 / Sxx) = √(1/12); half-width = t(0.975, 1) · √(1/12)
    result = slope([1, 2, 3], [1, 2, 4])
    assert result.slope == pytest.approx(1.5)
    assert result.half_width == pytest.approx(12.706204736174696 * math.sqrt(1 / 12))


def test_slope_degenerate():
    flat = slope([1, 2, 3, 4], [5, 5, 5, 5])
    assert (flat.slope, flat.low, flat.high, flat.p_value) == (0.0, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="at least 3 points"):
        slope([1, 2], [1, 2])
    with pytest.raises(ValueError, match="distinct x"):
        slope([2, 2, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="one y per x"):
        slope([1, 2, 3], [1, 2])


# --------------------------------------------------------------------------------------------
# verdicts


@pytest.mark.parametrize("low, high, p, expected", [
    (0.5, 1.5, 0.01, "supported"),
    (-1.5, -0.5, 0.01, "not supported"),
    (0.5, 1.5, 0.05, "inconclusive"),  # p must be below alpha
    (-0.2, 1.8, 0.20, "inconclusive"),
    (math.nan, math.nan, math.nan, "inconclusive"),
    (1.0, 1.0, 0.0, "supported"),  # zero variance
    (0.0, 0.0, 1.0, "inconclusive"),
])
def test_verdict(low, high, p, expected):
    assert verdict(low, high, p) == expected


def test_verdict_alpha():
    assert verdict(0.5, 1.5, 0.03, alpha=0.01) == "inconclusive"
    assert verdict(0.5, 1.5, 0.03, alpha=0.05) == "supported"
    with pytest.raises(ValueError, match="alpha"):
        verdict(0.5, 1.5, 0.03, alpha=5)


def test_judge_applies_holm_across_the_family():
    up = paired_difference([72.1, 72.4, 72.9, 72.2], [70.0, 70.3, 70.5, 70.1])
    weak = paired_difference([70.3, 70.1, 70.6, 70.2], [70.0, 70.2, 70.1, 70.0])
    trend = slope([1, 1, 2, 2, 3, 3], [73.0, 72.8, 71.9, 72.1, 70.8, 71.2])
    claims = {"dream > sleep": up, "sleep > base": weak, "more blocks help": trend}
    verdicts = judge(claims)
    assert list(verdicts) == list(claims)
    adjusted = holm([up.p_value, weak.p_value, trend.p_value])
    for (name, result), p_adj in zip(claims.items(), adjusted):
        got = verdicts[name]
        assert isinstance(got, ClaimVerdict) and got.name == name
        assert got.estimate == result.estimate and got.p_value == result.p_value
        assert got.adjusted_p == pytest.approx(p_adj)
        assert got.verdict == verdict(result.low, result.high, p_adj)
    assert verdicts["dream > sleep"].verdict == "supported"
    assert verdicts["more blocks help"].verdict == "not supported"
    assert verdicts["sleep > base"].verdict == "inconclusive"


def test_judge_holm_can_overturn_a_raw_significance():
    def effect(p):  # a positive effect with the given raw p-value
        return PairedDifference(1.0, 0.1, 1.9, 0.9, p, 3.0, 5, 0.95)

    # raw 0.01, 0.03, 0.04: Holm gives 0.03, 0.06, 0.06
    verdicts = judge({"a": effect(0.01), "b": effect(0.03), "c": effect(0.04)})
    assert [v.adjusted_p for v in verdicts.values()] == pytest.approx([0.03, 0.06, 0.06])
    assert [v.verdict for v in verdicts.values()] == ["supported", "inconclusive", "inconclusive"]
    alone = judge({"b": effect(0.03)})["b"]  # the same claim tested alone is supported
    assert alone.adjusted_p == 0.03 and alone.verdict == "supported"


def _with_spread(n: int, sd: float) -> np.ndarray:
    """n values whose sample standard deviation is exactly ``sd``."""
    base = np.arange(n, dtype=float)
    return 80 + (base - base.mean()) / base.std(ddof=1) * sd


@pytest.mark.parametrize("sd, measured_with", [(1.5, 5), (0.4, 5), (3.0, 3), (1.2, 10)])
def test_seeds_for_half_width_is_the_smallest_n_that_reaches_the_target(sd, measured_with):
    """Measured with a few seeds of spread sd, the answer n is where the t interval of n
    seeds with that spread first reaches ±1 point: n seeds do, n − 1 do not."""
    measured = mean_ci(_with_spread(measured_with, sd))
    n = seeds_for_half_width(measured, 1.0)
    assert mean_ci(_with_spread(n, sd)).half_width <= 1.0 + 1e-9
    if n > 2:
        assert mean_ci(_with_spread(n - 1, sd)).half_width > 1.0


def test_seeds_for_half_width_of_a_paired_difference_uses_the_differences_spread():
    a = np.array([80.0, 82.0, 81.0, 79.0, 83.0])
    diff = paired_difference(a + np.array([1.0, 3.0, 0.0, 2.0, 4.0]), a)
    assert seeds_for_half_width(diff, 1.0) == seeds_for_half_width(
        mean_ci([1.0, 3.0, 0.0, 2.0, 4.0]), 1.0)
    assert seeds_for_half_width(diff, 100.0) == 2  # already far inside the target


def test_seeds_for_half_width_without_a_spread_or_beyond_reach():
    assert seeds_for_half_width(mean_ci([81.0]), 1.0) is None
    assert seeds_for_half_width(mean_ci(_with_spread(3, 50.0)), 0.1, max_seeds=50) is None
    with pytest.raises(ValueError, match="positive"):
        seeds_for_half_width(mean_ci([1.0, 2.0]), 0.0)


# ---- the two-level bootstrap (seeds and test examples) ----------------------------------------


def test_two_level_bootstrap_by_hand():
    """2 seeds x 2 examples, a - b = 1 only at (seed 0, example 0). Every ordered draw of the
    seeds (4) and of the examples (4) is equally likely; the replicate is w0 * v0 / 4, where
    w0, v0 count how often seed 0 and example 0 are drawn (2, 1, 0 with probability 1/4,
    1/2, 1/4). So it is 1 with probability 1/16, 1/2 with 4/16, 1/4 with 4/16 and 0 with
    7/16: the 95 % percentile interval is [0, 1] around the estimate 1/4."""
    a = np.array([[1.0, 0.0], [0.0, 0.0]])
    b = np.zeros((2, 2))
    result = two_level_bootstrap(a, b, replicates=40_000, seed=3)
    assert result.estimate == 0.25
    assert (result.low, result.high) == (0.0, 1.0)
    assert (result.seeds, result.examples, result.replicates) == (2, 2, 40_000)
    assert not result.excludes_zero()


def test_two_level_bootstrap_replicates_follow_the_hand_computed_distribution(monkeypatch):
    """The same case: the replicates' frequencies match the enumerated distribution."""
    seen = []
    real_quantile = np.quantile

    def keep(values, q):
        seen.append(np.asarray(values))
        return real_quantile(values, q)

    monkeypatch.setattr("dreamlib.stats.np.quantile", keep)
    two_level_bootstrap([[1.0, 0.0], [0.0, 0.0]], np.zeros((2, 2)), replicates=40_000, seed=3)
    values = seen[0]
    exact = {1.0: 1 / 16, 0.5: 4 / 16, 0.25: 4 / 16, 0.0: 7 / 16}
    assert set(np.unique(values)) == set(exact)
    for value, probability in exact.items():
        assert abs(np.mean(values == value) - probability) < 0.01


def test_two_level_bootstrap_is_reproducible_and_wider_than_the_seed_interval():
    """A fixed seed gives the same digits; on 2,000 examples the interval covers the test
    set's sampling too, so it is wider than the t interval over 8 seeds, which ignores it."""
    rng = np.random.default_rng(1)
    a = (rng.random((8, 2000)) < 0.85) * 100.0
    b = (rng.random((8, 2000)) < 0.84) * 100.0
    first, again = two_level_bootstrap(a, b), two_level_bootstrap(a, b)
    assert first == again
    seeds_only = paired_difference(a.mean(axis=1), b.mean(axis=1))
    assert first.estimate == pytest.approx(seeds_only.estimate)
    assert first.high - first.low > seeds_only.high - seeds_only.low
    assert first.low < first.estimate < first.high


def test_two_level_bootstrap_without_any_spread_is_the_point():
    a = np.ones((3, 50))
    result = two_level_bootstrap(a, np.zeros((3, 50)))
    assert (result.low, result.estimate, result.high) == (1.0, 1.0, 1.0)
    assert result.excludes_zero()


@pytest.mark.parametrize("a, b, match", [
    (np.ones((2, 3)), np.ones((3, 2)), "same shape"),
    (np.ones(4), np.ones(4), "same shape"),
    (np.ones((1, 5)), np.ones((1, 5)), "at least 2 seeds"),
    (np.full((2, 2), np.nan), np.ones((2, 2)), "finite"),
])
def test_two_level_bootstrap_refuses_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        two_level_bootstrap(a, b)
