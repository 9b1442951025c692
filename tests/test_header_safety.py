"""A subscriber's name never adds a header, never breaks RFC 5322's line limit and
never prints an unsubscribe link the template did not put there: through the outbox
(the CLI, as a user runs it), a real SMTP server on loopback, and SendGrid request
bodies. Every message is parsed back with the standard ``email`` package; the raw
bytes are measured line by line.

The injected name is an RFC 2047 encoded word with CR LF inside: on Python before
3.11.10 (CVE-2024-6923) the ``email`` package decodes it while folding and writes a
real ``Bcc:`` line, so these tests hold the product to it on every Python it supports.
"""

from __future__ import annotations

import email
import email.policy
import html
import itertools
import json
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from conftest import Project
from hypothesis import example, given
from hypothesis import strategies as st
from sg_world import NOW, make_config, signer
from smtp_server import Handler, start

from scheduler.content.groups import Batch, Recipient, render_group, safe_name
from scheduler.content.message import Outgoing, Rendered
from scheduler.core.values import header_safe, printable_line
from scheduler.delivery.runs import Delivery
from scheduler.store import Store, SubscriberRow
from scheduler.transports.sendgrid import SendgridTransport
from scheduler.transports.sendgrid_json import personal_subject, personalization
from scheduler.transports.smtp import SmtpTransport

ENCODED = "=?utf-8?q?Eve=0D=0ABcc=3A_z=40evil.example?="
#: what every header shows of it: the ``=?`` broken, so no encoded word can start
ENCODED_SAFE = "= ?utf-8?q?Eve=0D=0ABcc=3A_z=40evil.example?="
#: C0 and C1 controls, DEL, bidi overrides and isolates, line and paragraph separators
INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
CAMPAIGN, STAGE, YEAR = "black-january", "reminder", 2027
LONG_NAMES = {"one word": "x" * 10_000, "words": "Ana " * 2_500, "non-ASCII": "Ə" * 10_000}


def parse(raw: bytes) -> EmailMessage:
    if not raw.isascii():  # RFC 6532: UTF-8 headers, which the bytes parser leaves undecoded
        return email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)  # type: ignore[return-value]
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def text_of(msg: EmailMessage) -> str:
    return str(msg.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def html_of(msg: EmailMessage) -> str:
    return str(msg.get_body(("html",)).get_content())  # type: ignore[union-attr]


def assert_one_recipient(raw: bytes, to: str) -> EmailMessage:
    """Exactly the headers a message has, one To (``to``), no Bcc; no line over 998 octets."""
    msg = parse(raw)
    assert msg["Bcc"] is None and b"\nBcc:" not in raw and b"\nbcc:" not in raw.lower()
    assert len(msg.get_all("To") or []) == 1 and msg["To"].addresses[0].addr_spec == to
    assert set(msg.keys()) <= {
        "Message-ID", "Date", "From", "To", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted",
        "X-Anniversary-Campaign", "X-Anniversary-Test", "Reply-To", "Content-Type", "Content-Transfer-Encoding", "MIME-Version", "Content-Language",
    }  # fmt: skip
    assert max(map(len, raw.splitlines())) <= 998, "RFC 5322 section 2.1.1"
    return msg


def longest_folded_line(raw: bytes) -> int:
    """The longest line but List-Unsubscribe's link, which stays whole on its line (RFC
    2369 section 2: no whitespace inside the brackets; RFC 2047 section 5: no encoded
    word there) and may pass 78 characters, never 998."""
    return max(len(line) for line in raw.splitlines() if not line.startswith(b"List-Unsubscribe: <"))


def put_name_in_subject(templates: Path) -> None:
    subject = templates / "black-january" / "en" / "reminder.subject.j2"
    subject.write_text("For {{ subscriber.name }}: " + subject.read_text(encoding="utf-8"), encoding="utf-8")


# -- header_safe: the one function every header value goes through -----------------------


def test_header_safe_breaks_encoded_words_and_drops_controls() -> None:
    assert header_safe(ENCODED) == ENCODED_SAFE
    assert header_safe("=?=?") == "= ?= ?"
    # Controls and bidi characters are dropped; whitespace ones (NEL, U+2028) are a space.
    assert header_safe("A\x00B\x1bC\x7fD\x85E\x9fF\u202eG\u2066H\u2028I\r\nJ") == "ABCD EFGH I J"
    # Dropping a control cannot make an encoded word: the break comes after.
    assert header_safe("=\x00?utf-8?q?x?=") == "= ?utf-8?q?x?="


def test_header_safe_cuts_to_the_limit_with_an_ellipsis() -> None:
    assert header_safe("a" * 300, 200) == "a" * 199 + "\u2026"
    assert header_safe("Ana " * 100, 200) == "Ana " * 49 + "Ana\u2026"
    assert header_safe("a" * 200, 200) == "a" * 200 and header_safe("a" * 300) == "a" * 300


def test_a_value_that_needs_nothing_is_returned_as_it_is() -> None:
    for plain in ("Ana Smith", "Əliyeva", "Person 12 <&> \u0634\u0647\u0631\u0627\u0645", ""):
        assert header_safe(plain, 200) is plain and printable_line(plain) is plain and safe_name(plain) is plain


@given(name=st.text(st.characters(blacklist_categories=["Cs"])) | st.sampled_from([ENCODED, "x" * 999]))
@example(name=ENCODED)
@example(name="=?utf-8?b?RXZlDQpCY2M6IHpAZXZpbC5leGFtcGxl?=")
def test_no_header_safe_value_adds_a_header(name: str) -> None:
    """On this Python, whatever its version: what header_safe returns, as a display name
    and in a subject, gives exactly the headers set, each line within 998 octets."""
    shown = header_safe(name, 200)
    assert "=?" not in shown and not INVISIBLE.search(shown) and len(shown) <= 200
    msg = EmailMessage(policy=email.policy.default)
    msg["From"] = Address(display_name=header_safe(name, 200), addr_spec="from@example.org")
    msg["To"] = Address(display_name=shown, addr_spec="x@example.com")
    msg["Subject"] = header_safe(f"News for {name}")
    raw = msg.as_bytes()
    back = parse(raw)
    assert list(back.keys()) == ["From", "To", "Subject"]
    assert back["To"].addresses[0].addr_spec == "x@example.com"
    assert max(map(len, raw.splitlines())) <= 998


def test_safe_name_drops_controls_and_bidi_but_keeps_the_letters() -> None:
    assert safe_name(f"Eve\u202e {ENCODED} \x00Ada\u2069\x1b[31m") == f"Eve {ENCODED} Ada[31m"
    # A control between the halves of a placeholder is dropped before placeholders are.
    assert safe_name("Ann %anv-\x00unsub-t%") == "Ann"


# -- the outbox, through the CLI ------------------------------------------------------------


@pytest.mark.parametrize("in_subject", [False, True], ids=["name in body", "name in subject too"])
def test_an_encoded_word_name_adds_no_header_in_the_outbox(run: Any, project: Project, in_subject: bool) -> None:
    if in_subject:
        put_name_in_subject(project.root / "templates")
    added = run("subscribers", "add", "x@example.com", "--name", ENCODED, "--language", "en", "--timezone", "UTC")
    assert added.exit_code == 0 and added.stdout == "x@example.com: added\n", added.stderr
    sent = run("send", CAMPAIGN, STAGE, "--year", str(YEAR), "--yes")
    assert sent.exit_code == 0, sent.stderr
    (eml,) = project.emls()
    msg = assert_one_recipient(eml.read_bytes(), "x@example.com")
    assert msg["To"].addresses[0].display_name == ENCODED_SAFE
    assert str(msg["Subject"]).startswith(f"For {ENCODED_SAFE}: " if in_subject else "Black January: ")
    # The body is no header: the name keeps its letters there (HTML-escaped in HTML).
    assert f"Dear {ENCODED}," in text_of(msg) and f"Dear {ENCODED}," in html_of(msg)


def test_controls_and_bidi_overrides_never_reach_an_outbox_message(run: Any, project: Project) -> None:
    name = "Eve\u202eevil\u202c \u2066Ada\u2069\u2028Bcc: z@evil.example"
    assert run("subscribers", "add", "x@example.com", "--name", name, "--timezone", "UTC").exit_code == 0
    assert run("send", CAMPAIGN, STAGE, "--year", str(YEAR), "--yes").exit_code == 0
    (eml,) = project.emls()
    msg = assert_one_recipient(eml.read_bytes(), "x@example.com")
    assert msg["To"].addresses[0].display_name == "Eveevil Ada Bcc: z@evil.example"
    assert "Dear Eveevil Ada Bcc: z@evil.example," in text_of(msg)
    assert not INVISIBLE.search(text_of(msg).replace("\n", "")) and not INVISIBLE.search(str(msg["To"]))


@pytest.mark.parametrize("kind", list(LONG_NAMES))
def test_every_outbox_line_is_within_rfc5322s_limit(run: Any, project: Project, kind: str) -> None:
    """A 10,000-character name (in the To, the subject and the body) and a 10,000-character
    template line: every header folds to 78 characters, the quoted-printable bodies to 76."""
    name = LONG_NAMES[kind]
    templates = project.root / "templates"
    put_name_in_subject(templates)
    for part in ("txt", "html"):
        path = templates / "black-january" / "en" / f"reminder.{part}.j2"
        path.write_text(path.read_text(encoding="utf-8").replace("{% block body %}", "{% block body %}" + "L" * 10_000))
    assert run("subscribers", "add", "x@example.com", "--name", name, "--timezone", "UTC").exit_code == 0
    assert run("send", CAMPAIGN, STAGE, "--year", str(YEAR), "--yes").exit_code == 0
    (eml,) = project.emls()
    raw = eml.read_bytes()
    msg = assert_one_recipient(raw, "x@example.com")
    assert longest_folded_line(raw) <= 78, "every line folds where the policy can fold"
    shown = name.strip()[:199].rstrip() + "\u2026"
    assert header_safe(name, 200) == shown and len(shown) == 200
    # (This Python's parser puts a space between the encoded words it decodes.)
    assert msg["To"].addresses[0].display_name.replace(" ", "") == shown.replace(" ", "")
    assert name.strip() in text_of(msg) and "L" * 10_000 in text_of(msg) and "L" * 10_000 in html_of(msg)


# -- SMTP, to a real server on loopback --------------------------------------------------------


@dataclass
class RawHandler(Handler):
    """The test server's handler, also keeping each message's bytes as they arrived."""

    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.content)
        return await super().handle_DATA(server, session, envelope)


HOSTILE = {
    "encoded@example.com": ENCODED,
    "bidi@example.com": "Eve\u202e\x00\x1b\x7f\x9f\u2028Bcc: z@evil.example",
    "long@example.com": "Ə" * 10_000,
    "unsub@example.com": "%anv-%anv-unsub-t%unsub-t%",
}


@pytest.mark.parametrize("domain", ["example.com", "exämple.com"], ids=["ASCII", "SMTPUTF8"])
def test_names_add_no_header_and_no_long_line_over_smtp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, domain: str
) -> None:
    """With a non-ASCII address the message goes as UTF-8 (RFC 6531, RFC 6532): headers
    are not encoded, so a 200-character name is one line, within 998 octets."""
    monkeypatch.setenv("ANNIVERSARY_SIGNING_KEY", "signing-key-for-tests-0123456789")
    people = {a.replace("example.com", domain): n for a, n in {**HOSTILE, "emoji@example.com": "😀" * 10_000}.items()}
    handler = RawHandler()
    controller = start(handler, enable_SMTPUTF8=True)
    try:
        cfg = make_config(
            tmp_path,
            f'[transport.smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"\ntimeout_seconds = 5',
            kind="smtp",
        )
        put_name_in_subject(tmp_path / "templates")
        store = Store(cfg.database_url)
        store.upsert_subscribers([SubscriberRow(a, n, "en", "UTC") for a, n in people.items()], "import", NOW)
        with SmtpTransport(cfg.transport.smtp) as transport:
            counts = Delivery(cfg, store, signer(), transport=transport).send_stage(CAMPAIGN, STAGE, YEAR, NOW).counts
    finally:
        controller.stop()
    assert counts == {"sent": 5}
    by_to = {parse(raw)["To"].addresses[0].addr_spec: raw for raw in handler.raw}
    assert sorted(by_to) == sorted(people)
    for address, raw in by_to.items():
        msg = assert_one_recipient(raw, address)
        if domain.isascii():
            assert longest_folded_line(raw) <= 78
        assert "=?" not in str(msg["To"]) + str(msg["Subject"]) and not INVISIBLE.search(str(msg["Subject"]))
        # The link only where the template put it: once in the text, once in the HTML.
        link = str(msg["List-Unsubscribe"]).split(">")[0].strip().lstrip("<")
        assert text_of(msg).count(link) == 1 and html_of(msg).count(html.escape(link)) == 1
        assert link not in str(msg["Subject"]) + str(msg["To"]) and b"%anv" not in raw
    if not domain.isascii():
        assert "😀".encode() in by_to[f"emoji@{domain}"], "headers went as UTF-8, not encoded words"
    encoded = parse(by_to[f"encoded@{domain}"])
    assert encoded["To"].addresses[0].display_name == ENCODED_SAFE
    assert str(encoded["Subject"]).startswith(f"For {ENCODED_SAFE}: ")
    bidi = parse(by_to[f"bidi@{domain}"])
    assert bidi["To"].addresses[0].display_name == "Eve Bcc: z@evil.example"
    assert "Dear Eve Bcc: z@evil.example," in text_of(bidi)


# -- SendGrid request bodies -----------------------------------------------------------------------


def as_sendgrid_would_write(body: dict[str, Any], p: dict[str, Any]) -> bytes:
    """The headers SendGrid makes from one personalization, written by this Python's
    ``email`` package: a MIME writer with CVE-2024-6923 gets what we send."""
    msg = EmailMessage(policy=email.policy.default)
    msg["From"] = Address(display_name=body["from"]["name"], addr_spec=body["from"]["email"])
    (to,) = p["to"]
    msg["To"] = Address(display_name=to.get("name", ""), addr_spec=to["email"])
    msg["Subject"] = p.get("subject", body["subject"])
    msg.set_content("-")
    return msg.as_bytes()


@pytest.mark.usefixtures("sendgrid_env")
def test_sendgrid_bodies_carry_only_header_safe_names(tmp_path: Path, sink: Any) -> None:
    cfg = make_config(tmp_path, f'[transport.sendgrid]\nhost = "{sink.url}"')
    put_name_in_subject(tmp_path / "templates")
    store = Store(cfg.database_url)
    store.upsert_subscribers([SubscriberRow(a, n, "en", "UTC") for a, n in HOSTILE.items()], "import", NOW)
    transport = SendgridTransport(cfg.transport.sendgrid)
    result = Delivery(cfg, store, signer(), transport=transport).send_stage(CAMPAIGN, STAGE, YEAR, NOW)
    assert result.counts == {"sent": 3, "failed": 1}, "10,000 Ə exceed SendGrid's 10,000 bytes of substitutions"
    assert not sink.errors, sink.errors[:3]
    people = {p["to"][0]["email"]: (s.body, p) for s in sink.seen for p in s.body["personalizations"]}
    assert sorted(people) == ["bidi@example.com", "encoded@example.com", "unsub@example.com"]
    for address, (body, p) in people.items():
        assert_one_recipient(as_sendgrid_would_write(body, p), address)
    for address in ("bidi@example.com", "encoded@example.com"):
        # The subject has the name in it, so each is filled here, never by SendGrid.
        subject = people[address][1]["subject"]
        assert "%anv" not in subject and "=?" not in subject and not INVISIBLE.search(subject)
        assert subject.endswith(": Black January: the 37th anniversary, January 20, 2027")
    body, encoded = people["encoded@example.com"]
    assert encoded["to"][0]["name"] == ENCODED_SAFE and encoded["subject"].startswith(f"For {ENCODED_SAFE}: ")
    assert encoded["substitutions"]["%anv-name-t%"] == ENCODED, "the body keeps the letters"
    assert people["bidi@example.com"][1]["to"][0]["name"] == "Eve Bcc: z@evil.example"
    # Nothing is left of a name made of placeholders: the nameless group's content.
    body, unsub = people["unsub@example.com"]
    assert unsub["to"] == [{"email": "unsub@example.com"}] and "subject" not in unsub
    assert "%anv-name-t%" not in body["subject"] + body["content"][0]["value"] and unsub["substitutions"]


# -- placeholders cannot be forged from a name ---------------------------------------------------


FORGED = "%anv-%anv-unsub-t%unsub-t%"


def test_a_forged_placeholder_prints_no_link_in_the_outbox(run: Any, project: Project) -> None:
    # x has nothing left of a name; z keeps "Ann", so its message fills the name's placeholder.
    rows = f'x@example.com,"{FORGED}",en,UTC\ny@example.com,Ana,en,UTC\nz@example.com,"Ann {FORGED}",en,UTC\n'
    assert run("subscribers", "import", str(project.write_csv(rows))).exit_code == 0
    assert run("send", CAMPAIGN, STAGE, "--year", str(YEAR), "--yes").exit_code == 0
    messages = [parse(p.read_bytes()) for p in project.emls()]
    links = {m["To"].addresses[0].addr_spec: str(m["List-Unsubscribe"]).split(">")[0].strip()[1:] for m in messages}
    for msg in messages:
        own = links[msg["To"].addresses[0].addr_spec]
        text, body = text_of(msg), html_of(msg)
        assert text.count(own) == 1 and body.count(html.escape(own)) == 1, "only where the template put it"
        assert not [v for v in links.values() if v != own and v in text + body] and "%anv" not in text + body
    by_to = {m["To"].addresses[0].addr_spec: m for m in messages}
    # Nothing of x's name is left: the greeting a nameless subscriber gets.
    assert (
        "Dear friend," in text_of(by_to["x@example.com"])
        and by_to["x@example.com"]["To"].addresses[0].display_name == ""
    )
    assert (
        "Dear Ann," in text_of(by_to["z@example.com"])
        and by_to["z@example.com"]["To"].addresses[0].display_name == "Ann"
    )


# Template pieces and name pieces made of placeholder fragments; N and L mark where a
# template prints the name and the link.
N, L = "\x01N", "\x01L"
FRAGMENTS = ["%", "%anv-", "anv-", "unsub-t%", "unsub-h%", "name-t%", "name-h%", "-t%", "%anv-unsub-t%", "%anv-name-t%",
             "%anv-unsub-h%", "%anv-name-h%", "\x00", "\u202e", " ", "Dear ", "&"]  # fmt: skip
template_st = st.lists(st.sampled_from([*FRAGMENTS, N, N, L, L, "Dear ", ", ", "\n"]), max_size=12)
name_st = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12).map("".join)
URL = "https://example.org/anniversary/unsubscribe/v1.7.tok&x=1"  # & gives the HTML part its own


def template(pieces: list[str]) -> Any:
    """``render(name, link)`` for one template: the same pieces make the subject, the
    text and the HTML part (values autoescaped there)."""

    def join(name: str, link: str) -> str:
        return "".join(name if p == N else link if p == L else p for p in pieces)

    def render(name: str, link: str) -> Rendered:
        return Rendered(join(name, link), join(name, link), join(html.escape(name), html.escape(link)), "en")

    return render


def envelope(content: Rendered) -> Outgoing:
    return Outgoing(None, "", "", "from@example.org", "Example", content, "", "leave@example.org", "", NOW,
                    CAMPAIGN, YEAR, STAGE)  # fmt: skip


@given(pieces=template_st, name=name_st)
@example(pieces=[N, "%"], name="%anv-unsub-t")
@example(pieces=["100%", N], name="anv-unsub-t%")
@example(pieces=[N, N], name="t%%anv-unsub-")
@example(pieces=["Dear ", N, ", ", L], name=FORGED)
def test_no_name_prints_the_link_where_the_template_did_not(pieces: list[str], name: str) -> None:
    """Per-message fill (outbox, SMTP) and SendGrid's substitutions, applied in every
    order, give exactly what rendering this recipient alone gives."""
    render = template(pieces)
    content = render_group(render, URL)
    expected = render(safe_name(name), URL)
    if content is None:
        return  # rendered alone: no placeholders, nothing to fill
    batch = Batch(envelope(content), [Recipient(None, "x@example.com", name, URL, "<m@example.org>")])
    (message,) = batch.messages()
    assert message.rendered == expected
    # SendGrid: the request's subject, or the personalization's own when it has the name.
    part = personalization(batch.recipients[0], ">", True, False, personal_subject(content.subject, True))
    p = json.loads(part or "")
    subs = p["substitutions"]
    for order in itertools.permutations(subs):
        subject, text, body_html = p.get("subject", header_safe(content.subject)), content.text, content.html
        for key in order:
            subject, text, body_html = (s.replace(key, subs[key]) for s in (subject, text, body_html))
        assert (text, body_html) == (expected.text, expected.html)
        assert subject == header_safe(expected.subject)
