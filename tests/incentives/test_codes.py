"""Codes: their shape, their uniqueness, and how what people type is read back."""

from __future__ import annotations

import re

import pytest

from survey_service.incentives.codes import ALPHABET, new_code, normalize

SHAPE = re.compile(rf"^[{ALPHABET}]{{5}}-[{ALPHABET}]{{5}}$")


def test_alphabet_is_crockford_base32():
    assert len(ALPHABET) == 32 and not set("ILOU") & set(ALPHABET)


def test_a_hundred_thousand_codes_are_distinct_and_well_formed():
    generated = [new_code() for _ in range(100_000)]
    assert len(set(generated)) == len(generated)
    assert all(SHAPE.match(code) for code in generated)
    # Every character shows up in every position: nothing about the draw is fixed.
    for position in (0, 4, 6, 10):
        assert {code[position] for code in generated} == set(ALPHABET)


def test_normalize_round_trips_every_code_as_people_type_it():
    for _ in range(2000):
        code = new_code()
        typed = code.lower().replace("-", " ").replace("1", "l").replace("0", "o")
        assert normalize(code) == code
        assert normalize(typed) == code
        assert normalize(code.replace("-", "")) == code


@pytest.mark.parametrize("typed, read", [
    ("abcde-fghjk", "ABCDE-FGHJK"),
    ("IiLl0-OoO00", "11110-00000"),
    (" 7z7z7 - 7z7z7 ", "7Z7Z7-7Z7Z7"),
])
def test_normalize_reads_confusable_letters_as_digits(typed, read):
    assert normalize(typed) == read


@pytest.mark.parametrize("typed", ["", None, "ABCDE-FGHJ", "ABCDE-FGHJKM", "ABCDE-FGHJU",
                                   "ABCDE_FGHJK", "ÄBCDE-FGHJK", "ABCDE-FGH\x00K"])
def test_normalize_refuses_what_cannot_be_a_code(typed):
    assert normalize(typed) is None
