"""The group-built message (GroupMime) against the reference, ``to_email_message``,
for the same recipient: the same bytes but for the MIME boundaries, except a non-ASCII
name's To line, which must mean the same (the same address and display name parsed
back). Every message is parsed back with the standard ``email`` package; names come
from hypothesis: Azerbaijani and Russian, HTML characters, placeholder text, encoded
word text, controls, and names too long for a line."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from smtp_server import Handler, start

from scheduler.content.groups import (
    ACTION_HTML,
    ACTION_TEXT,
    NAME_HTML,
    NAME_TEXT,
    UNSUB_HTML,
    UNSUB_TEXT,
    Batch,
    Recipient,
)
from scheduler.content.message import CalendarPart, Outgoing, Rendered, to_email_message
from scheduler.content.mime import GroupMime
from scheduler.core.values import header_safe
from scheduler.transports.outbox import OutboxTransport, outbox_name, write_all
from scheduler.transports.smtp import SmtpSettings, SmtpTransport

TEXT = (
    f"Dear {NAME_TEXT},\n\nOn the night of 19–20 January 1990, 26,000 Soviet troops entered Baku. "
    "By 9 February 1990, 170 people had died, 321 had disappeared and over 700 had been wounded.\n"
    f"  Your letter: {ACTION_TEXT}   \n\n{NAME_TEXT} — {NAME_TEXT}\t\n"
    f"{'-' * 40}\nUnsubscribe: {UNSUB_TEXT}\n"
)
HTML = (
    f'<!doctype html><html><body><p>Dear {NAME_HTML},</p>\n<p style="color:#333">Qara Yanvar — '
    "faciənin 37-ci ildönümü. " * 3 + f'</p>\n<a href="{ACTION_HTML}">act</a> <a href="{UNSUB_HTML}">unsubscribe</a>'
    "\n</body></html>"
)
INVITATION = CalendarPart(
    "black-january-2027.ics", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nSUMMARY:Qara Yanvar — ildönümü\r\nEND:VCALENDAR\r\n"
)
NAMES = [
    "Əliyeva Aynur", "Гусейнова Лейла Рашидовна", "Şəhidlər Xiyabanı", "<b>&amp;</b>", "Tom & Jerry <x@y.example>",
    "O'Brien, Pat", 'say "hi" \\o/', "J. R. R. Tolkien", "x" * 300, "Ana " * 60, "Ə" * 300, "Лейла " * 30,
    "%anv-name-t%", "%anv-%anv-unsub-t%unsub-t%", "100%anv-", "=?utf-8?q?Eve=0D=0ABcc=3A_z=40evil.example?=",
    "Eve\r\nBcc: victim@example.com", "\u202eevil", "   ", "", "Ana", "Mary-Jane Smith", "日本 太郎", "🙂 smile",
]  # fmt: skip
_PIECES = st.sampled_from([*"AaZzƏəŞşĞğıİÖöÜüÇçЛлЖжЁёЙй '-.,<>&\"\\%=?_\t", "%anv-", "anv-name-t%", "\r\n", "=?"])
names = st.one_of(st.sampled_from(NAMES), st.lists(_PIECES, max_size=60).map("".join), st.text(max_size=40))


def envelope(*, subject: str = "Black January: the 37th anniversary", calendar: bool = True) -> Outgoing:
    return Outgoing(
        entry_id=None,
        to_email="",
        to_name="",
        from_email="commemorations@example.org",
        from_name="Example Network",
        rendered=Rendered(subject, TEXT, HTML, "az"),
        unsubscribe_url="",
        unsubscribe_mailto="commemorations@example.org",
        message_id="",
        date=datetime(2027, 1, 13, 6, 0, tzinfo=UTC),
        campaign="black-january",
        year=2027,
        stage="reminder",
        calendar=INVITATION if calendar else None,
    )


def recipient(i: int, name: str, email_address: str = "") -> Recipient:
    return Recipient(
        entry_id=i,
        email=email_address or f"p{i}.x@mail{i % 7}.example.org",
        name=name,
        unsubscribe_url=f"https://example.org/anniversary/unsubscribe/v1.1.{'Ab9_-' * (i % 9 + 3)}",
        message_id=f"<black-january.2027.reminder.{i}.0123456789ab@example.org>",
        subscriber_id=i,
        action_url=f"https://example.org/anniversary/act/{i}?a=1&b=<2>",
    )


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def with_boundaries_of(fast: bytes, slow: bytes) -> bytes:
    """``slow`` with the MIME boundaries ``fast`` chose (each call of the ``email``
    package draws its own)."""
    ours, theirs = (re.findall(rb'boundary="([^"]+)"', m) for m in (fast, slow))
    assert len(ours) == len(theirs)
    for a, b in zip(theirs, ours, strict=True):
        slow = slow.replace(a, b)
    return slow


def to_field(raw: bytes, eol: bytes) -> bytes:
    """The To header field, folded lines and all."""
    match = re.search(rb"(?m)^To:.*" + re.escape(eol) + rb"(?:[ \t].*" + re.escape(eol) + rb")*", raw)
    assert match
    return match.group(0)


def decoded_to(raw: bytes, eol: bytes) -> str:
    value = to_field(raw, eol)[len(b"To:") :].decode("ascii")
    return str(make_header(decode_header(" ".join(value.split()))))


def assert_same(fast: bytes, slow: bytes, name: str, eol: bytes = b"\n") -> None:
    slow = with_boundaries_of(fast, slow)
    # Meaning: the same headers in the same order, each the same parsed back, and the
    # same parts with the same decoded content.
    f, s = parse(fast), parse(slow)
    assert f.keys() == s.keys()
    for key in f:
        if key != "To":
            assert str(f[key]) == str(s[key]), key
    # The To line: the same address and, read by the email package, the same name but
    # for spaces. That parser keeps a space between two encoded words where RFC 2047
    # section 6.2 drops it, and the reference's words may split a word or leave the
    # name's own space between two words (so strictly decoded, it loses that space).
    shown = header_safe(name, 200)
    fto, sto = f["To"].addresses[0], s["To"].addresses[0]
    assert fto.addr_spec == sto.addr_spec
    assert "".join(fto.display_name.split()) == "".join(sto.display_name.split())
    fparts, sparts = list(f.walk())[1:], list(s.walk())[1:]
    assert [p.items() for p in fparts] == [p.items() for p in sparts]
    for fp, sp in zip(fparts, sparts, strict=True):
        if not fp.is_multipart():
            assert fp.get_content() == sp.get_content()
    assert f.defects == s.defects == []
    # Bytes: all but the To line the same; that too for a name that is ASCII once
    # made header-safe (a non-ASCII one is in encoded words of our own where it can).
    fast_to, slow_to = to_field(fast, eol), to_field(slow, eol)
    assert fast.replace(fast_to, b"") == slow.replace(slow_to, b"")
    if header_safe(name, 200).isascii():
        assert fast == slow
    elif fast != slow:  # ours, not the email package's (a long name cut with an ellipsis)
        assert max(map(len, fast_to.split(eol))) <= 78
        assert fast_to.startswith(b"To: =?utf-8?b?")
        # Ours reads back exactly, strictly decoded; and by the email package too when
        # it is one encoded word.
        assert decoded_to(fast, eol) == f"{shown} <{fto.addr_spec}>"
        if len(shown.encode("utf-8")) <= 45:
            assert fto.display_name == shown


def both(batch: Batch, mime: GroupMime, eol: str = "\n") -> list[tuple[bytes, bytes, str]]:
    policy = mime.policy
    return [
        (
            mime.message(m, r.substitutions() if batch.personal else {}),
            to_email_message(m).as_bytes(policy=policy),
            r.name,
        )
        for m, r in zip(batch.messages(), batch.recipients, strict=True)
    ]


@settings(max_examples=300, deadline=None)
@given(name=names, calendar=st.booleans(), crlf=st.booleans())
@example(name="Əliyeva Aynur", calendar=True, crlf=False)
@example(name="Гусейнова Лейла " * 20, calendar=True, crlf=True)
@example(name="<b>&", calendar=False, crlf=False)
@example(name="%anv-unsub-t%", calendar=True, crlf=False)
def test_a_group_built_message_means_what_the_reference_means_for_any_name(
    name: str, calendar: bool, crlf: bool
) -> None:
    eol = "\r\n" if crlf else "\n"
    batch = Batch(envelope(calendar=calendar), [recipient(1, name)])
    for fast, slow, who in both(batch, GroupMime(batch.envelope, linesep=eol)):
        assert_same(fast, slow, who, eol.encode())


def test_every_listed_name_in_one_group_built_once() -> None:
    batch = Batch(envelope(), [recipient(i, n) for i, n in enumerate(NAMES, 1)])
    mime = GroupMime(batch.envelope)
    for fast, slow, who in both(batch, mime):
        assert_same(fast, slow, who)


def test_a_subject_that_prints_the_name_is_made_per_recipient() -> None:
    batch = Batch(envelope(subject=f"For {NAME_TEXT}: Black January"), [recipient(1, "Ana"), recipient(2, "Əli")])
    results = both(batch, GroupMime(batch.envelope))
    for fast, slow, who in results:
        assert_same(fast, slow, who)
    assert [parse(fast)["Subject"] for fast, _, _ in results] == ["For Ana: Black January", "For Əli: Black January"]


def test_a_group_rendered_for_one_recipient_alone_has_no_placeholders_to_fill() -> None:
    alone = Outgoing(**{**envelope().__dict__, "rendered": Rendered("S", "Dear Ana,\n", "<p>Dear Ana</p>", "en")})
    batch = Batch(alone, [recipient(1, "Ana")], personal=False)
    mime = GroupMime(batch.envelope, personal=False)
    assert not mime.lines
    for fast, slow, who in both(batch, mime):
        assert_same(fast, slow, who)


def test_an_unusual_address_message_id_or_link_goes_through_the_email_package() -> None:
    odd = recipient(1, "Ana", '"quoted local"@example.org')._replace(
        message_id="<" + "very-long-id." * 8 + "@example.org>",
        unsubscribe_url="https://example.org/u/" + "x" * 120,
    )
    batch = Batch(envelope(), [odd, recipient(2, "Ana")._replace(unsubscribe_url="https://example.org/u/a b")])
    for fast, slow, who in both(batch, GroupMime(batch.envelope)):
        assert_same(fast, slow, who)


def test_a_long_unsubscribe_link_stays_whole_on_its_line_never_an_encoded_word() -> None:
    link = "https://example.org/anniversary/unsubscribe/v1.1." + "x" * 200
    batch = Batch(envelope(), [recipient(1, "Ana")._replace(unsubscribe_url=link)])
    ((fast, slow, who),) = both(batch, GroupMime(batch.envelope))
    assert_same(fast, slow, who)
    assert f"\nList-Unsubscribe: <{link}>,\n <mailto:commemorations@example.org?subject=unsubscribe>\n".encode() in fast
    assert parse(fast)["List-Unsubscribe"] == f"<{link}>, <mailto:commemorations@example.org?subject=unsubscribe>"


def test_the_outbox_writes_the_group_built_message(tmp_path: Path) -> None:
    batch = Batch(envelope(), [recipient(i, n) for i, n in enumerate(["Ana", "Əliyeva Aynur", "<b>&"], 1)])
    with OutboxTransport(tmp_path) as outbox:
        results = outbox.send_group(batch)
    assert [(r.entry_id, r.state.value) for r in results] == [(1, "sent"), (2, "sent"), (3, "sent")]
    for m in batch.messages():
        written = (tmp_path / outbox_name(m)).read_bytes()
        assert_same(written, to_email_message(m).as_bytes(), m.to_name)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "000000001.eml",
        "000000002.eml",
        "000000003.eml",
    ]


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_no_line_passes_78_for_long_names(eol: str) -> None:
    batch = Batch(envelope(), [recipient(1, "Ə" * 300), recipient(2, "Лейла " * 40), recipient(3, "a" * 300)])
    mime = GroupMime(batch.envelope, linesep=eol)
    for fast, slow, who in both(batch, mime):
        assert_same(fast, slow, who, eol.encode())
        longest = max(map(len, fast.split(eol.encode())))
        assert longest <= max(78, max(map(len, slow.split(eol.encode())))), who


@pytest.mark.parametrize("sync", ["syncfs", "an fsync each"])
def test_a_batch_of_files_is_written_whole_owner_only_and_one_bad_path_fails_alone(tmp_path: Path, sync: str) -> None:
    (tmp_path / "blocked").write_text("a file where a folder should be")
    items = [
        (tmp_path / "a" / "1.eml", b"one\n"),
        (tmp_path / "blocked" / "2027" / "2.eml", b"two\n"),
        (tmp_path / "a" / "3.eml", b"three\n" * 100_000),
    ]
    errors = write_all(items) if sync == "syncfs" else write_all(items, syncfs=None)
    assert [e.strerror if e else None for e in errors] == [None, "Not a directory", None]
    assert (tmp_path / "a" / "1.eml").read_bytes() == b"one\n"
    assert (tmp_path / "a" / "3.eml").read_bytes() == b"three\n" * 100_000
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["1.eml", "3.eml"]  # no temporary file left
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "a").iterdir()} == {0o600}


@dataclass
class RawHandler(Handler):
    """The test server's handler, also keeping each message's bytes as they arrived."""

    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        return await super().handle_DATA(server, session, envelope)


def test_smtp_sends_the_group_built_message_and_a_non_ascii_address_with_utf8_headers() -> None:
    handler = RawHandler()
    controller = start(handler, enable_SMTPUTF8=True)
    people = [
        recipient(1, "Ana"),
        recipient(2, "Əliyeva Aynur"),
        recipient(3, "<b>&", "ali@bücher.example"),
        recipient(4, "Əli", "əli@example.org"),
    ]
    batch = Batch(envelope(), people)
    try:
        settings = SmtpSettings(host="127.0.0.1", port=controller.port, security="none", timeout_seconds=5)
        with SmtpTransport(settings) as transport:
            results = transport.send_group(batch)
    finally:
        controller.stop()
    assert [(r.entry_id, r.state.value) for r in results] == [(1, "sent"), (2, "sent"), (3, "sent"), (4, "failed")]
    # A non-ASCII local part: the email package cannot write it; that entry fails alone.
    assert (
        results[3].reason
        == "the smtp transport cannot carry the address 'əli@example.org': its local part is not ASCII"
    )
    assert [tos for _, tos in handler.envelopes] == [[p.email] for p in people[:3]]
    # CRLF on the wire (RFC 5321 section 2.3.8), otherwise the reference's bytes.
    wire = GroupMime(batch.envelope, linesep="\r\n").policy
    for raw, m in zip(handler.raw[:2], batch.messages(), strict=False):
        assert_same(raw, to_email_message(m).as_bytes(policy=wire), m.to_name, b"\r\n")
    # The non-ASCII address: the reference path, its headers as UTF-8 (RFC 6532).
    assert 'To: "<b>&" <ali@bücher.example>\r\n'.encode() in handler.raw[2]
    assert handler.envelopes[2][0] == "commemorations@example.org"


def test_an_address_the_email_package_cannot_write_fails_alone_in_the_outbox(tmp_path: Path) -> None:
    batch = Batch(envelope(), [recipient(1, "Ana"), recipient(2, "Əli", "əli@example.org"), recipient(3, "Bob")])
    with OutboxTransport(tmp_path) as outbox:
        results = outbox.send_group(batch)
    assert [(r.entry_id, r.state.value, r.reason) for r in results] == [
        (1, "sent", None),
        (2, "failed", "the outbox transport cannot carry the address 'əli@example.org': its local part is not ASCII"),
        (3, "sent", None),
    ]
    assert sorted(p.name for p in tmp_path.rglob("*.eml")) == ["000000001.eml", "000000003.eml"]
