"""A personalization written as JSON text parses back to exactly the object SendGrid
should see, whatever the name, address or link holds."""

from __future__ import annotations

import html
import json

from hypothesis import given
from hypothesis import strategies as st

from scheduler.content.groups import NAME_HTML, NAME_TEXT, UNSUB_HTML, UNSUB_TEXT, Recipient, safe_name
from scheduler.transports.sendgrid_json import MAX_PERSONAL_BYTES, personalization

TAIL = ">, <mailto:leave@example.org?subject=unsubscribe>"
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


def expected(r: Recipient, personal: bool, is_test: bool) -> dict[str, object]:
    name = safe_name(r.name)
    to: dict[str, str] = {"email": r.email, "name": name} if name else {"email": r.email}
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
    name=text,
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
