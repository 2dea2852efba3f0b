"""Reading SMS replies and keypresses: pure functions from text to what the respondent meant."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from survey_service.answers.rules import GivenScore

STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "td", "退订", "退訂"})
START_WORDS = frozenset({"start", "unstop"})
HELP_WORDS = frozenset({"help", "info", "帮助", "幫助"})
ANON_WORDS = frozenset({"anon", "anonymous", "匿名"})
YES_WORDS = frozenset({"yes", "y", "是", "对", "對", "是的"})
NO_WORDS = frozenset({"no", "n", "否", "不", "不是", "不对", "不對"})

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}
# Punctuation and filler that may surround a score ("5!", "4分", "【3】").
_NOISE = re.compile(r"[\s\.,!?;:'\"()\[\]{}<>*~`、。,!?;:()【】「」『』…·-]+")
_NUMBER = re.compile(r"\d{1,3}")


@dataclass(frozen=True)
class Reply:
    """What an inbound message means: kind is stop, start, help, score, out_of_scale, anon or text."""

    kind: str
    score: int | None = None
    anonymous: bool = False
    text: str = ""


def normalize(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII), trimmed and case-folded."""
    return unicodedata.normalize("NFKC", text or "").strip().casefold()


def chinese_number(text: str) -> int | None:
    """零..十, 十一..九十九 and 一百 as an int; None when it is not a plain Chinese numeral."""
    if not text:
        return None
    if text == "一百":
        return 100
    if len(text) == 1:
        if text == "十":
            return 10
        return _DIGITS.get(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if "十" in ones:
            return None
        t = 1 if tens == "" else _DIGITS.get(tens)
        o = 0 if ones == "" else _DIGITS.get(ones)
        if t is None or o is None:
            return None
        return t * 10 + o
    return None


def read_number(token: str, yes_no: bool) -> int | None:
    """A score written as digits, a Chinese numeral, or (on a 0-1 scale) a yes/no word."""
    if yes_no and token in YES_WORDS:
        return 1
    if yes_no and token in NO_WORDS:
        return 0
    if _NUMBER.fullmatch(token):
        return int(token)
    return chinese_number(token.removesuffix("分"))


@dataclass(frozen=True)
class ScoreWords:
    """What a reply that may be a score says, before its scale is known."""

    number: int | None  # digits or a Chinese numeral
    yes_no: int | None  # 1 or 0 for a yes/no word (a score only on a 0-1 scale)
    anonymous: bool

    def on_scale(self, lo: int, hi: int) -> int | None:
        """The score this reply gives on a lo..hi scale (in or out of it), or None."""
        return GivenScore.py(self.number, self.yes_no, lo, hi)


def _keyword(bare: str) -> Reply | None:
    if bare in STOP_WORDS:
        return Reply("stop")
    if bare in START_WORDS:
        return Reply("start")
    if bare in HELP_WORDS:
        return Reply("help")
    if bare in ANON_WORDS:
        return Reply("anon", anonymous=True)
    return None


def _score_words(text: str) -> ScoreWords | None:
    words = [w for w in _NOISE.split(text) if w]
    anonymous = False
    rest = []
    for word in words:
        if word in ANON_WORDS:
            anonymous = True
            continue
        for anon in ANON_WORDS:
            if len(anon) > 1 and word != anon and (word.startswith(anon) or word.endswith(anon)):
                anonymous, word = True, word.removeprefix(anon).removesuffix(anon)
                break
        rest.append(word)
    if len(rest) != 1:
        return None
    token = rest[0].removesuffix("分")
    number = read_number(token, yes_no=False)
    yes_no = read_number(token, yes_no=True) if token in YES_WORDS or token in NO_WORDS else None
    if number is None and yes_no is None:
        return None
    return ScoreWords(number, yes_no, anonymous)


def score_words(body: str) -> ScoreWords | None:
    """The score a reply may carry whatever the scale; None for keywords and free text."""
    text = normalize(body)
    if _keyword(_NOISE.sub("", text)) is not None:
        return None
    return _score_words(text)


def parse_reply(body: str, lo: int, hi: int) -> Reply:
    """Classify one SMS reply against a survey scale; keywords win over everything else."""
    text = normalize(body)
    keyword = _keyword(_NOISE.sub("", text))
    if keyword is not None:
        return keyword
    words = _score_words(text)
    score = words.on_scale(lo, hi) if words is not None else None
    if score is not None:
        kind = "score" if lo <= score <= hi else "out_of_scale"
        return Reply(kind, score=score, anonymous=words.anonymous)
    return Reply("text", anonymous=False, text=(body or "").strip())


def read_keypress(digits: str | None, lo: int, hi: int) -> int | None:
    """The score a caller keyed in, or None when nothing valid was pressed."""
    digits = (digits or "").strip().rstrip("#")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 3:  # no scale reaches 1000
        return None
    score = int(digits)
    return score if lo <= score <= hi else None


def guess_locale(body: str) -> str:
    """The language to answer a stranger in: Chinese script if the message has any, else English."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in body or ""):
        traditional = set("訂幫對說謝問題滿價錢還")
        return "zh-Hant" if any(ch in traditional for ch in body) else "zh-Hans"
    return "en"
