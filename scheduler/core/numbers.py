"""Numbers in words and ordinals, by CLDR's rule-based number formats (RBNF).

The rules come from CLDR through ``unicode-rbnf``; nothing here is a hand table of words.
That engine lacks ICU's DecimalFormat substitution (``=#,##0=``), which every
``digits-ordinal`` rule set starts with, so :class:`_Engine` supplies it from Babel,
which carries CLDR's decimal formats for the same locale.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache

from babel.numbers import format_decimal
from unicode_rbnf import RbnfEngine
from unicode_rbnf.engine import NoRuleForNumberError, RbnfError

from scheduler.errors import TemplateProblem

# The word being counted is "anniversary": годовщина is feminine in Russian, so its
# default ordinal agrees with it ("37-я годовщина"). Languages not listed use CLDR's
# unmarked rule sets.
_DEFAULT_RULESETS: dict[tuple[str, str], str] = {
    ("ru", "ordinal"): "digits-ordinal-feminine",
    ("ru", "spellout_ordinal"): "spellout-ordinal-feminine",
    ("ru", "spellout"): "spellout-cardinal-feminine",
}
_GENERIC = {
    "ordinal": "digits-ordinal",
    "spellout_ordinal": "spellout-ordinal",
    "spellout": "spellout-cardinal",
}
_PATTERN_CHARS = frozenset("#0,.")


class _Engine(RbnfEngine):
    def iter_format_number(
        self,
        number: int | float | str | Decimal,
        ruleset_name: str,
        radix: int | None = None,
        tolerance: float = 1e-8,
    ) -> Iterable[str]:
        if ruleset_name and set(ruleset_name) <= _PATTERN_CHARS:
            yield format_decimal(number, format=ruleset_name, locale=self.language)
            return
        yield from super().iter_format_number(number, ruleset_name, radix, tolerance)


def base_language(language: str) -> str:
    return language.replace("-", "_").split("_")[0].lower()


@lru_cache(maxsize=64)
def _engine(language: str) -> _Engine:
    lang = base_language(language)
    engine = _Engine(lang)
    try:
        source = RbnfEngine.for_language(lang)
    except ValueError as exc:
        raise TemplateProblem(f"language {language!r} has no CLDR number rules") from exc
    engine.rulesets = source.rulesets
    return engine


def rulesets(language: str) -> list[str]:
    """The public rule-set names CLDR defines for ``language``."""
    return sorted(n for n, r in _engine(language).rulesets.items() if not r.is_private)


def _format(kind: str, number: int, language: str, ruleset: str | None) -> str:
    lang = base_language(language)
    engine = _engine(lang)
    name = ruleset or _DEFAULT_RULESETS.get((lang, kind)) or _GENERIC[kind]
    rule = engine.rulesets.get(name)
    if rule is None or rule.is_private:
        # Russian alone has 75 rule sets: the nearest few say what was meant on one line.
        close = difflib.get_close_matches(name, rulesets(lang), n=3, cutoff=0.0)
        raise TemplateProblem(f"language {lang!r} has no CLDR rule set {name!r}; did you mean: {', '.join(close)}?")
    try:
        return "".join(engine.iter_format_number(int(number), ruleset_name=name)).replace("\xad", "")
    except (NoRuleForNumberError, RbnfError) as exc:
        raise TemplateProblem(f"rule set {name!r} of {lang!r} cannot format {number!r}") from exc


# Azerbaijani ordinal suffixes by the last vowel of the word they attach to.
_AZ_HARMONY = {"a": "cı", "ı": "cı", "e": "ci", "ə": "ci", "i": "ci", "o": "cu", "u": "cu", "ö": "cü", "ü": "cü"}


def _turkic_digits_ordinal(number: int, lang: str) -> str:
    """Digits plus the ordinal suffix, for az and tr, as each orthography writes them.

    CLDR's az ``digits-ordinal`` writes "37inci" for every number and tr has none, while
    both languages attach the suffix of the spoken ordinal, in vowel harmony with the
    spoken number. az writes "37-ci", "30-cu", "3-cü", "40-cı": the suffix follows the
    last vowel of the cardinal, which is taken from the cardinal itself because CLDR's
    spelled az ordinals carry the wrong harmony for some tens ("yetmişıncı" for 70, where
    az writes "yetmişinci", so "70-ci"). tr writes "37'nci", "4'üncü", "6'ncı": CLDR's tr
    ordinal minus the cardinal (consonant softening such as dört -> dörd keeps the
    length, so the tail is the suffix).
    """
    digits = format_decimal(number, locale=lang)
    cardinal = spellout(number, lang, "spellout-cardinal")
    if lang == "az":
        vowel = next((ch for ch in reversed(cardinal.lower()) if ch in _AZ_HARMONY), "i")
        return f"{digits}-{_AZ_HARMONY[vowel]}"
    word = spellout_ordinal(number, lang, "spellout-ordinal")
    return f"{digits}'{word[len(cardinal) :]}"


def ordinal(number: int, language: str, ruleset: str | None = None) -> str:
    """37 -> "37th" (en), "37-ci" (az), "37-я" (ru), "37'nci" (tr)."""
    lang = base_language(language)
    if ruleset is None and lang in ("az", "tr"):
        return _turkic_digits_ordinal(int(number), lang)
    return _format("ordinal", number, language, ruleset)


def spellout_ordinal(number: int, language: str, ruleset: str | None = None) -> str:
    """37 -> "thirty-seventh" (en), "otuz yeddinci" (az), "тридцать седьмая" (ru)."""
    return _format("spellout_ordinal", number, language, ruleset)


def spellout(number: int, language: str, ruleset: str | None = None) -> str:
    """37 -> "thirty-seven" (en), "otuz yeddi" (az), "тридцать семь" (ru, feminine)."""
    return _format("spellout", number, language, ruleset)
