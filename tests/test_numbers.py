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
    with pytest.raises(TemplateProblem) as raised:
        spellout_ordinal(3, "en", "spellout-ordinal-feminine")
    assert str(raised.value) == (
        "language 'en' has no CLDR rule set 'spellout-ordinal-feminine';"
        " did you mean: spellout-ordinal, spellout-ordinal-verbose, spellout-cardinal-verbose?"
    )


def test_a_misspelled_rule_set_names_the_three_closest_of_russians_75() -> None:
    with pytest.raises(TemplateProblem) as raised:
        ordinal(37, "ru", "digits-ordinal-masc")
    assert str(raised.value) == (
        "language 'ru' has no CLDR rule set 'digits-ordinal-masc';"
        " did you mean: digits-ordinal-masculine, digits-ordinal, digits-ordinal-plural?"
    )


# The ordinal suffix takes the harmony of the last vowel of the spoken number.
AZ_HARMONY = {"a": "cı", "ı": "cı", "e": "ci", "ə": "ci", "i": "ci", "o": "cu", "u": "cu", "ö": "cü", "ü": "cü"}
TR_HARMONY = {"a": "ı", "ı": "ı", "e": "i", "i": "i", "o": "u", "u": "u", "ö": "ü", "ü": "ü"}


def _last_vowel(word: str, vowels: dict[str, str]) -> str:
    return next(ch for ch in reversed(word) if ch in vowels)


@pytest.mark.parametrize("n", range(1, 201))
def test_azerbaijani_digit_ordinal_follows_the_last_vowel_of_the_cardinal(n: int) -> None:
    cardinal = spellout(n, "az")
    assert ordinal(n, "az") == f"{n}-{AZ_HARMONY[_last_vowel(cardinal, AZ_HARMONY)]}", cardinal


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1-ci"),
        (2, "2-ci"),
        (3, "3-cü"),
        (4, "4-cü"),
        (6, "6-cı"),
        (9, "9-cu"),
        (10, "10-cu"),
        (30, "30-cu"),
        (37, "37-ci"),
        (40, "40-cı"),
        (50, "50-ci"),
        (60, "60-cı"),
        (70, "70-ci"),
        (80, "80-ci"),
        (90, "90-cı"),
        (100, "100-cü"),
        (170, "170-ci"),
        (180, "180-ci"),
    ],
)
def test_azerbaijani_digit_ordinals(n: int, expected: str) -> None:
    assert ordinal(n, "az") == expected


@pytest.mark.parametrize("n", range(1, 201))
def test_turkish_digit_ordinal_follows_the_last_vowel_of_the_cardinal(n: int) -> None:
    # After a vowel "nci" ("yedi" -> 7'nci), after a consonant "inci" ("dört" -> 4'üncü).
    cardinal = spellout(n, "tr")
    h = TR_HARMONY[_last_vowel(cardinal, TR_HARMONY)]
    suffix = ("" if cardinal[-1] in TR_HARMONY else h) + "nc" + h
    assert ordinal(n, "tr") == f"{n}'{suffix}", cardinal


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
