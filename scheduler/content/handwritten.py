"""Numbers written by hand in a rendered message, for ``anniversary check``: ordinals
("23rd", "twenty-first", "23-cü", "двадцать третья") and year counts ("Twenty one years
later", "23 il"), each with the number it says and the filter that would compute it.

Every spelling comes from CLDR through :mod:`scheduler.core.numbers`, in every rule set
of the language (all genders and cases for Russian), so a form the filters produce is
always recognised, as a whole, and is right exactly when its number is the year's.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from babel import Locale
from babel.numbers import get_group_symbol

from scheduler.core import numbers
from scheduler.errors import TemplateProblem

#: spelled forms are generated for 1..MAX, and for the year's own number beyond it
MAX = 200

# Words for "year(s)" after a count, per language.
_YEAR_WORDS = {
    "en": r"years?",
    "az": r"il(?:dir|dən|lik)?",
    "ru": r"(?:год|года|лет)",
    "tr": r"yıl(?:dır|lık)?",
}
# Ordinal marks after digits that people write beside those the rule sets produce:
# az "23-üncü", "23-cu"; ru "23-ая", "23-ой"; tr "23. yıl" (a dot, then a word).
_HAND_MARKS = {
    "az": r"-(?:c[iıuü]|inci|ıncı|uncu|üncü)",
    "ru": r"-(?:[яйеми]|ая|ой|ий|ый|го|му|ом|ую|ее)",
    "tr": r"(?:'(?:[iıuü]?nc[iıuü])|\.(?=[ \t]+[^\W\d]))",
}
# Only whitespace and hyphens join the words of one number ("thirty-seven years",
# "otuz yeddi il"): in "Chapter one. Years later" there is no count.
_JOIN = re.compile(r"[\s\-\u00ad]+")
_LETTERS = r"[^\W\d_]+(?:'[^\W\d_]+)?"
_WORD = re.compile(rf"{_LETTERS}|\d+")


@dataclass(frozen=True)
class _Form:
    number: int
    filter: str  # "ordinal", "spellout_ordinal", "spellout"; "" for plain digits
    ruleset: str | None  # None: the filter's default for the language


@dataclass(frozen=True)
class Finding:
    """A number in the text that is not the one computed for the year."""

    span: str  # as rendered: "Twenty one years", "23rd"
    number: int
    replacement: str  # what computes it: "{{ anniversary.number|spellout|capitalize }} years"


@dataclass(frozen=True)
class _Lexicon:
    ordinals: dict[str, _Form]
    cardinals: dict[str, _Form]
    max_words: int
    marks: dict[str, str | None]  # digit-ordinal mark -> the rule set that writes it
    digit_ordinal: re.Pattern[str]
    word: re.Pattern[str]
    year_word: re.Pattern[str] | None
    months: frozenset[str]


def _key(form: str) -> str:
    return " ".join(_WORD.findall(form.lower()))


def _ranked(lang: str, prefix: str) -> list[str]:
    """The language's rule sets of one kind, plainest first: where a form is written by
    several (Russian "тридцать седьмой" is masculine and feminine genitive), the
    suggestion names the shortest, and a numbering rule set only when nothing else has it."""
    names = [n for n in numbers.rulesets(lang) if n.startswith(prefix)]
    return sorted(names, key=lambda n: ("numbering" in n, len(n), n))


def _spelled(lang: str, numbers_: range | tuple[int, ...]) -> tuple[dict[str, _Form], dict[str, _Form]]:
    ordinals: dict[str, _Form] = {}
    cardinals: dict[str, _Form] = {}
    cardinal_sets = [None, *_ranked(lang, "spellout-cardinal")]
    if "spellout-numbering" in numbers.rulesets(lang):
        cardinal_sets.append("spellout-numbering")
    kinds = (
        (ordinals, "spellout_ordinal", numbers.spellout_ordinal, [None, *_ranked(lang, "spellout-ordinal")]),
        (cardinals, "spellout", numbers.spellout, cardinal_sets),
    )
    for n in numbers_:
        for table, name, spell, rulesets in kinds:
            for rs in rulesets:
                try:
                    table.setdefault(_key(spell(n, lang, rs)), _Form(n, name, rs))
                except TemplateProblem:
                    continue
    return ordinals, cardinals


@lru_cache(maxsize=16)
def _lexicon(lang: str) -> _Lexicon:
    ordinals, cardinals = _spelled(lang, range(1, MAX + 1))
    # The marks the filters write after digits: 23rd, 23-cü, 23-я / 23-го, 23'üncü.
    marks: dict[str, str | None] = {}
    for n in range(1, MAX + 1):
        for rs in [None, *_ranked(lang, "digits-ordinal-")]:
            try:
                mark = numbers.ordinal(n, lang, rs).lstrip("0123456789")
            except TemplateProblem:
                continue
            if mark:
                marks.setdefault(mark.lower(), rs)
    written = "|".join(re.escape(m) for m in sorted(marks, key=len, reverse=True))
    mark_re = "|".join(x for x in (written, _HAND_MARKS.get(lang, "")) if x) or r"(?!)"
    # A space-like separator (ru's no-break space) may reach the text as any space: a
    # subject line folds its whitespace.
    symbol = get_group_symbol(lang)
    group = r"\s" if symbol.isspace() else re.escape(symbol)
    grouped = rf"\d{{1,3}}(?:{group}\d{{3}})+"
    # Four digits or more without a separator are a year ("1990-cı il", "1990-го года"),
    # never an anniversary: the filters group the digits of one past 999 ("8.005-ci").
    digit_ordinal = re.compile(rf"(?<![\w.,'])({grouped}|\d{{1,3}})({mark_re})(?!\w)", re.IGNORECASE)
    year_word = re.compile(_YEAR_WORDS[lang], re.IGNORECASE) if lang in _YEAR_WORDS else None
    loc = Locale.parse(lang)
    months = {
        _key(str(v))
        for ctx in ("format", "stand-alone")
        for width in ("wide", "abbreviated")
        for v in loc.months[ctx][width].values()
    }
    return _Lexicon(
        ordinals=ordinals,
        cardinals=cardinals,
        max_words=max(len(k.split()) for k in (*ordinals, *cardinals)),
        marks=marks,
        digit_ordinal=digit_ordinal,
        word=re.compile(rf"{_LETTERS}|{grouped}|\d+"),
        year_word=year_word,
        months=frozenset(months),
    )


@lru_cache(maxsize=64)
def _beyond(lang: str, number: int) -> tuple[dict[str, _Form], dict[str, _Form], int]:
    """The year's own spelled forms when it is past MAX ("eight thousand fifth"), so that
    its last words are not read as a smaller, wrong number ("fifth")."""
    if number <= MAX:
        return {}, {}, 0
    ordinals, cardinals = _spelled(lang, (number,))
    return ordinals, cardinals, max((len(k.split()) for k in (*ordinals, *cardinals)), default=0)


def _replacement(form: _Form, number_words: str, tail: str) -> str:
    expr = "anniversary.number"
    if form.filter:
        expr += f"|{form.filter}" + (f'("{form.ruleset}")' if form.ruleset else "")
    letters = [ch for ch in number_words if ch.isalpha()]
    if form.filter.startswith("spellout") and letters:
        if all(ch.isupper() for ch in letters):
            expr += "|upper"
        elif letters[0].isupper():
            expr += "|capitalize"
    return "{{ " + expr + " }}" + tail


def hand_written_numbers(text: str, language: str, expected: int) -> list[Finding]:
    """Ordinals and year counts in ``text`` that are not ``expected``.

    A dictionary scan over word n-grams (not one giant regex alternation, which was
    ~5 ms per message), longest first: each run of words is looked up among the spelled
    forms CLDR generates. A number that matches, right or wrong, takes all of its words,
    so "thirty-seven years" is 37 and never also "seven years".
    """
    lang = numbers.base_language(language)
    lex = _lexicon(lang)
    extra_ordinals, extra_cardinals, extra_words = _beyond(lang, expected)
    tokens = [(m.group(0), m.start(), m.end()) for m in lex.word.finditer(text)]
    starts = [t[1] for t in tokens]
    words = [t[0].lower() for t in tokens]
    joined = [bool(_JOIN.fullmatch(text[a[2] : b[1]])) for a, b in pairwise(tokens)]
    taken = [False] * len(tokens)
    found: list[tuple[int, Finding]] = []

    def near_month(i: int, j: int) -> bool:
        # "20th January", "the 19th of January", "January 20th": a date, not an anniversary.
        after = words[j : j + 2]
        if after and (after[0] in lex.months or (after[0] == "of" and len(after) > 1 and after[1] in lex.months)):
            return True
        return i > 0 and words[i - 1] in lex.months

    for m in lex.digit_ordinal.finditer(text):
        first, last = bisect_left(starts, m.start()), bisect_left(starts, m.end())
        if first == last or any(taken[first:last]):
            continue
        taken[first:last] = [True] * (last - first)
        n = int(re.sub(r"\D", "", m.group(1)))
        if n != expected and not near_month(first, last):
            rs = lex.marks.get(m.group(2).lower())
            found.append((m.start(), Finding(m.group(0), n, _replacement(_Form(n, "ordinal", rs), "", ""))))

    # run[i]: how many words from i on are free and joined, the longest a number there can be.
    run = [0] * (len(words) + 1)
    for k in range(len(words) - 1, -1, -1):
        run[k] = 0 if taken[k] else 1 + (run[k + 1] if k + 1 < len(words) and joined[k] else 0)
    longest = max(lex.max_words, extra_words)
    i = 0
    while i < len(words):
        step = 1
        for size in range(min(longest, run[i]), 0, -1):
            key = " ".join(words[i : i + size])
            start, end = tokens[i][1], tokens[i + size - 1][2]
            form = extra_ordinals.get(key) or lex.ordinals.get(key)
            if form is not None:
                if form.number != expected and not near_month(i, i + size):
                    said = text[start:end]
                    found.append((start, Finding(said, form.number, _replacement(form, said, ""))))
                step = size
                break
            j = i + size  # the year word, if any
            if lex.year_word is None or run[i] <= size or not lex.year_word.fullmatch(words[j]):
                continue
            if size == 1 and key[0].isdigit():
                form = _Form(int(re.sub(r"\D", "", key)), "", None)
            else:
                form = extra_cardinals.get(key) or lex.cardinals.get(key)
            if form is not None:
                if form.number != expected:
                    said, tail = text[start:end], text[end : tokens[j][2]]
                    found.append((start, Finding(said + tail, form.number, _replacement(form, said, tail))))
                step = size + 1
                break
        i += step
    return [f for _, f in sorted(found, key=lambda x: x[0])]
