"""The statistics behind the claims, from :mod:`scipy.stats`.

The protocol: every model is trained with several seeds and tested on ONE fixed test set, so
two methods are compared *pairwise by seed* (seed ``i`` of method a against seed ``i`` of
method b) and a trend (accuracy against block count, say) is a least-squares slope over the
seed-level points. Every result keeps the units of its inputs (pass accuracy points, get
points back) and its number of seeds ``n``.

* :func:`mean_ci` — mean and t-based confidence interval of one method's seeds.
* :func:`paired_difference` — mean of a − b, its t interval and the paired t-test's p-value.
* :func:`slope` — least-squares slope, its t interval (n − 2 degrees of freedom), p-value.
* :func:`two_level_bootstrap` — a paired difference's interval that also covers the test
  set's own sampling: seeds and test examples resampled together.
* :func:`holm` — Holm–Bonferroni adjusted p-values for a family of claims.
* :func:`seeds_for_half_width` — the seeds a measured spread needs for a target interval.
* :func:`verdict` / :func:`judge` — "supported", "not supported" or "inconclusive" for claims
  of the form "a > b" or "slope > 0", Holm-adjusted across the family.

Degenerate inputs are answered honestly, never with a fake interval:

* one value (n = 1): the interval and p-value are ``nan`` (no spread can be estimated);
* zero variance (every seed gives the same value, or the same difference a − b): the interval
  is the point itself (half-width 0) and the p-value is the limit of the t-test as the spread
  goes to 0: ``0.0`` when the effect is non-zero, ``1.0`` when it is exactly zero. A paired
  difference of +1 point on every seed is therefore "supported", not ``nan`` (older scipy
  returns ``nan`` there and newer scipy ``0.0`` with a warning: we decide it ourselves).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

VERDICTS = ("supported", "not supported", "inconclusive")


def _values(values: Sequence[float], what: str = "values") -> np.ndarray:
    """A 1-D float array of finite values; anything else is a ValueError naming `what`."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{what} must be a flat sequence of numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must be finite numbers, got {array.tolist()}")
    return array


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def _t_quantile(confidence: float, dof: int) -> float:
    """The two-sided t critical value: t((1 + confidence) / 2, dof)."""
    return float(st.t.ppf((1 + confidence) / 2, dof))


@dataclass(frozen=True)
class MeanCI:
    """Mean of `n` values with its t-based confidence interval (same units as the values)."""

    mean: float
    low: float
    high: float
    half_width: float
    n: int
    confidence: float

    @property
    def estimate(self) -> float:
        return self.mean


@dataclass(frozen=True)
class PairedDifference:
    """Mean of a − b over `n` paired seeds, its t interval and the paired t-test.

    `p_value` is two-sided (H0: mean difference 0); `statistic` is the t statistic (±inf for a
    non-zero difference with zero variance, 0 for an exactly zero one).
    """

    mean: float
    low: float
    high: float
    half_width: float
    p_value: float
    statistic: float
    n: int
    confidence: float

    @property
    def estimate(self) -> float:
        return self.mean


@dataclass(frozen=True)
class Slope:
    """Least-squares slope of y on x over `n` seed-level points, its t interval (n − 2 dof)."""

    slope: float
    low: float
    high: float
    half_width: float
    p_value: float  # two-sided, H0: slope 0
    intercept: float
    n: int
    confidence: float

    @property
    def estimate(self) -> float:
        return self.slope


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> MeanCI:
    """Mean of `values` and its t-based confidence interval.

    Half-width = t((1 + confidence) / 2, n − 1) · s / √n (s: sample standard deviation), as
    ``scipy.stats.t.interval(confidence, n - 1, loc=mean, scale=scipy.stats.sem(values))``.
    n = 1 gives ``nan`` bounds; zero variance gives the interval [mean, mean].
    """
    _check_confidence(confidence)
    array = _values(values)
    n = len(array)
    if n == 0:
        raise ValueError("mean_ci needs at least one value, got none")
    mean = float(array.mean())
    if n == 1:
        return MeanCI(mean, math.nan, math.nan, math.nan, 1, confidence)
    half = _t_quantile(confidence, n - 1) * float(st.sem(array)) if np.ptp(array) > 0 else 0.0
    return MeanCI(mean, mean - half, mean + half, half, n, confidence)


def paired_difference(a: Sequence[float], b: Sequence[float],
                      confidence: float = 0.95) -> PairedDifference:
    """Mean of a − b (pairs = same seed), its t interval, and the paired t-test's p-value.

    The p-value is ``scipy.stats.ttest_rel(a, b).pvalue`` (two-sided). When every difference is
    the same, the interval is that value and p is 0.0 (non-zero difference) or 1.0 (zero): see
    the module docstring. Raises ValueError when the lengths differ or n < 2.
    """
    _check_confidence(confidence)
    first, second = _values(a, "a"), _values(b, "b")
    if len(first) != len(second):
        raise ValueError(f"paired_difference needs one value of a and of b per seed: got "
                         f"{len(first)} values of a and {len(second)} of b")
    n = len(first)
    if n < 2:
        raise ValueError(f"paired_difference needs at least 2 paired seeds, got {n}")
    diff = first - second
    ci = mean_ci(diff, confidence)
    if np.ptp(diff) == 0:  # zero variance: the t-test is undefined, take its limit
        mean = float(diff[0])
        return PairedDifference(mean, mean, mean, 0.0, 0.0 if mean else 1.0,
                                math.copysign(math.inf, mean) if mean else 0.0, n, confidence)
    with warnings.catch_warnings():  # near-identical differences: scipy warns, result is fine
        warnings.simplefilter("ignore", RuntimeWarning)
        test = st.ttest_rel(first, second)
    return PairedDifference(ci.mean, ci.low, ci.high, ci.half_width, float(test.pvalue),
                            float(test.statistic), n, confidence)


def slope(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> Slope:
    """Least-squares slope of `y` on `x` with its t interval and two-sided p-value.

    Pass seed-level points (x repeated once per seed), not per-x means. Uses
    ``scipy.stats.linregress``; the interval is slope ± t((1 + confidence) / 2, n − 2) · stderr.
    Constant y gives slope 0, interval [0, 0] and p = 1.0. Raises ValueError when the lengths
    differ, n < 3, or x is constant.
    """
    _check_confidence(confidence)
    xs, ys = _values(x, "x"), _values(y, "y")
    if len(xs) != len(ys):
        raise ValueError(f"slope needs one y per x: got {len(xs)} x and {len(ys)} y values")
    n = len(xs)
    if n < 3:
        raise ValueError(f"slope needs at least 3 points (n − 2 ≥ 1 degrees of freedom), got {n}")
    if np.ptp(xs) == 0:
        raise ValueError(f"slope needs at least two distinct x values, got only {xs[0]}")
    if np.ptp(ys) == 0:
        return Slope(0.0, 0.0, 0.0, 0.0, 1.0, float(ys[0]), n, confidence)
    fit = st.linregress(xs, ys)
    half = _t_quantile(confidence, n - 2) * float(fit.stderr)
    value = float(fit.slope)
    return Slope(value, value - half, value + half, half, float(fit.pvalue), float(fit.intercept),
                 n, confidence)


@dataclass(frozen=True)
class BootstrapCI:
    """A paired difference a − b and its percentile interval from resampling both seeds and
    test examples (:func:`two_level_bootstrap`)."""

    mean: float
    low: float
    high: float
    seeds: int
    examples: int
    replicates: int
    confidence: float

    @property
    def estimate(self) -> float:
        return self.mean

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


BOOTSTRAP_REPLICATES = 10_000
BOOTSTRAP_SEED = 0  # fixed: an interval recomputes to the same digits
_BOOTSTRAP_CHUNK = 250  # replicates drawn at once (memory: seeds x examples x chunk floats)


def two_level_bootstrap(a, b, confidence: float = 0.95,
                        replicates: int = BOOTSTRAP_REPLICATES,
                        seed: int = BOOTSTRAP_SEED) -> BootstrapCI:
    """Paired two-level bootstrap of mean(a) − mean(b) over seeds and test examples.

    ``a`` and ``b`` are (seeds × examples) arrays of per-example scores (1 correct, 0 wrong;
    times 100 for points), row i of both from seed i and column j from test example j: the
    pairing the protocol makes (same seeds, one fixed test set). Why two levels: the t
    interval over seeds treats the test set as fixed, but its examples are a sample too
    (the standard error of one accuracy on 2,000 examples is about 0.8 points), and a
    method's advantage may sit on a few examples that another test set would not contain.

    Each replicate draws the seeds with replacement and, independently, the examples with
    replacement, and takes the mean difference over the drawn (seed, example) cells; the
    interval is the replicates' (1 ± confidence) / 2 percentiles. Seeds and examples are
    crossed (every seed scored the same examples), so one example draw serves every seed.
    A fixed ``seed`` makes the interval reproducible to the digit.
    """
    _check_confidence(confidence)
    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if first.ndim != 2 or first.shape != second.shape:
        raise ValueError(f"two_level_bootstrap needs two (seeds x examples) arrays of the same "
                         f"shape, got {first.shape} and {second.shape}")
    if not (np.all(np.isfinite(first)) and np.all(np.isfinite(second))):
        raise ValueError("two_level_bootstrap needs finite scores")
    seeds, examples = first.shape
    if seeds < 2 or examples < 2:
        raise ValueError(f"two_level_bootstrap needs at least 2 seeds and 2 examples, got "
                         f"{seeds} x {examples}")
    if replicates < 100:
        raise ValueError(f"replicates must be at least 100, got {replicates}")
    diff = first - second
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, replicates, _BOOTSTRAP_CHUNK):
        size = min(_BOOTSTRAP_CHUNK, replicates - start)
        drawn_seeds = rng.integers(0, seeds, size=(size, seeds))
        drawn_examples = rng.integers(0, examples, size=(size, examples))
        per_seed = diff[:, drawn_examples].sum(axis=2)  # (seeds, size): sum over drawn examples
        totals = np.take_along_axis(per_seed.T, drawn_seeds, axis=1).sum(axis=1)
        values.append(totals / (seeds * examples))
    values = np.concatenate(values)
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return BootstrapCI(float(diff.mean()), float(low), float(high), seeds, examples, replicates,
                       confidence)


def seeds_for_half_width(result: MeanCI | PairedDifference, target: float,
                         max_seeds: int = 1000) -> int | None:
    """How many seeds would bring ``result``'s t interval to a half-width of ``target``.

    The spread is the one measured (s = half-width · √n / t(n − 1), the sample standard
    deviation of the values or of the paired differences); the answer is the smallest n ≥ 2
    with t((1 + confidence) / 2, n − 1) · s / √n ≤ ``target``. It plans the next protocol and
    is only as good as the spread measured with few seeds. None when n < 2 (no spread
    measured) or more than ``max_seeds`` would be needed.
    """
    if not target > 0:
        raise ValueError(f"target half-width must be positive, got {target}")
    if result.n < 2 or math.isnan(result.half_width):
        return None
    sd = result.half_width * math.sqrt(result.n) / _t_quantile(result.confidence, result.n - 1)
    for n in range(2, max_seeds + 1):
        if _t_quantile(result.confidence, n - 1) * sd / math.sqrt(n) <= target:
            return n
    return None


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order.

    Sort the m p-values ascending; the i-th smallest (i = 0..m−1) becomes (m − i) · p, made
    monotone by a running maximum (step-down) and capped at 1. Each adjusted value is ≥ its raw
    p and ≤ the Bonferroni value min(1, m · p). Reject claim k at level alpha when
    ``holm(p)[k] < alpha``: this controls the family-wise error rate.
    """
    p = _values(p_values, "p_values")
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p.tolist()}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return [float(v) for v in adjusted]


def verdict(low: float, high: float, adjusted_p: float, alpha: float = 0.05) -> str:
    """The verdict on a claim "a > b" (or "slope > 0") from its interval and adjusted p-value.

    "supported" when ``adjusted_p < alpha`` and the effect is positive, "not supported" when
    ``adjusted_p < alpha`` and it is negative, otherwise (or when anything is nan)
    "inconclusive". The effect is the interval's midpoint (the point estimate: the t intervals
    here are symmetric), so an interval of another confidence than 1 − alpha still gives the
    right sign.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    if any(math.isnan(v) for v in (low, high, adjusted_p)):
        return "inconclusive"
    effect = (low + high) / 2
    if adjusted_p < alpha and effect > 0:
        return "supported"
    if adjusted_p < alpha and effect < 0:
        return "not supported"
    return "inconclusive"


@dataclass(frozen=True)
class ClaimVerdict:
    """One claim of a family: its effect, interval, raw and Holm-adjusted p, and verdict."""

    name: str
    estimate: float
    low: float
    high: float
    p_value: float
    adjusted_p: float
    verdict: str


def judge(claims: Mapping[str, PairedDifference | Slope],
          alpha: float = 0.05) -> dict[str, ClaimVerdict]:
    """Verdicts on a family of claims "a > b" / "slope > 0", Holm-adjusted across the family.

    `claims` maps each claim's name to its :func:`paired_difference` (of a − b) or
    :func:`slope` result. Claims whose p-value is nan (cannot happen for these two results,
    but may for hand-made ones) are left out of the adjustment and judged "inconclusive".
    """
    names = list(claims)
    testable = [name for name in names if not math.isnan(claims[name].p_value)]
    adjusted = dict(zip(testable, holm([claims[name].p_value for name in testable])))
    out = {}
    for name in names:
        result = claims[name]
        p_adj = adjusted.get(name, math.nan)
        out[name] = ClaimVerdict(name, float(result.estimate), float(result.low),
                                 float(result.high), float(result.p_value), p_adj,
                                 verdict(result.low, result.high, p_adj, alpha))
    return out
