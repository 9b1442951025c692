"""The minute of silence as a calendar invitation (RFC 5545), and the two links that
put it in a calendar for mail clients that do not show attachments (README: Templates).

One invitation per campaign year and language: the silence is one moment everywhere,
so the event is written in UTC (RFC 5545 section 3.3.5, form #2) and each calendar
shows it on its own clock. ``METHOD:PUBLISH`` with no ATTENDEE (RFC 5546
section 3.2.1): nothing asks the subscriber to reply, so no replies come back; the
ORGANIZER that PUBLISH requires is the sender. The UID
is the same for a campaign year on every render, so importing it twice updates the
event rather than adding a second one (RFC 5545 section 3.8.4.7).

Nothing here reads the clock: DTSTAMP is derived from the event (see :func:`dtstamp`),
so rendering the same invitation twice gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from icalendar import Alarm, Calendar, Event, vCalAddress

from scheduler.config import CampaignConfig, Config
from scheduler.core import numbers
from scheduler.core.dates import anniversary_number, silence_moment

PRODID = "-//anniversary-scheduler//Calendar invitation//EN"
#: a minute of silence lasts a minute
DURATION = timedelta(minutes=1)
#: the reminder the calendar shows before it (VALARM, RFC 5545 section 3.6.6)
ALARM_BEFORE = timedelta(minutes=5)

# Short, plain words per language: the summary a calendar lists, and the description.
# {title} is the campaign's title in that language, {ordinal} the anniversary's
# ordinal as the templates' ``ordinal`` filter writes it (37th, 37-ci, 37-я, 37'nci).
_WORDS: dict[str, tuple[str, str]] = {
    "en": (
        "{title}: a minute of silence",
        "The {ordinal} anniversary of {title}. One minute of silence, at the same moment around the world.",
    ),
    "az": (
        "{title}: bir dəqiqəlik sükut",
        "{title} faciəsinin {ordinal} ildönümü. Dünyanın hər yerində eyni anda bir dəqiqəlik sükut.",
    ),
    "ru": (
        "{title}: минута молчания",
        "{title}: {ordinal} годовщина. Минута молчания в один и тот же момент по всему миру.",
    ),
    "tr": (
        "{title}: bir dakikalık saygı duruşu",
        "{title}, {ordinal} yıl dönümü. Dünyanın her yerinde aynı anda bir dakikalık saygı duruşu.",
    ),
}


@dataclass(frozen=True)
class Invitation:
    """One campaign year's minute of silence in one language: what the invitation, the
    Google Calendar link and the ``.ics`` the web app serves all say."""

    campaign: str
    year: int
    language: str
    uid: str
    start: datetime
    summary: str
    description: str
    #: where the web app serves it (:func:`calendar_url`)
    url: str
    #: the sender, as ORGANIZER: (display name, address)
    organizer: tuple[str, str] = ("", "")

    @property
    def filename(self) -> str:
        return f"{self.campaign}-{self.year}.ics"

    @property
    def end(self) -> datetime:
        return self.start + DURATION

    def to_ical(self) -> str:
        """The VCALENDAR object, CRLF line endings, as it is attached and served."""
        cal = Calendar()
        cal.add("prodid", PRODID)
        cal.add("version", "2.0")
        cal.add("calscale", "GREGORIAN")
        cal.add("method", "PUBLISH")
        event = Event()
        event.add("uid", self.uid)
        event.add("dtstamp", dtstamp(self.start))
        event.add("dtstart", self.start)
        event.add("dtend", self.end)
        event.add("summary", self.summary)
        event.add("description", self.description)
        event.add("url", self.url)
        event.add("sequence", 0)
        name, address = self.organizer
        if address:
            organizer = vCalAddress(f"mailto:{address}")
            if name:
                organizer.params["cn"] = name
            event.add("organizer", organizer)
        # A minute of silence does not make anyone busy.
        event.add("transp", "TRANSPARENT")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", self.summary)
        alarm.add("trigger", -ALARM_BEFORE)
        event.add_component(alarm)
        cal.add_component(event)
        return str(cal.to_ical().decode("utf-8"))


def words(language: str) -> tuple[str, str]:
    """The summary and description patterns for ``language`` (English when it has none)."""
    return _WORDS.get(numbers.base_language(language), _WORDS["en"])


def uid(config: Config, campaign: CampaignConfig, year: int) -> str:
    """Stable per campaign and year, on the sender's domain (RFC 5545 section 3.8.4.7)."""
    domain = config.sender.from_email.rsplit("@", 1)[-1]
    return f"{campaign.id}-{year}@{domain}"


def dtstamp(start: datetime) -> datetime:
    """DTSTAMP (RFC 5545 section 3.8.7.2) without the clock: 367 days before the event,
    earlier than any stage of that year can go out (``days_before`` is at most 366), so
    an invitation is never stamped after the message that carries it, and every render
    of it is the same."""
    return start - timedelta(days=367)


def invitation(config: Config, campaign: CampaignConfig, year: int, language: str) -> Invitation:
    """The campaign year's minute of silence in ``language`` (UsageError for a year
    without an anniversary, as everywhere)."""
    number = anniversary_number(campaign.event_date, year)
    moment = silence_moment(campaign.event_date, year, campaign.silence_time, campaign.timezone, campaign.leap_day)
    title = campaign.title_in(language)
    summary_pattern, description_pattern = words(language)
    ordinal = numbers.ordinal(number, language)
    return Invitation(
        campaign=campaign.id,
        year=year,
        language=language,
        uid=uid(config, campaign, year),
        start=moment.utc.astimezone(UTC),
        summary=summary_pattern.format(title=title, ordinal=ordinal),
        description=description_pattern.format(title=title, ordinal=ordinal),
        url=calendar_url(config, campaign, year, language),
        organizer=(config.sender.from_name, config.sender.from_email),
    )


def calendar_url(config: Config, campaign: CampaignConfig, year: int, language: str | None = None) -> str:
    """Where the web app serves the invitation (``scheduler/web/calendar.py``); in the
    subscriber's language when it is not the campaign's first."""
    url = f"{config.sender.public_url.rstrip('/')}/calendar/{quote(campaign.id)}/{year}.ics"
    if language and language != campaign.languages[0]:
        url += f"?lang={quote(language)}"
    return url


def google_calendar_url(invite: Invitation) -> str:
    """Google Calendar's "add event" link for the invitation: its documented
    ``render?action=TEMPLATE`` form, the times in UTC as ``YYYYMMDDTHHMMSSZ``."""
    stamp = "%Y%m%dT%H%M%SZ"
    query = urlencode(
        {
            "action": "TEMPLATE",
            "text": invite.summary,
            "dates": f"{invite.start:{stamp}}/{invite.end:{stamp}}",
            "details": invite.description,
        },
        quote_via=quote,
        safe="/",
    )
    return f"https://calendar.google.com/calendar/render?{query}"
