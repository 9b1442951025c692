"""The calendar invitation a message links to, for mail clients that do not show the
one attached (README: Templates): ``GET {public_url}/calendar/{campaign}/{year}.ics``,
in the language ``?lang=`` names (the campaign's first otherwise). The same bytes as
the attachment: :func:`scheduler.content.calendar.invitation` makes both."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.responses import Response

from scheduler.content.calendar import invitation
from scheduler.errors import SchedulerError
from scheduler.web.deps import ConfigDep

router = APIRouter()

#: RFC 5545 section 8.1 registers text/calendar; the text is UTF-8 (section 3.1.4)
MEDIA_TYPE = "text/calendar; charset=utf-8"


@router.get("/calendar/{campaign}/{year}.ics", include_in_schema=False)
def calendar_file(campaign: str, year: str, config: ConfigDep, lang: str | None = None) -> Response:
    try:
        chosen = config.get_campaign(campaign)
        number = int(year) if year.isascii() and year.isdigit() else None
        if number is None:
            raise HTTPException(404)
        language = lang if lang in chosen.languages else chosen.languages[0]
        invite = invitation(config, chosen, number, language)
    except SchedulerError:
        # An unknown campaign, or a year without an anniversary: nothing is there.
        raise HTTPException(404) from None
    return Response(
        invite.to_ical(),
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{invite.filename}"',
            # The same for a campaign year until its config changes.
            "Cache-Control": "public, max-age=3600",
        },
    )
