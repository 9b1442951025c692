"""The statement for the record's page (README: The statement for the record):
``GET/POST {path}/action/{token}``, the link every message of a campaign with an action
carries. The form is a contract for tools and tests: it POSTs ``region``, ``name``,
``address``, ``letter`` and the hidden ``csrf_token`` from the page; no cookie."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from babel.dates import format_date
from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse

from scheduler.core.numbers import ordinal
from scheduler.lifecycle import InvalidInput, Lifecycle, Replayed
from scheduler.lifecycle.action import Actions, ActionView, BadForm, LetterForm, LinkExpired
from scheduler.web.action_i18n import action_words
from scheduler.web.deps import LifecycleDep, NowDep, form_subject
from scheduler.web.pages import PageError, page_language, render

router = APIRouter()

Field = Annotated[str, Form()]


def _actions(request: Request, lc: Lifecycle) -> Actions:
    """One :class:`Actions` per app: it keeps the targets and templates it read."""
    actions = getattr(request.app.state, "actions", None)
    if actions is None:
        actions = request.app.state.actions = Actions(lc)
    return actions  # type: ignore[no-any-return]


def _language(request: Request, lc: Lifecycle, known: str) -> tuple[str, str | None]:
    """The page's language: ``?lang=`` when it is one of ours, else the subscriber's."""
    asked = request.query_params.get("lang")
    chosen = asked if asked in lc.languages else None
    return page_language(request, known=chosen or known), chosen


def _page(
    request: Request,
    lc: Lifecycle,
    token: str,
    view: ActionView,
    now: datetime,
    *,
    chosen: str | None,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
    just_sent: bool = False,
) -> HTMLResponse:
    language = request.state.language
    words = action_words(language)

    def a(key: str, **fill: Any) -> str:
        text = words[key]
        return text.format(**fill) if fill else text

    query = f"?lang={chosen}" if chosen else ""
    sent_date = ""
    if view.sent is not None:
        sent_date = format_date(view.sent["created_at"].date(), "long", locale=language)
    assert view.campaign.action is not None
    return render(
        request,
        "action.html.j2",
        title=words["title"],
        language=language,
        status=status,
        a=a,
        view=view,
        number=ordinal(view.year - view.campaign.event_date.year, language),
        expired=False,
        action_url=f"{request.app.state.base_path}/action/{token}{query}",
        page_lang=chosen,
        csrf_token=_actions(request, lc).form_token(form_subject(token), now),
        values=values or {"region": view.region or "", "name": view.name, "address": "", "letter": view.letter},
        errors=errors or {},
        notice=notice,
        just_sent=just_sent,
        sent_date=sent_date,
        copy=view.campaign.action.copy_to_subscriber,
    )


def _expired(request: Request, exc: LinkExpired) -> HTMLResponse:
    language = getattr(request.state, "language", None) or page_language(request)
    words = action_words(language)
    return render(
        request,
        "message.html.j2",
        title=words["expired_title"],
        language=language,
        status=410,
        paragraphs=[words["expired_text"]],
        link=None,
    )


@router.get("/action/{token}")
def action_page(request: Request, token: str, lc: LifecycleDep, now: NowDep) -> HTMLResponse:
    actions = _actions(request, lc)
    region = request.query_params.get("region")
    try:
        first = actions.view(token, now, region=region)
    except LinkExpired as exc:
        return _expired(request, exc)
    language, chosen = _language(request, lc, first.language)
    view = first if language == first.language else actions.view(token, now, region=region, language=language)
    return _page(request, lc, token, view, now, chosen=chosen)


@router.post("/action/{token}")
def send_letter(
    request: Request,
    token: str,
    lc: LifecycleDep,
    now: NowDep,
    csrf_token: Field = "",
    region: Field = "",
    name: Field = "",
    address: Field = "",
    letter: Field = "",
) -> HTMLResponse:
    actions = _actions(request, lc)
    try:
        first = actions.view(token, now)
    except LinkExpired as exc:
        return _expired(request, exc)
    language, chosen = _language(request, lc, first.language)
    words = action_words(language)
    form = LetterForm(region, name, address, letter)
    values = {"region": region, "name": name, "address": address, "letter": letter}
    try:
        view, new = actions.submit(token, form, csrf_token, form_subject(token), now)
    except BadForm:
        raise PageError(403, "form") from None
    except Replayed:
        view = actions.view(token, now, region=region or None, language=language)
        return _page(request, lc, token, view, now, chosen=chosen, status=409, notice=words["replayed"], values=values)
    except InvalidInput as exc:
        view = actions.view(token, now, region=region or None, language=language)
        errors = {exc.field: words.get(f"code_{exc.code}", words["code_required"])}
        return _page(request, lc, token, view, now, chosen=chosen, status=400, errors=errors, values=values)
    return _page(request, lc, token, view, now, chosen=chosen, just_sent=new)
