"""The statement for the record's use cases on a real SQLite file: letters captured by
the outbox transport and by a real aiosmtpd server and parsed back, every kind of bad
input refused with nothing sent, one letter per campaign year, the link's lifetime."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import Project
from smtp_server import Handler, start

from scheduler.config import load_config
from scheduler.content.tokens import BadToken
from scheduler.lifecycle import InvalidInput, Lifecycle, Replayed, privacy
from scheduler.lifecycle.action import Actions, LetterForm, LinkExpired

NOW = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
CAMPAIGN = "black-january"
ADDRESS = "12 Main St, Austin, TX 78701, USA"
TX = ["rep.one@example.org", "sen.two@example.org"]


def _mails(root: Path) -> list[EmailMessage]:
    paths = sorted(root.rglob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in paths]  # type: ignore[misc]


def _text(msg: EmailMessage) -> str:
    # SMTP delivers CRLF line endings; the outbox keeps the message's own LF.
    return msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]


def subscriber(lc: Lifecycle, address: str, *, name: str = "Leyla Aliyeva", language: str = "en") -> int:
    person = {"email": address, "name": name, "language": language, "timezone": "America/Chicago"}
    sid = lc.store.signup(person, {}, NOW).subscriber_id
    lc.store.confirm(sid, None, [], NOW)
    return sid


class World:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.lc = Lifecycle.open(load_config(project.config))
        self.actions = Actions(self.lc)

    def token(self, sid: int, year: int = 2027) -> str:
        return self.lc.keyring.action(sid, CAMPAIGN, year)

    def submit(self, token: str, now: datetime = NOW, **fields: str):  # type: ignore[no-untyped-def]
        form = {"region": "US-TX", "name": "Leyla Aliyeva", "address": ADDRESS, **fields}
        view = self.actions.view(token, now)
        letter = fields.get("letter", view.letter)
        csrf = self.actions.form_token(token, now)
        return self.actions.submit(
            token, LetterForm(form["region"], form["name"], form["address"], letter), csrf, token, now
        )


@pytest.fixture
def world(project: Project) -> World:
    return World(project)


def test_the_letter_goes_to_each_target_of_the_region_from_us_with_reply_to_the_subscriber(
    world: World, project: Project
) -> None:
    sid = subscriber(world.lc, "leyla@example.com")
    view, new = world.submit(world.token(sid))
    assert new and view.count == 1 and view.sent is not None
    assert [d["state"] for d in view.sent["deliveries"]] == ["sent", "sent"]
    mails = _mails(project.outbox)
    to_targets = [m for m in mails if m["To"].addresses[0].addr_spec in TX]
    assert sorted(m["To"].addresses[0].addr_spec for m in to_targets) == TX
    for m in to_targets:
        assert m["From"] == "Example Network <commemorations@example.org>"
        assert m["Reply-To"] == "leyla@example.com"
        assert m["Auto-Submitted"] == "no"
        assert m["Subject"] == (
            "Request for a statement for the record: the 37th anniversary of Black January, January 20, 2027"
        )
        body = _text(m)
        assert body.startswith("Dear Representative,\n")
        assert "On Wednesday, January 20, 2027, we mark the 37th anniversary" in body
        assert f"Respectfully,\n\nLeyla Aliyeva\n{ADDRESS}\n\n-- \nSent on behalf of Leyla Aliyeva" in body
    (copy,) = [m for m in mails if m["To"].addresses[0].addr_spec == "leyla@example.com"]
    assert copy["Subject"].startswith("Your letter: Request for a statement for the record")
    assert copy["Auto-Submitted"] == "auto-generated"
    assert _text(copy).startswith(
        "This is a copy of the letter sent in your name to: Sample Legislator One (example),"
        " Sample Legislator Two (example).\n\nDear Representative,"
    )
    assert copy["List-Unsubscribe"].strip().startswith(f"<https://example.org/anniversary/unsubscribe/v1.{sid}.")
    assert world.lc.store.subscriber(sid)["region"] == "US-TX"  # type: ignore[index]


def test_the_number_and_date_are_the_token_years(world: World, project: Project) -> None:
    sid = subscriber(world.lc, "leyla@example.com", language="az")
    now = datetime(2029, 6, 1, tzinfo=UTC)
    view = world.actions.view(world.token(sid, 2030), now)
    assert view.language == "az"
    assert view.subject == "Rəsmi bəyanat üçün müraciət: Qara Yanvar faciəsinin 40-cı ildönümü, 20 yanvar 2030"
    world.submit(world.token(sid, 2030), now)
    target = next(m for m in _mails(project.outbox) if m["To"].addresses[0].addr_spec == TX[0])
    assert "20 yanvar 2030 tarixində 1990-cı il yanvarın 19-dan 20-nə keçən gecənin 40-cı ildönümüdür" in _text(target)


def test_an_edited_letter_keeps_its_line_breaks_and_goes_as_written(world: World, project: Project) -> None:
    sid = subscriber(world.lc, "leyla@example.com")
    world.submit(world.token(sid), letter="Dear Senator,\r\n\r\nPlease remember them.\r\nThank you.")
    target = next(m for m in _mails(project.outbox) if m["To"].addresses[0].addr_spec == TX[0])
    assert _text(target).startswith(f"Dear Senator,\n\nPlease remember them.\nThank you.\n\nLeyla Aliyeva\n{ADDRESS}\n")


def test_a_locked_letter_goes_as_the_templates_wrote_it(world: World, project: Project) -> None:
    project.edit_config("locked = false", "locked = true")
    world = World(project)
    sid = subscriber(world.lc, "leyla@example.com")
    world.submit(world.token(sid), letter="Something else entirely")
    target = next(m for m in _mails(project.outbox) if m["To"].addresses[0].addr_spec == TX[0])
    assert _text(target).startswith("Dear Representative,\n\nAs your constituent")


def test_a_second_submission_sends_nothing_and_shows_the_first(world: World, project: Project) -> None:
    sid = subscriber(world.lc, "leyla@example.com")
    world.submit(world.token(sid))
    sent = len(_mails(project.outbox))
    view, new = world.submit(world.token(sid), region="US-NY", letter="Another letter")
    assert not new and view.count == 1
    assert view.sent is not None and view.sent["region"] == "US-TX"
    assert [d["target_email"] for d in view.sent["deliveries"]] == TX
    assert len(_mails(project.outbox)) == sent == 3


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"letter": "   \n "}, "letter", "required"),
        ({"letter": "x" * 5001}, "letter", "too_long"),
        ({"name": ""}, "name", "required"),
        ({"address": "  "}, "address", "required"),
        ({"region": "DE-BY"}, "region", "no_target"),
        ({"region": ""}, "region", "required"),
        ({"region": "Texas"}, "region", "region"),
        ({"name": "<b>Leyla</b>"}, "name", "markup"),
        ({"address": "1 Main <script>"}, "address", "markup"),
        ({"letter": "Dear <a href=x>Senator</a>"}, "letter", "markup"),
        ({"region": "US-TX<"}, "region", "markup"),
        ({"name": "Leyla\r\nBcc: everyone@example.net"}, "name", "line_breaks"),
        ({"address": "1 Main St\nAustin"}, "address", "line_breaks"),
        ({"region": "US\r\nTX"}, "region", "line_breaks"),
        ({"letter": "Dear Senator,\x1b[2J"}, "letter", "control"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_sent(
    world: World, project: Project, fields: dict[str, str], field: str, code: str
) -> None:
    sid = subscriber(world.lc, "leyla@example.com")
    with pytest.raises(InvalidInput) as refused:
        world.submit(world.token(sid), **fields)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert _mails(project.outbox) == []
    assert world.lc.store.letter_of(CAMPAIGN, 2027, sid) is None


def test_a_5000_character_letter_is_accepted(world: World) -> None:
    sid = subscriber(world.lc, "leyla@example.com")
    _, new = world.submit(world.token(sid), letter="a" * 5000)
    assert new


def test_a_replayed_form_is_refused_and_sends_nothing_more(world: World, project: Project) -> None:
    sid = subscriber(world.lc, "leyla@example.com")
    token = world.token(sid)
    csrf = world.actions.form_token(token, NOW)
    form = LetterForm("US-TX", "Leyla", ADDRESS, "Dear Senator")
    with pytest.raises(InvalidInput):
        world.actions.submit(token, LetterForm("US-TX", "", ADDRESS, "Dear Senator"), csrf, token, NOW)
    with pytest.raises(Replayed):
        world.actions.submit(token, form, csrf, token, NOW)
    assert _mails(project.outbox) == []


def test_the_link_works_until_the_event_date_of_the_following_year(world: World) -> None:
    sid = subscriber(world.lc, "leyla@example.com")
    token = world.token(sid)
    # 20 January 2028 begins in Baku (UTC+4) at 20:00 UTC on the 19th.
    assert world.actions.view(token, datetime(2028, 1, 19, 19, 59, 59, tzinfo=UTC)).year == 2027
    with pytest.raises(LinkExpired, match="black-january 2027 action link expired at 2028-01-19 20:00 UTC"):
        world.actions.view(token, datetime(2028, 1, 19, 20, 0, tzinfo=UTC))


def test_a_forged_or_other_purpose_token_opens_nothing(world: World) -> None:
    sid = subscriber(world.lc, "leyla@example.com")
    token = world.token(sid)
    for bad in (token[:-2] + "xx", world.lc.keyring.unsubscribe(sid), token.replace(f"a1.{sid}.", f"a1.{sid + 1}.")):
        with pytest.raises(BadToken):
            world.actions.view(bad, NOW)


def test_the_preferences_page_links_the_coming_years_action(world: World) -> None:
    sid = subscriber(world.lc, "leyla@example.com")
    ((title, url),) = world.lc.actions_for(sid, NOW)
    assert (title, url) == ("Black January", f"https://example.org/anniversary/action/{world.token(sid)}")


def test_letters_over_real_smtp_parse_back_with_the_right_headers(project: Project) -> None:
    handler = Handler()
    controller = start(handler)
    try:
        project.edit_config('kind = "outbox"', 'kind = "smtp"')
        project.edit_config(
            'outbox_dir = "outbox"',
            f'outbox_dir = "outbox"\n[transport.smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"',
        )
        world = World(project)
        sid = subscriber(world.lc, "eve@example.com", name="Eve")
        view, _ = world.submit(world.token(sid), name="Eve =?utf-8?q?=0D=0ABcc:_x@evil.example?=", region="US-NY")
    finally:
        controller.stop()
    assert view.sent is not None and [d["state"] for d in view.sent["deliveries"]] == ["sent", "sent"]
    by_rcpt = {rcpts[0]: msg for (_, rcpts), msg in zip(handler.envelopes, handler.received, strict=True)}
    assert sorted(by_rcpt) == ["eve@example.com", "member.three@example.org", "sen.four@example.org"]
    for address in ("member.three@example.org", "sen.four@example.org"):
        msg = by_rcpt[address]
        assert msg["Reply-To"] == "eve@example.com"
        assert msg["To"].addresses[0].addr_spec == address
        assert msg["Bcc"] is None and msg["Cc"] is None
        assert "the 37th anniversary of Black January, January 20, 2027" in msg["Subject"]
        assert re.search(r"\nEve =\?utf-8\?q\?=0D=0ABcc:_x@evil.example\?=\n12 Main St", _text(msg))


def test_status_counts_the_years_letters(world: World, run) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        world.submit(world.token(subscriber(world.lc, f"w{i}@example.com")))
    result = run("status", "--year", "2027")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == (
        "black-january 2027 letters: 3 written; to targets: 6 sent, 0 queued, 0 sending, 0 failed"
    )
    assert run("status", "--year", "2028").stdout.splitlines()[-1] == (
        "black-january 2028 letters: 0 written; to targets: 0 sent, 0 queued, 0 sending, 0 failed"
    )


def test_show_lists_the_letters_and_forget_erases_their_words_keeping_the_count(world: World) -> None:
    sid = subscriber(world.lc, "leyla@example.com")
    world.submit(world.token(sid))
    shown = json.loads(privacy.show(world.lc.store, "leyla@example.com") or "{}")
    (letter,) = shown["letters"]
    assert (letter["name"], letter["address"], letter["region"]) == ("Leyla Aliyeva", ADDRESS, "US-TX")
    assert [d["target_email"] for d in letter["deliveries"]] == [*TX, ""]  # the copy: their own address
    assert privacy.forget(world.lc.config, world.lc.store, "leyla@example.com", NOW)
    (row,) = world.lc.store.letters_of(sid)
    assert (row["name"], row["address"], row["text"], row["subject"]) == ("", "", "", "")
    assert [d["target_email"] for d in row["deliveries"]] == [*TX, ""]
    assert world.lc.store.letters_count(CAMPAIGN, 2027) == 1
