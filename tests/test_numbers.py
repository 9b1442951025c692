"""Anniversary numbers in words and ordinals by CLDR rules, in en, az, ru and tr."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.core.numbers import ordinal, spellout, spellout_ordinal
from scheduler.errors import TemplateProblem


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "37th"), ("az", "37-ci"), ("ru", "37-я"), ("tr", "37'nci")],
)
def test_ordinal_37(language: str, expected: str) -> None:
    assert ordinal(37, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "thirty-seventh"), ("az", "otuz yeddinci"), ("ru", "тридцать седьмая"), ("tr", "otuz yedinci")],
)
def test_spellout_ordinal_37(language: str, expected: str) -> None:
    assert spellout_ordinal(37, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "thirty-seven"), ("az", "otuz yeddi"), ("ru", "тридцать семь"), ("tr", "otuz yedi")],
)
def test_spellout_37(language: str, expected: str) -> None:
    assert spellout(37, language) == expected


@pytest.mark.parametrize(
    ("n", "en", "az", "tr"),
    [
        (1, "1st", "1-ci", "1'inci"),
        (2, "2nd", "2-ci", "2'nci"),
        (3, "3rd", "3-cü", "3'üncü"),
        (4, "4th", "4-cü", "4'üncü"),
        (6, "6th", "6-cı", "6'ncı"),
        (9, "9th", "9-cu", "9'uncu"),
        (11, "11th", "11-ci", "11'inci"),
        (12, "12th", "12-ci", "12'nci"),
        (13, "13th", "13-cü", "13'üncü"),
        (23, "23rd", "23-cü", "23'üncü"),
        (30, "30th", "30-cu", "30'uncu"),
        (40, "40th", "40-cı", "40'ıncı"),
        (100, "100th", "100-cü", "100'üncü"),
    ],
)
def test_ordinal_suffixes_follow_vowel_harmony(n: int, en: str, az: str, tr: str) -> None:
    assert (ordinal(n, "en"), ordinal(n, "az"), ordinal(n, "tr")) == (en, az, tr)


def test_russian_takes_gender_and_case_by_rule_set_name() -> None:
    assert spellout_ordinal(37, "ru", "spellout-ordinal-masculine") == "тридцать седьмой"
    assert spellout_ordinal(37, "ru", "spellout-ordinal-feminine-genitive") == "тридцать седьмой"
    assert spellout_ordinal(21, "ru", "spellout-ordinal-neuter") == "двадцать первое"
    assert ordinal(37, "ru", "digits-ordinal-masculine") == "37-й"


def test_rule_set_the_language_lacks_is_a_clear_error() -> None:
    with pytest.raises(
        TemplateProblem, match="language 'en' has no CLDR rule set 'spellout-ordinal-feminine'; it has:"
    ):
        spellout_ordinal(3, "en", "spellout-ordinal-feminine")


def test_region_subtag_uses_the_base_language() -> None:
    assert ordinal(37, "en-GB") == "37th"
    assert ordinal(37, "az_Latn") == "37-ci"


@given(st.integers(1, 10_000), st.sampled_from(["en", "az", "ru", "tr"]))
def test_ordinal_starts_with_the_number(n: int, language: str) -> None:
    digits = "".join(ch for ch in ordinal(n, language) if ch.isdigit())
    assert int(digits) == n


@given(st.integers(1, 999))
def test_spelled_ordinal_changes_only_the_last_word(n: int) -> None:
    cardinal = spellout(n, "en").replace("-", " ").split()
    word = spellout_ordinal(n, "en").replace("-", " ").split()
    assert word[:-1] == cardinal[:-1] and len(word) == len(cardinal)
