"""Checking and normalizing the values people type: email addresses, IANA time zones,
CLDR language codes, one-line text. Each is written once, here; config validation, the
subscriber import and the command options all call these."""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email


def one_line(value: str) -> str:
    """Every run of whitespace (CR/LF included) as one space, trimmed: a header value
    or a name never spans two lines. ``str.split()`` splits on the same Unicode
    whitespace as the regex ``\\s``, at a tenth of its cost."""
    return " ".join(value.split())


#: the characters a name or header value loses: the C0 and C1 controls and DEL that are
#: not whitespace (whitespace becomes a space in :func:`one_line`), and the Unicode
#: bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which can
#: make a name display as different text (Unicode TR 9; CVE-2021-42574).
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069]")

#: display names in headers (From, To) are cut to this many characters: at most 800
#: octets even as raw UTF-8 (RFC 6532, for an SMTPUTF8 address), so a header line stays
#: under RFC 5322's 998 even where nothing can be folded (one long word)
DISPLAY_NAME_LIMIT = 200


def printable_line(value: str) -> str:
    """:func:`one_line` without the control and bidi characters of ``_INVISIBLE``: how a
    name is shown anywhere, header or body. Whitespace controls (CR, LF, tab, U+2028,
    U+2029, NEL) become a space; the others are dropped. A value that is already one
    printable line (``isprintable`` is false for every character dropped here and for
    all whitespace but the space) is returned as it is, the same object, after three
    ``str`` tests: the common case, once per recipient (BENCHMARKS.md)."""
    if value.isprintable() and "  " not in value and value.strip() is value:
        return value
    return " ".join(_INVISIBLE.sub("", value).split())


def header_safe(value: str, limit: int | None = None) -> str:
    """``value`` as it may go into a header (a display name, a subject): one printable
    line (:func:`printable_line`), with every ``=?`` written ``= ?`` so no part of it can
    start an RFC 2047 encoded word (some versions of the ``email`` package decode one
    while folding, and a CR/LF inside it would start a header: CVE-2024-6923), and at
    most ``limit`` characters, the last one an ellipsis, when a limit is given. A value
    that needs none of this is returned as it is (the same object)."""
    value = printable_line(value)
    if "=?" in value:
        value = value.replace("=?", "= ?")
    if limit is not None and len(value) > limit:
        value = value[: limit - 1].rstrip() + "\u2026"
    return value


def normalize_email(value: str) -> str:
    """The address as email-validator normalizes it (the domain lower-cased, IDNA and
    Unicode forms resolved); ValueError naming the address and what is wrong."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email {value.strip()!r}: {exc}") from None


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    # A walk of the tzdata folder: done once per process, not once per value.
    return frozenset(available_timezones())


def check_zone(value: str) -> str:
    """An IANA time zone name such as Asia/Baku, or ValueError saying what is allowed."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError) as exc:
        raise ValueError(f"must be an IANA time zone such as Asia/Baku or America/Los_Angeles (got {value!r})") from exc
    # The zoneinfo folder also holds files that are not IANA zone names: "localtime"
    # (whatever this machine's clock is set to), "posixrules" and tzdata's "Factory"
    # placeholder. A subscriber's zone must mean the same on every machine.
    if value in ("localtime", "posixrules", "Factory") or (value not in _zones() and value != "UTC"):
        raise ValueError(f"must be an IANA time zone such as Asia/Baku (got {value!r})")
    return value


def check_language(value: str) -> str:
    """A language CLDR knows (en, az, ru, tr, pt-BR), or ValueError."""
    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"must be a CLDR language code such as en, az, ru, tr (got {value!r})") from exc
    return value
