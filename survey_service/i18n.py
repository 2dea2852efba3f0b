"""Respondent languages (en, zh-Hans, zh-Hant): negotiation, fallback and the text catalogs."""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

SUPPORTED = ("en", "zh-Hans", "zh-Hant")
FALLBACKS = {"zh-Hant": ("zh-Hant", "zh-Hans", "en"), "zh-Hans": ("zh-Hans", "en"), "en": ("en",)}
# The service's texts: gettext catalogs, translations/<dir>/LC_MESSAGES/messages.po, the key as msgid.
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
CATALOG_DIRS = {"en": "en", "zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant"}
# Chinese written in traditional script is the norm in these regions.
_HANT_TERRITORIES = {"TW", "HK", "MO"}


def parse_locale(raw: str) -> Locale:
    """Babel's reading of a BCP 47 or POSIX tag; raises ValueError when it names no language."""
    try:
        return Locale.parse(raw.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValueError(f"'{raw}' is not a known locale") from exc


@lru_cache(maxsize=1024)  # Babel looks for its locale data on disk on every parse
def is_known_locale(raw: str) -> bool:
    """Whether Babel knows the tag (en, zh-Hans, zh-TW, ...)."""
    try:
        parse_locale(raw)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1024)
def normalize_locale(raw: str | None) -> str:
    """Map any tag to the closest supported language: zh-TW -> zh-Hant, zh-CN -> zh-Hans, fr -> en."""
    if not raw:
        return "en"
    try:
        loc = parse_locale(raw)
    except ValueError:
        return "en"
    if loc.language != "zh":
        return "en"
    if loc.script == "Hant" or (loc.script is None and loc.territory in _HANT_TERRITORIES):
        return "zh-Hant"
    return "zh-Hans"


def fallback_chain(locale: str) -> tuple[str, ...]:
    """Where to look for a text: zh-Hant falls back to zh-Hans then en; others to en."""
    return FALLBACKS.get(normalize_locale(locale), ("en",))


def catalog_path(locale: str) -> Path:
    """Where a supported language's catalog (messages.po) lives."""
    return TRANSLATIONS_DIR / CATALOG_DIRS[locale] / "LC_MESSAGES" / "messages.po"


@cache
def catalog(locale: str) -> dict[str, str]:
    """A language's texts by key, read once with Babel; an empty or fuzzy entry counts as missing."""
    if locale not in CATALOG_DIRS or not catalog_path(locale).exists():
        return {}
    with catalog_path(locale).open("rb") as po:
        messages = read_po(po, locale=CATALOG_DIRS[locale])
    return {m.id: m.string for m in messages if m.id and m.string and not m.fuzzy}


def gettext(key: str, locale: str, **values) -> str:
    """A service text (not a survey's own wording) in `locale`, with fallback, formatted."""
    for candidate in fallback_chain(locale):
        text = catalog(candidate).get(key)
        if text is not None:
            return text.format(**values) if values else text
    raise KeyError(f"no text '{key}' in any catalog")


def survey_text(texts: dict, field: str, locale: str) -> str | None:
    """A survey's own wording for `field` (question, reason_prompt, ...) with the same fallback."""
    for candidate in fallback_chain(locale):
        value = (texts.get(candidate) or {}).get(field)
        if value:
            return value
    return None


def scale_labels(texts: dict, locale: str, lo: int, hi: int) -> list[tuple[int, str]]:
    """Each scale point with its label; a point without a label shows its number."""
    labels: dict = {}
    for candidate in reversed(fallback_chain(locale)):
        labels.update((texts.get(candidate) or {}).get("labels") or {})
    return [(p, labels.get(str(p), str(p))) for p in range(lo, hi + 1)]


# Tags a browser may send for each supported language; best_match picks among them by quality.
_BROWSER_TAGS = ("en", "zh-Hans", "zh-Hant", "zh-CN", "zh-SG", "zh-TW", "zh-HK", "zh-MO", "zh")


def browser_locale() -> str:
    """The page language for a visitor: ?lang= if given, else the best Accept-Language match."""
    from flask import request

    asked = request.args.get("lang")
    if asked:
        return normalize_locale(asked)
    return normalize_locale(request.accept_languages.best_match(_BROWSER_TAGS))


def brand_name(locale: str) -> str:
    """Who asks, as messages and pages name the sender: SURVEY_BRAND_NAME, else a default in `locale`."""
    from flask import current_app

    return current_app.config.get("BRAND_NAME") or gettext("brand_default", locale)


def init_app(app) -> None:
    """Read the catalogs (a broken one stops the start, not a request); expose them to Jinja as
    t(key, **values); pages without a `locale` get the browser's."""
    from flask import has_request_context

    for locale in SUPPORTED:
        catalog(locale)

    @app.context_processor
    def _inject():
        def t(key, locale="en", **values):
            return gettext(key, locale, **values)

        values = {"t": t, "survey_text": survey_text, "brand_name": brand_name}
        if has_request_context():
            # Only a default: a view's own `locale` (the invitation's) wins over it.
            values["locale"] = browser_locale()
        return values
