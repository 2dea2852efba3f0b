"""Score arithmetic checked against values worked by hand."""

from __future__ import annotations

import pytest

from survey_service.reports.scoring import Rule, Tally, nps_interval, score_distribution, t_interval, wilson

CSAT = Rule("csat", positive_min=4)
CES = Rule("ces", positive_min=5, higher_is_easier=True)
AES = Rule("aes", positive_min=2, higher_is_easier=False)
NPS = Rule("nps")


def test_wilson_eight_of_ten():
    # p = 0.8, z^2 = 3.841459, denom = 1 + z^2/10 = 1.384146
    # centre = (0.8 + z^2/20) / denom = 0.992073 / 1.384146 = 0.716740
    # half = z * sqrt(0.8*0.2/10 + z^2/400) / denom = 1.959964 * 0.160011 / 1.384146 = 0.226573
    # -> [0.490167, 0.943313] -> [49.0, 94.3]
    assert wilson(8, 10) == [49.0, 94.3]


def test_wilson_at_the_ends_stays_inside_0_100():
    # k = 0: centre = half = (z^2/20) / denom = 0.192073 / 1.384146 = 0.138766 -> [0, 27.8]
    assert wilson(0, 10) == [0.0, 27.8]
    assert wilson(10, 10) == [72.2, 100.0]
    # n = 1, k = 1: denom = 4.841459, centre = 2.920730 / 4.841459 = 0.603275,
    # half = 1.959964 * 0.979982 / 4.841459 = 0.396725 -> [20.7, 100.0]
    assert wilson(1, 1) == [20.7, 100.0]
    assert wilson(0, 0) is None


def test_t_interval_of_a_small_sample():
    # 1..5: mean 3, sample sd = sqrt(10/4) = 1.581139, t(0.975, 4) = 2.776445
    # half = 2.776445 * 1.581139 / sqrt(5) = 1.963243 -> [1.04, 4.96]
    assert t_interval({1: 1, 2: 1, 3: 1, 4: 1, 5: 1}) == [1.04, 4.96]
    # 5, 6, 7, 7: mean 6.25, ss = 2.75, sd = sqrt(2.75/3) = 0.957427, t(0.975, 3) = 3.182446
    # half = 3.182446 * 0.957427 / 2 = 1.523479 -> [4.73, 7.77]
    assert t_interval({5: 1, 6: 1, 7: 2}) == [4.73, 7.77]


def test_t_interval_needs_two_answers():
    assert t_interval({}) is None
    assert t_interval({4: 1}) is None
    assert t_interval({4: 3}) == [4.0, 4.0]


def test_nps_and_its_interval():
    # 5 promoters (9-10), 2 passives (7-8), 3 detractors (0-6) of 10: NPS = 50 - 30 = 20
    # p + q - (p - q)^2 = 0.8 - 0.04 = 0.76; half = 1.959964 * sqrt(0.076) = 0.540327
    # -> [-34.0, 74.0]
    row = score_distribution({10: 3, 9: 2, 8: 1, 7: 1, 6: 1, 5: 1, 0: 1}, NPS)
    assert row["n"] == 10
    assert row["score"] == 20.0
    assert row["ci95"] == [-34.0, 74.0]
    assert row["distribution"] == {"0": 1, "5": 1, "6": 1, "7": 1, "8": 1, "9": 2, "10": 3}


def test_nps_interval_is_clipped_to_100():
    # 9 promoters, 1 detractor: NPS 80; 1 - 0.64 = 0.36; half = 1.959964 * sqrt(0.036) = 0.371877
    # -> [42.8, 117.2] clipped to [42.8, 100.0]
    assert nps_interval(9, 1, 10) == [42.8, 100.0]
    assert nps_interval(1, 0, 1) is None


def test_csat_is_share_at_or_above_threshold():
    row = score_distribution({5: 5, 4: 3, 3: 1, 1: 1}, CSAT)
    assert row["score"] == 80.0
    assert row["ci95"] == [49.0, 94.3]
    assert row["mean"] == 4.1
    assert row["small_sample"] is True
    assert "pct_easy" not in row


def test_ces_scores_the_mean_and_reports_pct_easy():
    row = score_distribution({1: 1, 2: 1, 3: 1, 4: 1, 5: 1}, CES)
    assert row["score"] == 3.0
    assert row["ci95"] == [1.04, 4.96]
    # 1 of 5 is 5 or more: p = 0.2; Wilson -> [3.6, 62.4]
    assert row["pct_easy"] == 20.0
    assert row["pct_easy_ci95"] == [3.6, 62.4]


def test_aes_counts_low_scores_as_easy():
    row = score_distribution({1: 1, 2: 1, 3: 1, 5: 1}, AES)
    assert row["score"] == 2.75
    assert row["pct_easy"] == 50.0


def test_empty_distribution_has_no_score():
    row = score_distribution({}, CSAT)
    assert row == {"n": 0, "score": None, "ci95": None, "small_sample": True, "mean": None,
                   "distribution": {}}
    ces = score_distribution({}, CES)
    assert ces["pct_easy"] is None
    assert ces["pct_easy_ci95"] is None


def test_single_answer_has_no_mean_interval():
    row = score_distribution({6: 1}, CES)
    assert (row["n"], row["score"], row["ci95"], row["pct_easy"]) == (1, 6.0, None, 100.0)
    assert row["pct_easy_ci95"] == [20.7, 100.0]
    assert score_distribution({10: 1}, NPS)["ci95"] is None


def test_all_positive():
    row = score_distribution({5: 30}, CSAT)
    assert row["score"] == 100.0
    # Wilson upper bound stays at 100; lower: n = 30 -> [88.6, 100.0]
    assert row["ci95"] == [88.6, 100.0]
    assert row["small_sample"] is False


def test_merged_surveys_keep_their_own_thresholds():
    ten_point = Rule("csat", positive_min=8)
    tally = Tally()
    tally.add(4, CSAT)          # positive on 1-5
    tally.add(7, ten_point)     # not positive on 1-10
    tally.add(8, ten_point, 2)  # positive on 1-10
    row = tally.summary("csat")
    assert row["n"] == 4
    assert row["score"] == 75.0
    assert row["distribution"] == {"4": 1, "7": 1, "8": 2}


@pytest.mark.parametrize("n", [29, 30])
def test_small_sample_flag_below_30(n):
    assert score_distribution({4: n}, CSAT)["small_sample"] is (n < 30)
