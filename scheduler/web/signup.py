"""Sign-up with double opt-in (README: The web app): the form, the page that answers it,
and the confirmation link's page, whose button confirms (mail scanners open links, so
opening one changes nothing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse

from scheduler.core.outcomes import Status
from scheduler.lifecycle import InvalidInput, SignupRequest
from scheduler.web.deps import ConfigDep, IpDep, LifecycleDep, NowDep, UserAgentDep
from scheduler.web.forms import check_form, field_errors, redisplay
from scheduler.web.i18n import words
from scheduler.web.pages import message, page_language, render

router = APIRouter()

SIGNUP = "signup"
CONFIRM = "confirm"

Field = Annotated[str, Form()]


def _signup_page(
    request: Request,
    lc: LifecycleDep,
    now: NowDep,
    *,
    language: str,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "subscribe.html.j2",
        title="subscribe_title",
        language=language,
        status=status,
        switch_languages=True,
        csrf_token=lc.form_token(SIGNUP, "", now),
        values=values,
        errors=errors or {},
    )


@router.get("/subscribe")
def subscribe_form(request: Request, lc: LifecycleDep, now: NowDep) -> HTMLResponse:
    language = page_language(request)
    values = {"email": "", "name": "", "language": language, "timezone": ""}
    return _signup_page(request, lc, now, language=language, values=values)


@router.post("/subscribe")
def subscribe(
    request: Request,
    config: ConfigDep,
    lc: LifecycleDep,
    now: NowDep,
    ip: IpDep,
    agent: UserAgentDep,
    csrf_token: Field = "",
    email: Field = "",
    name: Field = "",
    language: Field = "",
    timezone: Field = "",
) -> HTMLResponse:
    shown = page_language(request, form=language)
    check_form(lc, csrf_token, SIGNUP, "", now)
    request_ = SignupRequest(
        email=email,
        name=name,
        language=language,
        timezone=timezone,
        ip=ip,
        user_agent=agent,
        page_url=f"{config.sender.public_url.rstrip('/')}/subscribe",
        # the words this page showed, in the language it showed them
        wording=lc.wording_version(words(shown)["consent"]),
    )
    try:
        lc.sign_up(request_, now)
    except InvalidInput as exc:
        values = {
            "email": redisplay(email, 254),
            "name": redisplay(name, 200),
            "language": language or shown,
            "timezone": timezone,
        }
        errors = field_errors(exc, shown)
        return _signup_page(request, lc, now, language=shown, values=values, errors=errors, status=400)
    # The same words whether or not the address was known (README: The web app).
    return message(
        request,
        title="subscribed_title",
        texts=["subscribed_text"],
        language=shown,
        values={"hours": config.web.confirm_hours},
    )


@router.get("/confirm/{token}")
def confirm_page(request: Request, token: str, lc: LifecycleDep, now: NowDep) -> HTMLResponse:
    profile = lc.confirmation(token, now)
    language = page_language(request, known=profile.language)
    if profile.status is Status.ACTIVE:
        return _confirmed(request, language, profile.token)
    return render(
        request,
        "confirm.html.j2",
        title="confirm_title",
        language=language,
        profile=profile,
        token=token,
        csrf_token=lc.form_token(CONFIRM, token, now),
    )


@router.post("/confirm/{token}")
def confirm(
    request: Request, token: str, lc: LifecycleDep, now: NowDep, ip: IpDep, csrf_token: Field = ""
) -> HTMLResponse:
    # The link first: an expired one says so (410) whatever the form's token says.
    page_language(request, known=lc.confirmation(token, now).language)
    check_form(lc, csrf_token, CONFIRM, token, now)
    profile = lc.confirm(token, ip, now)
    return _confirmed(request, page_language(request, known=profile.language), profile.token)


def _confirmed(request: Request, language: str, token: str) -> HTMLResponse:
    base = request.app.state.base_path
    return message(
        request,
        title="confirmed_title",
        texts=["confirmed_text"],
        language=language,
        link=(f"{base}/preferences/{token}", "preferences_link"),
    )
