"""Checking and normalizing the values people type: email addresses, IANA time zones,
CLDR language codes, one-line text. Each is written once, here; config validation, the
subscriber import and the command options all call these."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email


def one_line(value: str) -> str:
    """Every run of whitespace (CR/LF included) as one space, trimmed: a header value
    or a name never spans two lines. ``str.split()`` splits on the same Unicode
    whitespace as the regex ``\\s``, at a tenth of its cost."""
    return " ".join(value.split())


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
    if value not in _zones() and value != "UTC":
        raise ValueError(f"must be an IANA time zone such as Asia/Baku (got {value!r})")
    return value


def check_language(value: str) -> str:
    """A language CLDR knows (en, az, ru, tr, pt-BR), or ValueError."""
    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"must be a CLDR language code such as en, az, ru, tr (got {value!r})") from exc
    return value
