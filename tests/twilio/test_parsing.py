"""Reply parsing: scores in every written form, keywords, anonymity, keypresses."""

from __future__ import annotations

import pytest

from survey_service.answers.parsing import chinese_number, parse_reply, read_keypress


@pytest.mark.parametrize("body,score", [
    ("4", 4), (" 5 ", 5), ("４", 4), ("五", 5), ("三分", 3), ("4分", 4), ("5!", 5), ("【2】", 2),
])
def test_scores_on_a_1_5_scale(body, score):
    assert parse_reply(body, 1, 5) == parse_reply(body, 1, 5).__class__("score", score=score)


@pytest.mark.parametrize("body,score", [("零", 0), ("十", 10), ("１０", 10), ("九", 9), ("0", 0)])
def test_scores_on_a_0_10_scale(body, score):
    reply = parse_reply(body, 0, 10)
    assert (reply.kind, reply.score) == ("score", score)


@pytest.mark.parametrize("body,score", [
    ("yes", 1), ("Y", 1), ("YES!", 1), ("是", 1), ("对", 1), ("對", 1),
    ("no", 0), ("N", 0), ("否", 0), ("不", 0), ("1", 1), ("0", 0),
])
def test_yes_no_words_on_a_yes_no_scale(body, score):
    reply = parse_reply(body, 0, 1)
    assert (reply.kind, reply.score) == ("score", score)


def test_yes_no_words_are_text_on_a_numeric_scale():
    assert parse_reply("yes", 1, 5).kind == "text"


@pytest.mark.parametrize("body", ["7", "0", "十", "99"])
def test_numbers_outside_the_scale(body):
    assert parse_reply(body, 1, 5).kind == "out_of_scale"


@pytest.mark.parametrize("body", ["STOP", "stop", "Stop.", "STOPALL", "unsubscribe", "CANCEL", "end",
                                  "QUIT", "退订", "退訂", "ＳＴＯＰ"])
def test_opt_out_keywords(body):
    assert parse_reply(body, 1, 5).kind == "stop"


@pytest.mark.parametrize("body,kind", [("START", "start"), ("unstop", "start"), ("HELP", "help"),
                                       ("ANON", "anon"), ("匿名", "anon")])
def test_other_keywords(body, kind):
    assert parse_reply(body, 1, 5).kind == kind


@pytest.mark.parametrize("body", ["4 ANON", "anon 4", "匿名 4", "4匿名", "匿名四", "４ anon"])
def test_anonymous_with_the_score(body):
    reply = parse_reply(body, 1, 5)
    assert (reply.kind, reply.score, reply.anonymous) == ("score", 4, True)


@pytest.mark.parametrize("body", ["The agent was very helpful", "服务很好", "4 stars because fast",
                                  "stop calling me at dinner"])
def test_free_text_is_text(body):
    reply = parse_reply(body, 1, 5)
    assert reply.kind == "text" and reply.text == body


def test_chinese_numerals():
    assert [chinese_number(s) for s in ("一", "十", "十一", "二十", "九十九", "一百", "百", "")] == [
        1, 10, 11, 20, 99, 100, None, None]


@pytest.mark.parametrize("digits,score", [("4", 4), ("5#", 5), ("", None), (None, None), ("9", None),
                                          ("*", None)])
def test_keypresses(digits, score):
    assert read_keypress(digits, 1, 5) == score
