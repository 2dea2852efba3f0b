"""Incentive figures from counts alone: rates, the holdout lift and its interval (no database)."""

from __future__ import annotations

import math

from survey_service.reports.scoring import Z95, wilson_bounds


def rate(part: int, whole: int) -> float | None:
    """A percentage (0-100) with one decimal, None when there is nothing to divide by."""
    return round(100 * part / whole, 1) if whole else None


def newcombe_difference(x1: int, n1: int, x2: int, n2: int,
                        z: float = Z95) -> tuple[float, float] | None:
    """95% interval of p1 - p2 by Newcombe's hybrid score method (1998, method 10), as fractions.

    Built on each proportion's Wilson interval; sound for small samples and for rates near 0 or 1,
    where the simple Wald interval is not. None when either sample is empty.
    """
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_bounds(x1, n1, z)
    l2, u2 = wilson_bounds(x2, n2, z)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def figures(*, offered: int, held_out: int, responded_offer: int, responded_holdout: int,
            earned: int, redeemed: int) -> dict:
    """The stats body: funnel counts, rates in percent, lift in percentage points with its interval."""
    offer_rate, holdout_rate = rate(responded_offer, offered), rate(responded_holdout, held_out)
    interval = newcombe_difference(responded_offer, offered, responded_holdout, held_out)
    lift = None
    if offered and held_out:
        lift = round(100 * (responded_offer / offered - responded_holdout / held_out), 1)
    return {
        "offered": offered, "held_out": held_out, "earned": earned, "redeemed": redeemed,
        "redemption_rate": rate(redeemed, earned),
        "responded_offer": responded_offer, "responded_holdout": responded_holdout,
        "response_rate_offer": offer_rate, "response_rate_holdout": holdout_rate,
        "lift": lift,
        "lift_ci95": [round(100 * interval[0], 1), round(100 * interval[1], 1)] if interval else None,
    }
