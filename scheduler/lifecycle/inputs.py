"""What the public may type, checked once (README: The web app): one clear reason per
field, never a guess. Markup is refused rather than stored, because names end up in
headers, letters and pages; CR/LF in a one-line field is refused because it ends up in
headers (RFC 5322 section 2.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from scheduler.core.values import check_zone, normalize_email
from scheduler.errors import SchedulerError, UsageError

#: longest name a form takes; a display name longer than this is not a name
NAME_MAX = 200
EMAIL_MAX = 254
REGION_RE = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?]|[<>]")
_LINE_BREAKS = re.compile(r"[\r\n\u0085\u2028\u2029]")


class InvalidInput(UsageError):
    """A form field the lifecycle refuses; ``code`` picks the page's message."""

    def __init__(self, field: str, code: str, detail: str = "") -> None:
        super().__init__(f"{field}: {code}{': ' + detail if detail else ''}")
        self.field = field
        self.code = code


class RateLimited(SchedulerError):
    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(f"too many requests for {what}; retry after {retry_after} s")
        self.retry_after = retry_after


class Replayed(UsageError):
    def __init__(self) -> None:
        super().__init__("this form was already sent")


class UnknownSubscriber(UsageError):
    def __init__(self) -> None:
        super().__init__("this link names no subscriber")


@dataclass(frozen=True)
class SignupRequest:
    email: str
    name: str
    language: str
    timezone: str
    ip: str | None = None
    user_agent: str | None = None
    page_url: str | None = None
    #: the version of the consent wording the page showed (Lifecycle.wording_version)
    wording: str = ""


def one_line_field(field: str, value: str | None, *, limit: int, required: bool) -> str:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput(field, "required")
        return ""
    if len(text) > limit:
        raise InvalidInput(field, "too_long", f"at most {limit} characters")
    if _LINE_BREAKS.search(text):
        raise InvalidInput(field, "line_breaks")
    if _MARKUP.search(text):
        raise InvalidInput(field, "markup")
    if not text.isprintable():
        raise InvalidInput(field, "line_breaks")
    return text


def email_field(value: str | None) -> str:
    text = one_line_field("email", value, limit=EMAIL_MAX, required=True)
    try:
        return normalize_email(text)
    except ValueError:
        raise InvalidInput("email", "email") from None


def language_field(value: str | None, allowed: list[str]) -> str:
    if value not in allowed:
        raise InvalidInput("language", "language", f"one of {', '.join(allowed)}")
    return value


def zone_field(value: str | None) -> str:
    text = one_line_field("timezone", value, limit=64, required=True)
    try:
        return check_zone(text)
    except ValueError:
        raise InvalidInput("timezone", "timezone") from None


def region_field(value: str | None) -> str | None:
    """ISO 3166-2 (``US-TX``), upper-cased; empty means none."""
    text = one_line_field("region", value, limit=6, required=False).upper()
    if not text:
        return None
    if not REGION_RE.match(text):
        raise InvalidInput("region", "region", "an ISO 3166-2 code like US-TX")
    return text


def short(value: str | None, limit: int = 500) -> str | None:
    """Request metadata for the consent record: kept, but bounded."""
    return None if value is None else value[:limit]
