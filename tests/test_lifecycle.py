"""The subscriber lifecycle's use cases on a real SQLite file with the outbox transport:
sign-up, confirmation, one-click unsubscribe, preferences, purge, privacy."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Project

from scheduler.config import load_config
from scheduler.content.tokens import BadToken
from scheduler.core.outcomes import Status
from scheduler.lifecycle import (
    InvalidInput,
    Lifecycle,
    RateLimited,
    Replayed,
    SignupRequest,
    UnknownSubscriber,
    privacy,
)

NOW = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def lc(project: Project) -> Lifecycle:
    return Lifecycle.open(load_config(project.config))


def _mails(project: Project) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(project.outbox.rglob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    ]


def _link(msg: email.message.EmailMessage, kind: str) -> str:
    text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    (url,) = re.findall(rf"https://example\.org/anniversary/{kind}/(\S+)", text)[:1]
    return url


def _sign_up(lc: Lifecycle, address: str = "leyla@example.org", now: datetime = NOW, **kw: str) -> None:
    fields = {"name": "Leyla", "language": "az", "timezone": "Asia/Baku", **kw}
    lc.sign_up(
        SignupRequest(address, ip="192.0.2.1", user_agent="UA", page_url="https://x/subscribe", wording="w1", **fields),
        now,
    )


def test_sign_up_is_pending_until_the_button_confirms(lc: Lifecycle, project: Project) -> None:
    _sign_up(lc)
    row = lc.store.get_subscriber("leyla@example.org")
    assert row is not None and row["status"] == "pending"
    assert (row["consent_ip"], row["consent_user_agent"], row["consent_wording"]) == ("192.0.2.1", "UA", "w1")
    (mail,) = _mails(project)
    assert mail["To"] == "Leyla <leyla@example.org>"
    assert mail["Subject"] == "Example Network abunəliyinizi təsdiqləyin"
    token = _link(mail, "confirm")
    assert lc.confirmation(token, NOW).status is Status.PENDING  # opening the link confirms nothing
    assert lc.confirm(token, "198.51.100.7", NOW + timedelta(hours=1)).status is Status.ACTIVE
    row = lc.store.get_subscriber("leyla@example.org")
    assert row is not None and row["confirmed_ip"] == "198.51.100.7"


def test_a_confirmation_link_expires_after_the_configured_hours(lc: Lifecycle, project: Project) -> None:
    _sign_up(lc)
    token = _link(_mails(project)[0], "confirm")
    with pytest.raises(BadToken) as expired:
        lc.confirm(token, None, NOW + timedelta(hours=72))
    assert expired.value.expired


def test_signing_up_twice_sends_an_active_subscriber_one_notice_a_day(lc: Lifecycle, project: Project) -> None:
    _sign_up(lc)
    lc.confirm(_link(_mails(project)[0], "confirm"), None, NOW)
    _sign_up(lc, now=NOW + timedelta(minutes=1))
    _sign_up(lc, now=NOW + timedelta(minutes=2))
    subjects = [m["Subject"] for m in _mails(project)]
    assert subjects == ["Example Network abunəliyinizi təsdiqləyin", "Siz artıq Example Network abunəçisisiniz"]


def test_sign_ups_per_address_are_limited(lc: Lifecycle) -> None:
    for minute in range(3):
        _sign_up(lc, now=NOW + timedelta(minutes=minute))
    with pytest.raises(RateLimited) as limited:
        _sign_up(lc, now=NOW + timedelta(minutes=3))
    assert limited.value.retry_after == 57 * 60 + 1


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "<script>alert(1)</script>", "markup"),
        ("name", "Leyla\r\nBcc: x@example.org", "line_breaks"),
        ("name", "x" * 10_000, "too_long"),
        ("timezone", "Mars/Olympus", "timezone"),
        ("language", "xx", "language"),
    ],
)
def test_hostile_fields_are_refused_with_their_reason(lc: Lifecycle, field: str, value: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _sign_up(lc, **{field: value})
    assert (refused.value.field, refused.value.code) == (field, code)
    assert lc.store.get_subscriber("leyla@example.org") is None


def test_one_click_unsubscribe_then_resubscribe_needs_a_new_confirmation(lc: Lifecycle, project: Project) -> None:
    _sign_up(lc)
    lc.confirm(_link(_mails(project)[0], "confirm"), None, NOW)
    sid = lc.store.subscriber_id_for("leyla@example.org")
    assert sid is not None
    token = lc.keyring.unsubscribe(sid)
    assert lc.unsubscribe(token, NOW).status is Status.UNSUBSCRIBED
    assert lc.unsubscribe(token, NOW).status is Status.UNSUBSCRIBED
    lc.resubscribe(token, ip=None, user_agent=None, page_url=None, wording="w1", now=NOW + timedelta(hours=2))
    assert lc.profile(token).status is Status.UNSUBSCRIBED  # not before the new confirmation
    confirm = _link(_mails(project)[-1], "confirm")
    assert lc.confirm(confirm, None, NOW + timedelta(hours=3)).status is Status.ACTIVE


def test_a_token_for_one_purpose_never_opens_another(lc: Lifecycle, project: Project) -> None:
    _sign_up(lc)
    confirm = _link(_mails(project)[0], "confirm")
    sid = lc.store.subscriber_id_for("leyla@example.org")
    assert sid is not None
    with pytest.raises(BadToken):
        lc.unsubscribe(confirm, NOW)
    with pytest.raises(BadToken):
        lc.confirm(lc.keyring.unsubscribe(sid), None, NOW)


def test_a_form_token_is_good_once(lc: Lifecycle) -> None:
    token = lc.form_token("subscribe", "", NOW)
    lc.use_form(token, "subscribe", "", NOW + timedelta(minutes=5))
    with pytest.raises(Replayed):
        lc.use_form(token, "subscribe", "", NOW + timedelta(minutes=6))
    with pytest.raises(BadToken):
        lc.use_form(lc.form_token("subscribe", "", NOW), "preferences", "", NOW)
    with pytest.raises(BadToken) as old:
        lc.use_form(lc.form_token("subscribe", "", NOW), "subscribe", "", NOW + timedelta(hours=3))
    assert old.value.expired


def test_preferences_change_language_zone_and_region(lc: Lifecycle, project: Project) -> None:
    _sign_up(lc)
    sid = lc.store.subscriber_id_for("leyla@example.org")
    assert sid is not None
    got = lc.update_preferences(
        lc.keyring.unsubscribe(sid), language="en", timezone="America/New_York", region="us-ny", now=NOW
    )
    assert (got.language, got.timezone, got.region) == ("en", "America/New_York", "US-NY")
    with pytest.raises(InvalidInput):
        lc.update_preferences(lc.keyring.unsubscribe(sid), language="en", timezone="UTC", region="Texas", now=NOW)


def test_unconfirmed_sign_ups_are_purged_after_the_configured_days(lc: Lifecycle) -> None:
    _sign_up(lc)
    assert lc.purge(NOW + timedelta(days=6)) == 0
    assert lc.purge(NOW + timedelta(days=7, seconds=1)) == 1
    assert lc.store.get_subscriber("leyla@example.org") is None


def test_forget_keeps_the_ledger_anonymous_and_the_address_suppressed(lc: Lifecycle, project: Project) -> None:
    _sign_up(lc)
    lc.confirm(_link(_mails(project)[0], "confirm"), None, NOW)
    shown = json.loads(privacy.show(lc.store, "Leyla@Example.org") or "{}")
    assert shown["profile"]["email"] == "leyla@example.org" and shown["profile"]["consent_ip"] == "192.0.2.1"
    assert privacy.forget(lc.config, lc.store, "leyla@example.org", NOW)
    assert privacy.show(lc.store, "leyla@example.org") is None
    assert lc.store.count_subscribers() == {"forgotten": 1}
    hashes = lc.keyring.email_hashes("leyla@example.org")
    assert lc.store.suppressed(hashes) == {hashes[0]}


def test_a_forged_link_names_nobody(lc: Lifecycle) -> None:
    with pytest.raises(BadToken):
        lc.profile("v1.1.AAAAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(UnknownSubscriber):
        lc.profile(lc.keyring.unsubscribe(999))


def test_the_previous_key_still_opens_links_after_a_rotation(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import SIGNING_KEY

    old = Lifecycle.open(load_config(project.config))
    _sign_up(old)
    sid = old.store.subscriber_id_for("leyla@example.org")
    assert sid is not None
    link = old.keyring.unsubscribe(sid)
    monkeypatch.setenv("ANNIVERSARY_SIGNING_KEY", "a-new-key-after-rotation-0123456789-XYZ")
    monkeypatch.setenv("ANNIVERSARY_PREVIOUS_SIGNING_KEYS", SIGNING_KEY)
    new = Lifecycle.open(load_config(project.config))
    assert new.profile(link).subscriber_id == sid
    assert new.keyring.unsubscribe(sid) != link
    monkeypatch.delenv("ANNIVERSARY_PREVIOUS_SIGNING_KEYS")
    with pytest.raises(BadToken):
        Lifecycle.open(load_config(project.config)).profile(link)


def test_language_for_reads_accept_language_quality(lc: Lifecycle) -> None:
    assert lc.language_for("de-DE, ru;q=0.8, az;q=0.9", None) == "az"
    assert lc.language_for("de-DE", None) == "en"
    assert lc.language_for("ru", "tr") == "tr"
    assert lc.language_for("q=;;,,", None) == "en"
