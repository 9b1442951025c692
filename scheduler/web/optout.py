"""One-click unsubscribe and the preferences page (README: The web app).

``POST {path}/unsubscribe/{token}`` is the exact URL in every message's
``List-Unsubscribe`` header. RFC 8058 section 3.1: the mail client posts
``List-Unsubscribe=One-Click`` (as ``multipart/form-data`` or
``application/x-www-form-urlencoded``) with no cookie and no way to follow a redirect,
so the answer is the page itself, 200, and no token other than the link's is asked for.
A GET of the same URL only shows the page; scanners and previews open links.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse

from scheduler.core.outcomes import OPTED_OUT, Status
from scheduler.lifecycle import InvalidInput, Lifecycle, Profile
from scheduler.web.deps import ConfigDep, IpDep, LifecycleDep, NowDep, UserAgentDep
from scheduler.web.forms import check_form, field_errors, redisplay
from scheduler.web.i18n import words
from scheduler.web.pages import PageError, message, page_language, render

router = APIRouter()

PREFERENCES = "preferences"
ONE_CLICK = "One-Click"

Field = Annotated[str, Form()]


def _manage(
    request: Request,
    lc: Lifecycle,
    now: datetime,
    profile: Profile,
    token: str,
    *,
    mode: str,
    notice: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    language = page_language(request, known=profile.language)
    w = words(language)
    receiving = profile.status in (Status.ACTIVE, Status.PENDING)
    status_key = {Status.ACTIVE: "status_active", Status.PENDING: "status_pending"}.get(profile.status, "status_off")
    shown = values or {"language": profile.language, "timezone": profile.timezone, "region": profile.region or ""}
    return render(
        request,
        "manage.html.j2",
        title="unsubscribe_title" if mode == "unsubscribe" and receiving else "preferences_title",
        language=language,
        status=status,
        mode=mode,
        profile=profile,
        token=token,
        receiving=receiving,
        opted_out=profile.status in OPTED_OUT,
        status_text=w[status_key],
        notice=w[notice] if notice else None,
        values=shown,
        errors=errors or {},
        csrf_token=lc.form_token(PREFERENCES, token, now),
        resubscribe_token=lc.form_token(PREFERENCES, token, now),
    )


@router.get("/unsubscribe/{token}")
def unsubscribe_page(request: Request, token: str, lc: LifecycleDep, now: NowDep) -> HTMLResponse:
    """The footer's visible link: a button and the preferences; unsubscribes nothing."""
    return _manage(request, lc, now, lc.profile(token, now), token, mode="unsubscribe")


@router.post("/unsubscribe/{token}")
def one_click(
    request: Request,
    token: str,
    lc: LifecycleDep,
    now: NowDep,
    one_click: Annotated[str, Form(alias="List-Unsubscribe")] = "",
) -> HTMLResponse:
    if one_click.strip() != ONE_CLICK:
        page_language(request)
        raise PageError(400, "bad_request")
    profile = lc.unsubscribe(token, now)
    language = page_language(request, known=profile.language)
    base = request.app.state.base_path
    return message(
        request,
        title="unsubscribed_title",
        texts=["unsubscribed_text"],
        language=language,
        link=(f"{base}/preferences/{token}", "preferences_link"),
    )


@router.get("/preferences/{token}")
def preferences_page(request: Request, token: str, lc: LifecycleDep, now: NowDep) -> HTMLResponse:
    return _manage(request, lc, now, lc.profile(token, now), token, mode="preferences")


@router.post("/preferences/{token}")
def preferences(
    request: Request,
    token: str,
    config: ConfigDep,
    lc: LifecycleDep,
    now: NowDep,
    ip: IpDep,
    agent: UserAgentDep,
    csrf_token: Field = "",
    action: Field = "save",
    language: Field = "",
    timezone: Field = "",
    region: Field = "",
) -> HTMLResponse:
    profile = lc.profile(token, now)
    page_language(request, known=profile.language)
    check_form(lc, csrf_token, PREFERENCES, token, now)
    if action == "resubscribe":
        shown = words(page_language(request, known=profile.language))
        profile = lc.resubscribe(
            token,
            ip=ip,
            user_agent=agent,
            page_url=f"{config.sender.public_url.rstrip('/')}/preferences",
            wording=lc.wording_version(shown["resubscribe_text"]),
            now=now,
        )
        return _manage(request, lc, now, profile, token, mode="preferences", notice="resubscribed")
    try:
        profile = lc.update_preferences(token, language=language, timezone=timezone, region=region, now=now)
    except InvalidInput as exc:
        values = {"language": language, "timezone": timezone, "region": redisplay(region, 6)}
        errors = field_errors(exc, page_language(request, known=profile.language))
        return _manage(request, lc, now, profile, token, mode="preferences", values=values, errors=errors, status=400)
    return _manage(request, lc, now, profile, token, mode="preferences", notice="saved")
