"""The minute of silence as a calendar invitation (RFC 5545): parsed back with
``icalendar`` from what each transport carries, in every sample zone and for 2027,
2040 and 2100; the links to it in the message; and ``calendar = false``."""

from __future__ import annotations

import base64
import email
import email.policy
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import Project
from icalendar import Calendar
from sg_sink import Sink
from sg_world import make_config, make_store, signer

from scheduler.config import Config, load_config
from scheduler.content.calendar import google_calendar_url, invitation
from scheduler.content.compose import Composer, Person
from scheduler.content.groups import group_key
from scheduler.content.links import Signer
from scheduler.content.templates import SubscriberView, build_context
from scheduler.delivery.runs import Delivery
from scheduler.transports.outbox import OutboxTransport
from scheduler.transports.sendgrid import SendgridTransport

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)

#: 12:00 in Baku (UTC+4 all year) on 20 January, and what each sample zone's clock shows
LOCAL = {
    "America/Los_Angeles": (20, 0, 0),  # midnight: 00:00 PST on the 20th
    "Europe/Berlin": (20, 9, 0),
    "Asia/Baku": (20, 12, 0),
    "Australia/Sydney": (20, 19, 0),  # summer time, UTC+11
    "Pacific/Kiritimati": (20, 22, 0),  # UTC+14
}


def _parse(text: str) -> Calendar:
    return Calendar.from_ical(text)


def _event(cal: Calendar) -> object:
    (event,) = cal.walk("VEVENT")
    return event


def _composer(config: Config) -> Composer:
    return Composer(config, Signer.ephemeral())


@pytest.mark.parametrize("year", [2027, 2040, 2100])
@pytest.mark.parametrize("zone", sorted(LOCAL))
def test_the_moment_is_the_silence_in_utc_for_every_sample_zone(project: Project, zone: str, year: int) -> None:
    config = load_config(project.config)
    campaign = config.campaign[0]
    stage = campaign.get_stage("day-of")
    composer = _composer(config)
    people = [Person(None, "a@example.com", "Ana", "az", zone)]
    composed = composer.compose(campaign, stage, year, NOW, group_key("az", zone, "Ana"), people, is_test=True)
    calendar = composed.batches[0].envelope.calendar
    assert calendar is not None
    event = _event(_parse(calendar.text))
    start = event["DTSTART"].dt  # type: ignore[index]
    assert calendar.text.count(f"DTSTART:{year}0120T080000Z\r\n") == 1
    assert start == datetime(year, 1, 20, 8, 0, tzinfo=UTC)
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
    assert event["DTEND"].dt - start == timedelta(minutes=1)  # type: ignore[index]
    day, hour, minute = LOCAL[zone]
    local = start.astimezone(ZoneInfo(zone))
    assert (local.month, local.day, local.hour, local.minute) == (1, day, hour, minute)
    # The same moment the message's own text names for that zone.
    ctx = build_context(config, campaign, stage, year, SubscriberView("Ana", "az", zone), "https://x")
    assert ctx["silence"]["local"] == local


def test_an_event_on_29_february_in_a_zone_with_summer_time(project: Project) -> None:
    project.edit_config("event_date = 1990-01-20", "event_date = 1992-02-29")
    project.edit_config('timezone = "Asia/Baku"', 'timezone = "America/New_York"')
    config = load_config(project.config)
    campaign = config.campaign[0]
    # Kept on 28 February in common years (README: Time); EST is UTC-5.
    assert invitation(config, campaign, 2027, "en").start == datetime(2027, 2, 28, 17, 0, tzinfo=UTC)
    assert invitation(config, campaign, 2028, "en").start == datetime(2028, 2, 29, 17, 0, tzinfo=UTC)
    project.edit_config("event_date = 1992-02-29", "event_date = 1992-07-04")
    summer = load_config(project.config)
    # EDT, UTC-4.
    assert invitation(summer, summer.campaign[0], 2027, "en").start == datetime(2027, 7, 4, 16, 0, tzinfo=UTC)


def test_publish_without_attendees_an_alarm_five_minutes_before_and_the_words_of_each_language(
    project: Project,
) -> None:
    config = load_config(project.config)
    campaign = config.campaign[0]
    expected = {
        "en": ("Black January: a minute of silence", "The 37th anniversary of Black January."),
        "az": ("Qara Yanvar: bir dəqiqəlik sükut", "Qara Yanvar faciəsinin 37-ci ildönümü."),
        "ru": ("Чёрный январь: минута молчания", "Чёрный январь: 37-я годовщина."),
        "tr": ("Kara Ocak: bir dakikalık saygı duruşu", "Kara Ocak, 37'nci yıl dönümü."),
    }
    for language, (summary, opening) in expected.items():
        cal = _parse(invitation(config, campaign, 2027, language).to_ical())
        assert cal["METHOD"] == "PUBLISH"
        assert cal["VERSION"] == "2.0"
        event = _event(cal)
        # Nobody is asked to reply (no ATTENDEE); PUBLISH names its ORGANIZER, the sender.
        assert "ATTENDEE" not in event  # type: ignore[operator]
        assert event["ORGANIZER"] == "mailto:commemorations@example.org"  # type: ignore[index]
        assert event["ORGANIZER"].params["CN"] == "Example Network"  # type: ignore[index]
        assert event["SUMMARY"] == summary  # type: ignore[index]
        assert str(event["DESCRIPTION"]).startswith(opening)  # type: ignore[index]
        (alarm,) = cal.walk("VALARM")
        assert alarm["ACTION"] == "DISPLAY"
        assert alarm["TRIGGER"].dt == timedelta(minutes=-5)
        assert alarm["DESCRIPTION"] == summary


def test_the_uid_and_the_whole_invitation_are_the_same_in_another_process(project: Project) -> None:
    program = (
        "import sys; from scheduler.config import load_config; from scheduler.content.calendar import invitation; "
        "c = load_config(sys.argv[1]); sys.stdout.write(invitation(c, c.campaign[0], 2027, 'ru').to_ical())"
    )
    runs = [
        subprocess.run([sys.executable, "-c", program, str(project.config)], capture_output=True, check=True).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    event = _event(_parse(runs[0].decode("utf-8")))
    assert event["UID"] == "black-january-2027@example.org"  # type: ignore[index]
    # DTSTAMP is derived from the event, never the clock: 367 days before it.
    assert event["DTSTAMP"].dt == datetime(2026, 1, 18, 8, 0, tzinfo=UTC)  # type: ignore[index]
    config = load_config(project.config)
    assert invitation(config, config.campaign[0], 2040, "en").uid == "black-january-2040@example.org"


def test_the_outbox_eml_carries_the_invitation_and_parses_back(project: Project) -> None:
    config = load_config(project.config)
    campaign = config.campaign[0]
    stage = campaign.get_stage("reminder")
    people = [Person(7, "ana@example.com", "Ana", "ru", "Europe/Berlin")]
    composed = _composer(config).compose(campaign, stage, 2027, NOW, group_key("ru", "Europe/Berlin", "Ana"), people)
    batch = composed.batches[0].claimed({7: 42}, complete=True)
    with OutboxTransport(project.outbox) as transport:
        (result,) = transport.send_group(batch)
    assert result.state.value == "sent"
    (path,) = project.emls()
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg.get_content_type() == "multipart/mixed"
    (part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "PUBLISH"
    assert part.get_content_disposition() == "attachment"
    assert part.get_filename() == "black-january-2027.ics"
    text = part.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert text == invitation(config, campaign, 2027, "ru").to_ical()
    event = _event(_parse(text))
    assert event["SUMMARY"] == "Чёрный январь: минута молчания"  # type: ignore[index]
    # The text and HTML parts are still there, and link to the invitation.
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    plain = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    ics = "https://example.org/anniversary/calendar/black-january/2027.ics?lang=ru"
    assert ics in plain and f'href="{ics}"' in html
    assert "https://calendar.google.com/calendar/render?action=TEMPLATE&amp;text=" in html


def test_calendar_false_on_a_stage_leaves_out_the_invitation_and_its_links(project: Project) -> None:
    project.edit_config('  id = "reminder"\n', '  id = "reminder"\n  calendar = false\n')
    config = load_config(project.config)
    campaign = config.campaign[0]
    reminder, day_of = campaign.get_stage("reminder"), campaign.get_stage("day-of")
    assert (reminder.calendar, day_of.calendar) == (False, True)
    composer = _composer(config)
    people = [Person(None, "a@example.com", "", "en", "Asia/Baku")]
    key = group_key("en", "Asia/Baku", "")
    off = composer.compose(campaign, reminder, 2027, NOW, key, people, is_test=True).batches[0]
    on = composer.compose(campaign, day_of, 2027, NOW, key, people, is_test=True).batches[0]
    assert off.envelope.calendar is None and on.envelope.calendar is not None
    (message,) = off.messages()
    from scheduler.content.message import to_email_message

    assert to_email_message(message).get_content_type() == "multipart/alternative"
    assert "calendar" not in off.envelope.rendered.text and "calendar" not in off.envelope.rendered.html
    assert "Add the minute of silence to your calendar:" in on.envelope.rendered.text


def test_google_calendar_link_names_the_moment_in_utc(project: Project) -> None:
    config = load_config(project.config)
    invite = invitation(config, config.campaign[0], 2040, "en")
    assert google_calendar_url(invite) == (
        "https://calendar.google.com/calendar/render?action=TEMPLATE"
        "&text=Black%20January%3A%20a%20minute%20of%20silence"
        "&dates=20400120T080000Z/20400120T080100Z"
        "&details=The%2050th%20anniversary%20of%20Black%20January.%20One%20minute%20of%20silence%2C"
        "%20at%20the%20same%20moment%20around%20the%20world."
    )


@pytest.mark.usefixtures("sendgrid_env")
def test_sendgrid_carries_one_base64_invitation_per_request(tmp_path: Path, sink: Sink) -> None:
    cfg = make_config(tmp_path, f'batch_size = 1000\n[transport.sendgrid]\nhost = "{sink.url}"\n')
    store = make_store(cfg, 120)
    transport = SendgridTransport(cfg.transport.sendgrid)
    result = Delivery(cfg, store, signer(), transport=transport).send_stage("black-january", "reminder", 2027, NOW)
    assert result.counts == {"sent": 120}
    assert not sink.errors, sink.errors[:3]  # every body valid against SendGrid's spec
    assert len(sink.seen) == 24  # one request per content group: 4 languages x 3 zones x named or not
    campaign = cfg.campaign[0]
    for seen in sink.seen:
        (attachment,) = seen.body["attachments"]
        assert attachment["type"] == "text/calendar; method=PUBLISH; charset=utf-8"
        assert attachment["filename"] == "black-january-2027.ics"
        assert attachment["disposition"] == "attachment"
        language = seen.body["headers"]["Content-Language"]
        text = base64.b64decode(attachment["content"], validate=True).decode("utf-8")
        assert text == invitation(cfg, campaign, 2027, language).to_ical()
        assert "attachments" not in str([p.keys() for p in seen.body["personalizations"]])


def test_the_web_app_serves_the_invitation_the_message_links_to(project: Project) -> None:
    from web_helpers import make_web

    web = make_web(project)
    config = load_config(project.config)
    campaign = config.campaign[0]
    got = web.client.get(f"{web.base}/calendar/black-january/2027.ics?lang=az")
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/calendar; charset=utf-8"
    assert got.headers["content-disposition"] == 'attachment; filename="black-january-2027.ics"'
    assert got.content == invitation(config, campaign, 2027, "az").to_ical().encode("utf-8")
    # The first language by default, and for a language the campaign does not have.
    for query in ("", "?lang=xx"):
        plain = web.client.get(f"{web.base}/calendar/black-january/2040.ics{query}")
        assert _event(_parse(plain.text))["SUMMARY"] == "Black January: a minute of silence"  # type: ignore[index]
    for path in ("calendar/no-such/2027.ics", "calendar/black-january/1989.ics", "calendar/black-january/x.ics"):
        assert web.client.get(f"{web.base}/{path}").status_code == 404, path


def test_every_smtp_message_carries_the_invitation_in_its_language(tmp_path: Path) -> None:
    from smtp_server import Handler, start

    from scheduler.transports.smtp import SmtpTransport

    handler = Handler()
    controller = start(handler)
    try:
        cfg = make_config(
            tmp_path,
            f'batch_size = 10\n[transport.smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"\n',
            kind="smtp",
        )
        store = make_store(cfg, 12)
        with SmtpTransport(cfg.transport.smtp) as transport:
            result = Delivery(cfg, store, signer(), transport=transport).send_stage(
                "black-january", "day-of", 2027, NOW
            )
    finally:
        controller.stop()
    assert result.counts == {"sent": 12}
    assert len(handler.received) == 12
    for msg in handler.received:
        (part,) = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
        language = msg["Content-Language"]
        text = part.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
        assert text == invitation(cfg, cfg.campaign[0], 2027, language).to_ical()
        assert part.get_param("method") == "PUBLISH"
