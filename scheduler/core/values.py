"""Checking and normalizing the values people type: email addresses, IANA time zones,
CLDR language codes, one-line text. Each is written once, here; config validation, the
subscriber import and the command options all call these."""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import email_validator
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, EMAIL_MAX_LENGTH
from email_validator.syntax import validate_email_domain_name, validate_email_local_part


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


class EmailNormalizer:
    """:func:`normalize_email` for many addresses: the same answer, accept or reject,
    normalized form and message, at a small part of the cost (BENCHMARKS.md, import).

    ``validate_email`` spends most of its time on the domain (IDNA, UTS #46) and on
    splitting the address a character at a time (a Unicode normalization per
    character). A list has few domains, so each is validated once per normalizer,
    by the library's own ``validate_email_domain_name``. An address that is ASCII,
    with one ``@``, no quote, no angle bracket and no domain literal splits at its
    ``@`` exactly as the library would split it (NFC leaves ASCII as it is), and its
    local part goes through the library's own ``validate_email_local_part``, with the
    library's defaults. Anything else, and anything this path would reject, goes to
    :func:`normalize_email` itself, so every refusal reads exactly as it does there.
    ``tests/test_email_fast_path.py`` checks the two agree."""

    #: domains remembered at once; a list with more distinct ones starts afresh
    DOMAIN_CACHE = 100_000

    def __init__(self) -> None:
        self._domains: dict[str, tuple[str, str] | None] = {}

    def __call__(self, value: str) -> str:
        text = value.strip()
        if text.isascii() and text.count("@") == 1 and '"' not in text and "<" not in text:
            local, _, domain_part = text.partition("@")
            domain = self._domain(domain_part)
            if domain is not None and local:
                try:
                    info = validate_email_local_part(
                        local,
                        allow_smtputf8=email_validator.ALLOW_SMTPUTF8,
                        allow_empty_local=email_validator.ALLOW_EMPTY_LOCAL,
                        quoted_local_part=False,
                        strict=email_validator.STRICT,
                    )
                except EmailNotValidError:
                    return normalize_email(value)
                local_part = info["local_part"]
                if local_part.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
                    local_part = local_part.lower()
                normalized = local_part + "@" + domain[0]
                # The library's three length checks (original, normalized, IDNA ASCII), in UTF-8.
                if (
                    len(text) <= EMAIL_MAX_LENGTH
                    and len(normalized.encode("utf-8")) <= EMAIL_MAX_LENGTH
                    and len(local_part) + 1 + len(domain[1]) <= EMAIL_MAX_LENGTH
                ):
                    return normalized
        return normalize_email(value)

    def _domain(self, domain: str) -> tuple[str, str] | None:
        """(normalized, IDNA ASCII) for a domain name, None where the library refuses it
        or it is not a plain name (empty, a ``[literal]``)."""
        try:
            return self._domains[domain]
        except KeyError:
            pass
        found: tuple[str, str] | None = None
        if domain and not domain.startswith("["):
            try:
                info = validate_email_domain_name(
                    domain,
                    test_environment=email_validator.TEST_ENVIRONMENT,
                    globally_deliverable=email_validator.GLOBALLY_DELIVERABLE,
                )
                found = (info["domain"], info["ascii_domain"])
            except EmailNotValidError:
                found = None
        if len(self._domains) >= self.DOMAIN_CACHE:
            self._domains.clear()
        self._domains[domain] = found
        return found


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    # A walk of the tzdata folder: done once per process, not once per value.
    return frozenset(available_timezones())


#: names in the zoneinfo folder that are not IANA zone names (see check_zone)
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def check_zone(value: str) -> str:
    """An IANA time zone name such as Asia/Baku, or ValueError saying what is allowed."""
    if value in _zones() and value not in _NOT_ZONES:
        # The common case, once per imported row: a set lookup, no file opened.
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError) as exc:
        raise ValueError(f"must be an IANA time zone such as Asia/Baku or America/Los_Angeles (got {value!r})") from exc
    # The zoneinfo folder also holds files that are not IANA zone names: "localtime"
    # (whatever this machine's clock is set to), "posixrules" and tzdata's "Factory"
    # placeholder. A subscriber's zone must mean the same on every machine.
    if value in _NOT_ZONES or (value not in _zones() and value != "UTC"):
        raise ValueError(f"must be an IANA time zone such as Asia/Baku (got {value!r})")
    return value


def check_language(value: str) -> str:
    """A language CLDR knows (en, az, ru, tr, pt-BR), or ValueError."""
    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"must be a CLDR language code such as en, az, ru, tr (got {value!r})") from exc
    return value
