"""The message every transport sends (or, for SendGrid, describes), and its RFC 5322 form.

Headers follow RFC 2369 (List-Unsubscribe with an https and a mailto URI) and RFC 8058
(List-Unsubscribe-Post: List-Unsubscribe=One-Click). Every name and the subject go
through :func:`~scheduler.core.values.header_safe` (one line, no control or bidi
characters, no ``=?`` that could start an encoded word, display names cut to 200
characters) and are encoded and folded by the standard ``email`` package, so a name
never adds a header, on any Python this runs on, and no line passes RFC 5322's limit.
"""

from __future__ import annotations

import base64
import email.policy
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cached_property

from scheduler.core.values import DISPLAY_NAME_LIMIT, header_safe


@dataclass(frozen=True)
class Rendered:
    """A message's three parts, as the templates rendered them."""

    subject: str
    text: str
    html: str
    #: the language actually used, after falling back to the campaign's first language
    language: str


@dataclass(frozen=True)
class CalendarPart:
    """A calendar invitation (RFC 5545) a message carries: one per content group, the
    same for everyone in it (:mod:`scheduler.content.calendar`)."""

    filename: str
    #: the VCALENDAR object, CRLF line endings
    text: str

    #: the MIME type, with the iTIP method (RFC 5546 section 2.4; RFC 6047 section 2.4)
    content_type = "text/calendar; method=PUBLISH; charset=utf-8"

    @cached_property
    def base64(self) -> str:
        """The invitation base64-encoded, made once per group (SendGrid's attachments)."""
        return base64.b64encode(self.text.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class Outgoing:
    """One message for one recipient, transport-neutral."""

    #: the ledger entry, or None for a test send that is never written to the ledger
    entry_id: int | None
    to_email: str
    to_name: str
    from_email: str
    from_name: str
    rendered: Rendered
    unsubscribe_url: str
    unsubscribe_mailto: str
    message_id: str
    date: datetime
    campaign: str
    year: int
    stage: str
    reply_to: str | None = None
    is_test: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)
    #: the minute of silence as an invitation, or None (a stage with ``calendar = false``)
    calendar: CalendarPart | None = None

    @property
    def subject(self) -> str:
        return f"[TEST] {self.rendered.subject}" if self.is_test else self.rendered.subject

    def list_unsubscribe(self) -> str:
        return f"<{self.unsubscribe_url}>, <mailto:{self.unsubscribe_mailto}?subject=unsubscribe>"

    def headers(self) -> dict[str, str]:
        """The headers beyond From/To/Subject/Date/Message-ID that every transport carries."""
        out = {
            "List-Unsubscribe": self.list_unsubscribe(),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "X-Anniversary-Campaign": f"{self.campaign}/{self.year}/{self.stage}",
        }
        if self.is_test:
            out["X-Anniversary-Test"] = "yes"
        out.update(self.extra_headers)
        return out


def make_message_id(campaign: str, year: int, stage: str, entry: int | str, domain: str) -> str:
    """RFC 5322 section 3.6.4: unique, with our domain on the right."""
    return f"<{campaign}.{year}.{stage}.{entry}.{secrets.token_hex(6)}@{domain}>"


#: RFC 5322 section 2.1.1: lines SHOULD be at most 78 characters and MUST be at most
#: 998. The policy folds every header to 76 where it has somewhere to fold (whitespace,
#: or an encoded word it may split), and the ``email`` package encodes the bodies
#: quoted-printable to the same width, which RFC 2045 section 6.7 (5) requires be at
#: most 76. A header set raw (List-Unsubscribe) is written as given, never refolded.
POLICY = email.policy.default.clone(max_line_length=76, refold_source="none")


def list_unsubscribe_field(value: str) -> str | None:
    """RFC 2369's List-Unsubscribe value folded after its comma, each URL whole on its
    line (section 2), however long. Left to the ``email`` package, a link that does not
    fit 78 characters becomes an RFC 2047 encoded word, which RFC 2047 section 5 does
    not allow there and a mail client does not decode: one-click unsubscribe (RFC 8058)
    would find no https URI. None for a value that is not one printable ASCII line of
    at most 990 characters a URL (then the package folds it, as before)."""
    if not (value.isascii() and value.isprintable()) or len(value) > 1980:
        return None
    folded = value.replace(", <", ",\n <")
    if max(map(len, folded.split("\n"))) > 990:
        return None
    return folded


def to_email_message(out: Outgoing) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["Message-ID"] = out.message_id
    msg["Date"] = format_datetime(out.date)
    msg["From"] = Address(display_name=header_safe(out.from_name, DISPLAY_NAME_LIMIT), addr_spec=out.from_email)
    msg["To"] = Address(display_name=header_safe(out.to_name, DISPLAY_NAME_LIMIT), addr_spec=out.to_email)
    if out.reply_to:
        msg["Reply-To"] = out.reply_to
    msg["Subject"] = header_safe(out.subject)
    for name, value in out.headers().items():
        raw = list_unsubscribe_field(value) if name == "List-Unsubscribe" else None
        if raw is None:
            msg[name] = value
        else:
            msg.set_raw(name, raw)
    # Quoted-printable keeps .eml files readable for organizers who open them.
    msg.set_content(out.rendered.text, charset="utf-8", cte="quoted-printable")
    msg.add_alternative(out.rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    if out.calendar is not None:
        # Beside the alternatives, as an attachment with its iTIP method (RFC 6047
        # section 2.4), so a client that does not offer to add it still shows a file.
        msg.add_attachment(
            out.calendar.text.encode("utf-8"),
            maintype="text",
            subtype="calendar",
            filename=out.calendar.filename,
            params={"method": "PUBLISH", "charset": "utf-8"},
        )
    # After the body: set_content clears every Content-* header (RFC 3282).
    msg["Content-Language"] = out.rendered.language
    return msg
