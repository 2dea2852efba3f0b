"""Score arithmetic for CSAT, CES, AES and NPS with 95% intervals, from counts alone (no database)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, case

Z95 = 1.959964
SMALL_SAMPLE = 30
PROMOTER_MIN = 9
DETRACTOR_MAX = 6
MEAN_METRICS = ("ces", "aes")


@dataclass(frozen=True)
class Rule:
    """How one survey reads its answers: metric, positive (CSAT) or easy (CES, AES) threshold, direction."""

    metric: str
    positive_min: int | None = None
    higher_is_easier: bool | None = None
    scale_min: int | None = None
    scale_max: int | None = None


def counts_up(rule: Rule) -> bool:
    """Whether scores at or above the threshold are the positive ones (all but a CES or AES run backwards)."""
    if rule.metric in MEAN_METRICS:
        return rule.higher_is_easier if rule.higher_is_easier is not None else rule.metric == "ces"
    return True


def is_positive(score: int, rule: Rule) -> bool:
    """Whether one answer counts as satisfied (CSAT) or easy (CES, AES) under its own survey's rule."""
    if rule.positive_min is None:
        return False
    return score >= rule.positive_min if counts_up(rule) else score <= rule.positive_min


def is_positive_sql(score, positive_min, up):
    """SQL form of is_positive over a survey's threshold and counts_up(), for statements that count."""
    return and_(positive_min.isnot(None), case((up, score >= positive_min), else_=score <= positive_min))


def _pct(value: float, digits: int = 1) -> float:
    return round(value * 100, digits)


def wilson_bounds(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of k successes in n (n > 0), as unrounded fractions."""
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson(k: int, n: int, z: float = Z95) -> list[float] | None:
    """Wilson score interval of k successes in n, in percent: sound near 0% and 100% and for small n."""
    if n <= 0:
        return None
    low, high = wilson_bounds(k, n, z)
    return [_pct(low), _pct(high)]


def mean_and_sd(distribution: dict[int, int]) -> tuple[int, float | None, float | None]:
    """Count, mean and sample standard deviation of a score -> count distribution (None when undefined)."""
    n = sum(distribution.values())
    if n == 0:
        return 0, None, None
    mean = sum(score * count for score, count in distribution.items()) / n
    if n < 2:
        return n, mean, None
    ss = sum(count * (score - mean) ** 2 for score, count in distribution.items())
    return n, mean, math.sqrt(ss / (n - 1))


def t_interval(distribution: dict[int, int], scale: tuple[int, int] | None = None) -> list[float] | None:
    """Student t 95% interval of the mean, clamped to the scale; None below two answers.

    With few answers the t interval runs past the scale's ends (2 answers of 5 and 4 on 1-5 give
    [-1.85, 10.85]); no mean can lie there, so the interval stops at the scale.
    """
    # Imported here: scipy.stats costs a process 85 MB, and the CLI, workers and exports never need it.
    from scipy.stats import t as student_t

    n, mean, sd = mean_and_sd(distribution)
    if sd is None:
        return None
    half = float(student_t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if scale is not None:
        low, high = max(low, scale[0]), min(high, scale[1])
    return [round(low, 2), round(high, 2)]


def nps_interval(promoters: int, detractors: int, n: int, z: float = Z95) -> list[float] | None:
    """Interval of promoters% - detractors% from one multinomial sample, clipped to [-100, 100]."""
    if n < 2:
        return None
    p, q = promoters / n, detractors / n
    half = z * math.sqrt((p + q - (p - q) ** 2) / n)
    return [_pct(max(-1.0, p - q - half)), _pct(min(1.0, p - q + half))]


def summarize(metric: str, distribution: dict[int, int], positive: int = 0,
              scale: tuple[int, int] | None = None) -> dict:
    """The score fields of a row, given its distribution and how many answers were positive or easy.

    `positive` is counted per answer under each answer's own survey rule (see Tally), so rows that merge
    surveys with different thresholds stay correct. `scale` bounds a mean's interval (the widest of
    the row's surveys).
    """
    n, mean, _ = mean_and_sd(distribution)
    out: dict = {"n": n, "score": None, "ci95": None, "small_sample": n < SMALL_SAMPLE,
                 "mean": None if mean is None else round(mean, 2),
                 "distribution": {str(s): distribution[s] for s in sorted(distribution) if distribution[s]}}
    if n == 0:
        if metric in MEAN_METRICS:
            out.update(pct_easy=None, pct_easy_ci95=None)
        return out
    if metric == "csat":
        out.update(score=_pct(positive / n), ci95=wilson(positive, n))
    elif metric in MEAN_METRICS:
        out.update(score=round(mean, 2), ci95=t_interval(distribution, scale),
                   pct_easy=_pct(positive / n), pct_easy_ci95=wilson(positive, n))
    elif metric == "nps":
        promoters = sum(c for s, c in distribution.items() if s >= PROMOTER_MIN)
        detractors = sum(c for s, c in distribution.items() if s <= DETRACTOR_MAX)
        out.update(score=_pct((promoters - detractors) / n), ci95=nps_interval(promoters, detractors, n))
    else:
        raise ValueError(f"unknown metric {metric!r}")
    return out


@dataclass
class Tally:
    """One score row being built: answers come in with their survey's rule, so thresholds may differ."""

    distribution: Counter = field(default_factory=Counter)
    positive: int = 0
    scale: tuple[int, int] | None = None

    def add(self, score: int, rule: Rule, count: int = 1) -> None:
        """Count `count` answers of `score`, judged positive or easy by their own survey's rule."""
        self.distribution[score] += count
        if is_positive(score, rule):
            self.positive += count
        if rule.scale_min is not None and rule.scale_max is not None:
            low, high = self.scale or (rule.scale_min, rule.scale_max)
            self.scale = (min(low, rule.scale_min), max(high, rule.scale_max))

    def summary(self, metric: str) -> dict:
        """The row's score fields."""
        return summarize(metric, self.distribution, self.positive, self.scale)


def score_distribution(distribution: dict[int, int], rule: Rule) -> dict:
    """Score fields for answers that all share one survey rule."""
    tally = Tally()
    for score, count in distribution.items():
        tally.add(score, rule, count)
    return tally.summary(rule.metric)
