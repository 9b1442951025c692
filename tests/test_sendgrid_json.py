"""A personalization written as JSON text parses back to exactly the object SendGrid
should see, whatever the name, address or link holds."""

from __future__ import annotations

import html
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from scheduler.content.groups import NAME_HTML, NAME_TEXT, UNSUB_HTML, UNSUB_TEXT, Recipient, safe_name
from scheduler.core.values import header_safe
from scheduler.transports.sendgrid_json import MAX_PERSONAL_BYTES, personalization

TAIL = ">, <mailto:leave@example.org?subject=unsubscribe>"
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
# Names that reach the header rules: encoded-word syntax, controls, bidi, long runs.
hostile = st.lists(
    st.sampled_from(["=?", "?=", "=", "?", "utf-8", "q", "=0D=0A", "Bcc:", " ", "\r\n", "\x00", "\x1b", "\u202e", "Ə"]),
    max_size=30,
).map("".join) | st.text(max_size=10).map(lambda t: t * 40)


def expected(r: Recipient, personal: bool, is_test: bool) -> dict[str, object]:
    name = safe_name(r.name)
    # The To header's name is header-safe (no encoded word, at most 200 characters);
    # the substitutions keep the name's letters for the text and HTML parts.
    to_name = header_safe(name, 200)
    to: dict[str, str] = {"email": r.email, "name": to_name} if to_name else {"email": r.email}
    tag = str(r.subscriber_id) if r.subscriber_id is not None else ("test" if is_test else "none")
    out: dict[str, object] = {
        "to": [to],
        "headers": {
            "List-Unsubscribe": f"<{r.unsubscribe_url}{TAIL}",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "custom_args": {"subscriber": tag},
    }
    if personal:
        subs = {NAME_TEXT: name, NAME_HTML: html.escape(name), UNSUB_TEXT: r.unsubscribe_url}
        if html.escape(r.unsubscribe_url) != r.unsubscribe_url:
            subs[UNSUB_HTML] = html.escape(r.unsubscribe_url)
        out["substitutions"] = subs
    return out


@given(
    email=text,
    name=text | hostile,
    url=text,
    subscriber=st.one_of(st.none(), st.integers(1, 10**12)),
    personal=st.booleans(),
    is_test=st.booleans(),
)
def test_personalization_round_trips(
    email: str, name: str, url: str, subscriber: int | None, personal: bool, is_test: bool
) -> None:
    r = Recipient(7, email, name, url, None, False, subscriber)
    part = personalization(r, TAIL, personal, is_test)
    assert part is not None
    assert part.isascii(), "ensure_ascii: characters and bytes count the same"
    assert json.loads(part) == expected(r, personal, is_test)


def test_a_personalization_over_the_limit_is_refused() -> None:
    r = Recipient(7, "a@example.org", "N" * (MAX_PERSONAL_BYTES // 2), "https://x.example/u/1", None, False, 1)
    assert personalization(r, TAIL, True, False) is None
    assert personalization(r, TAIL, False, False) is not None, "without substitutions there is nothing to limit"


def test_an_encoded_body_prints_as_its_size_not_its_content() -> None:
    """python-http-client formats the body into a DEBUG string even with DEBUG off; the
    encoded body gives it its size instead of every recipient's address."""
    from scheduler.transports.sendgrid import JsonBody

    body = JsonBody('{"personalizations":[{"to":[{"email":"ada@example.org"}]}]}')
    data = body.encode("utf-8")
    assert data == str(body).encode("utf-8") and isinstance(data, bytes)
    # .format(), exactly as the client does it
    for shown in ("PAYLOAD: {data}".format(data=data), str(data), repr(data), f"{data}"):  # noqa: UP032
        assert "ada@example.org" not in shown and f"{len(data)} bytes" in shown


ENCODED = "=?utf-8?q?Eve=0D=0ABcc=3A_z=40evil.example?="


def test_the_to_name_cannot_start_an_encoded_word() -> None:
    r = Recipient(7, "x@example.com", ENCODED, "https://x.example/u/1", None, False, 1)
    p = json.loads(personalization(r, TAIL, True, False) or "")
    assert p["to"] == [{"email": "x@example.com", "name": "= ?utf-8?q?Eve=0D=0ABcc=3A_z=40evil.example?="}]
    # The body keeps the name's letters; only headers break the encoded word.
    assert p["substitutions"][NAME_TEXT] == ENCODED
    assert "subject" not in p, "a subject without placeholders is the request's, shared"


def test_a_long_name_is_cut_in_the_to_header_only() -> None:
    r = Recipient(7, "x@example.com", "Ana " * 1000, "https://x.example/u/1", None, False, 1)
    p = json.loads(personalization(r, TAIL, True, False) or "")
    assert p["to"][0]["name"] == "Ana " * 49 + "Ana\u2026" and len(p["to"][0]["name"]) == 200
    assert p["substitutions"][NAME_TEXT] == ("Ana " * 1000).strip()


@given(name=text | hostile, before=st.sampled_from(["", "=", "News ="]), after=st.sampled_from(["", "?", "?= x"]))
def test_a_subject_with_the_name_is_filled_here_and_header_safe(name: str, before: str, after: str) -> None:
    """The name joined to the template's text must not make an encoded word either."""
    url = "https://x.example/u/1"
    r = Recipient(7, "x@example.com", name, url, None, False, 1)
    subject = f"{before}{NAME_TEXT}{after} {UNSUB_TEXT}"
    p = json.loads(personalization(r, TAIL, True, False, subject) or "")
    assert p["subject"] == header_safe(f"{before}{safe_name(name)}{after} {url}")
    assert "=?" not in p["subject"] and "%anv-" not in p["subject"]
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]", p["subject"])
