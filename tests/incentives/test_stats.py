"""The lift's interval against Newcombe's published values, and the stats body's arithmetic."""

from __future__ import annotations

import pytest

from survey_service.incentives.stats import figures, newcombe_difference

# Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions:
# comparison of eleven methods. Statistics in Medicine 17, 873-890; Table II, method 10, examples
# (a) to (h). Example (a): 56/70 - 48/80 = 0.2000, interval 0.0524 to 0.3339.
PUBLISHED = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize("counts, interval", PUBLISHED)
def test_newcombe_hybrid_score_matches_the_published_intervals(counts, interval):
    low, high = newcombe_difference(*counts)
    assert (round(low, 4), round(high, 4)) == interval


def test_the_worked_example_difference():
    body = figures(offered=70, held_out=80, responded_offer=56, responded_holdout=48, earned=56,
                   redeemed=14)
    assert body["lift"] == 20.0  # 0.2000 as percentage points
    assert body["lift_ci95"] == [5.2, 33.4]
    assert body["response_rate_offer"] == 80.0 and body["response_rate_holdout"] == 60.0
    assert body["redemption_rate"] == 25.0


def test_empty_denominators_are_null():
    body = figures(offered=0, held_out=0, responded_offer=0, responded_holdout=0, earned=0,
                   redeemed=0)
    assert body["redemption_rate"] is None and body["response_rate_offer"] is None
    assert body["lift"] is None and body["lift_ci95"] is None
    body = figures(offered=10, held_out=0, responded_offer=3, responded_holdout=0, earned=3,
                   redeemed=0)
    assert body["response_rate_offer"] == 30.0 and body["lift"] is None and body["lift_ci95"] is None
    assert body["redemption_rate"] == 0.0
