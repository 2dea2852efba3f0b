"""Chinese as a native reader expects it: full-width punctuation in every zh-Hans and zh-Hant text
(the gettext catalogs and seeded surveys), and no Simplified characters in zh-Hant."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from survey_service.i18n import catalog, catalog_path

SEEDS = Path(__file__).resolve().parents[1] / "survey_service" / "surveys" / "seeds.json"
CHINESE = ("zh-Hans", "zh-Hant")
HAN = r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef“”‘’「」『』]"
# ASCII , : ; ? ! ( ) touching a Chinese character or Chinese punctuation, on either side.
ASCII_NEXT_TO_HAN = re.compile(rf"{HAN}[,:;?!()]|[,:;?!()]{HAN}")
# Characters only Simplified Chinese writes (their Traditional forms differ): a slip into zh-Hant.
SIMPLIFIED_ONLY = set(
    "这们对为说时国会来发现问题关联记录击开页点单设请谢态应选项满样优订购调际该结简讯网络电邮评价给让轻决"
    "从过还没经头动复体码奖获数钟几试尝间门择统计导线级织绝协议识读错误档启输转达销费账户区业务处员团队据验"
    "报载签确认写带场吗内条后"
)
# 后 is also a Traditional character (queen), but "after" is 後 there; 内 is written 內.


def _strings(value):
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


def chinese_texts() -> list[tuple[str, str, str]]:
    """(locale, where, text) for every catalog text and seeded survey text in Chinese."""
    found = []
    for locale in CHINESE:
        where = catalog_path(locale).relative_to(catalog_path(locale).parents[3])
        found += [(locale, f"{where}:{key}", text) for key, text in catalog(locale).items()]
    for survey in json.loads(SEEDS.read_text(encoding="utf-8")):
        for locale in CHINESE:
            texts = (survey.get("texts") or {}).get(locale) or {}
            found += [(locale, f"seeds.json:{survey['key']}", text) for text in _strings(texts)]
    return found


def test_the_scan_sees_every_catalog_and_seed():
    where = {w.split(":")[0] for _, w, _ in chinese_texts()}
    assert where == {"translations/zh_Hans/LC_MESSAGES/messages.po",
                     "translations/zh_Hant/LC_MESSAGES/messages.po", "seeds.json"}
    assert ASCII_NEXT_TO_HAN.search("作答:您") and ASCII_NEXT_TO_HAN.search("满意吗?")
    assert ASCII_NEXT_TO_HAN.search("“匿名”,") and not ASCII_NEXT_TO_HAN.search("1-5 (1 = a)")


@pytest.mark.parametrize("locale, where, text", chinese_texts(), ids=lambda v: v if len(v) < 60 else "")
def test_chinese_uses_full_width_punctuation(locale, where, text):
    assert not ASCII_NEXT_TO_HAN.search(text), f"{where}: {text}"


@pytest.mark.parametrize("locale, where, text", [t for t in chinese_texts() if t[0] == "zh-Hant"],
                         ids=lambda v: v if len(v) < 60 else "")
def test_traditional_chinese_has_no_simplified_characters(locale, where, text):
    slips = sorted(set(text) & SIMPLIFIED_ONLY)
    assert not slips, f"{where}: {text} has {''.join(slips)}"


def test_simplified_catalog_is_not_traditional_by_mistake():
    hans, hant = catalog("zh-Hans"), catalog("zh-Hant")
    same = [k for k in hans if k in hant and hans[k] == hant[k] and re.search("[\u4e00-\u9fff]", hans[k])]
    # Only texts written alike in both scripts may be identical.
    assert all(not set(hans[k]) & SIMPLIFIED_ONLY for k in same), same
