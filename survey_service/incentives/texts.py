"""The incentive's words in the respondent's language, and the code's messages (pure but for templates)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date

from survey_service.i18n import fallback_chain, gettext, normalize_locale

_BABEL = {"en": "en_US", "zh-Hans": "zh_Hans_CN", "zh-Hant": "zh_Hant_TW"}


def _language(locale: str) -> str:
    return locale.split("-", 1)[0]


def reward_text(texts: dict, incentive: dict | None, locale: str) -> str:
    """The reward as the survey words it for this language (texts.{locale}.reward), never mixed.

    DESIGN 7's fallback, kept within the language: zh-Hant may read zh-Hans' words, but a Chinese
    sentence never carries English ones; `incentive.reward` is the English wording. With no words in
    the respondent's language, a generic phrase from the catalog ("a reward", "一份优惠").
    """
    locale = normalize_locale(locale)
    for candidate in fallback_chain(locale):
        if _language(candidate) != _language(locale):
            continue
        value = (texts.get(candidate) or {}).get("reward")
        if value:
            return value
    if locale == "en" and incentive and incentive.get("reward"):
        return incentive["reward"]
    return gettext("incentive_reward_generic", locale)


def valid_until(expires_at: datetime, timezone: str, locale: str) -> str:
    """The last day a code can be used, as a date in the survey's time zone, in the respondent's words."""
    day = expires_at.astimezone(ZoneInfo(timezone or "UTC")).date()
    return format_date(day, format="long", locale=_BABEL[normalize_locale(locale)])


def spoken_code(code: str, reward: str, locale: str) -> str:
    """The code as a call says it: each character alone, the two groups apart, said twice."""
    spelled = "，".join(" ".join(group) for group in code.split("-"))
    return gettext("ivr_incentive_code", locale, reward=reward, spelled=spelled)


def code_sentence(code: str, reward: str, until: str, locale: str) -> str:
    """The one sentence that gives a code: in an SMS reply, an SMS of its own, and the email."""
    return gettext("incentive_code_sentence", locale, code=code, reward=reward, until=until)
