"""The service's texts come from gettext catalogs read with Babel: every key in English, each
Chinese text a translation of an English one, and gettext() falling back zh-Hant -> zh-Hans -> en."""

from __future__ import annotations

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from survey_service import i18n
from survey_service.i18n import SUPPORTED, catalog, gettext


def test_every_language_has_a_catalog_and_english_has_every_key():
    english = catalog("en")
    assert len(english) > 50 and english["submit"] == "Send"
    for locale in SUPPORTED:
        assert catalog(locale), locale
        assert catalog(locale).keys() <= english.keys(), locale  # no text without its English one


def test_the_same_keys_as_before_with_their_values_formatted():
    assert gettext("incentive_offer", "zh-Hans", hours=24, reward="下次购物九折优惠") == \
        "在24小时内作答，即可获得下次购物九折优惠。"
    assert gettext("submit", "zh-TW") == "送出" and gettext("submit", "fr") == "Send"
    with pytest.raises(KeyError):
        gettext("no_such_key", "en")


@pytest.fixture
def catalogs(tmp_path, monkeypatch):
    """Write small catalogs to a folder of their own and read them instead of the real ones."""
    def write(locale: str, texts: dict, fuzzy: tuple = ()) -> None:
        folder = i18n.CATALOG_DIRS[locale]
        po = Catalog(locale=folder)
        for key, text in texts.items():
            po.add(key, text, flags=("fuzzy",) if key in fuzzy else ())
        path = tmp_path / folder / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True)
        with path.open("wb") as out:
            write_po(out, po)

    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    catalog.cache_clear()
    yield write
    catalog.cache_clear()


def test_a_missing_empty_or_fuzzy_text_falls_back_along_the_chain(catalogs):
    catalogs("en", {"a": "A en", "b": "B en", "c": "C en", "d": "D en"})
    catalogs("zh-Hans", {"a": "A 简", "b": "B 简", "c": ""})
    catalogs("zh-Hant", {"a": "A 繁", "b": "", "c": "C 繁?", "d": "D 繁"}, fuzzy=("c",))
    assert [gettext(k, "zh-Hant") for k in "abcd"] == ["A 繁", "B 简", "C en", "D 繁"]
    assert [gettext(k, "zh-Hans") for k in "abcd"] == ["A 简", "B 简", "C en", "D en"]
