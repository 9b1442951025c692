"""Rendering the pages, and the one error page every refusal shows (README: The web app).

Templates are Jinja2 with autoescaping on, so whatever a visitor typed comes back as
text, never as markup. An error is a page in the visitor's language with the status
that says what happened; no traceback ever reaches a visitor."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from scheduler.web.i18n import language_name, words

log = logging.getLogger(__name__)

PAGES = Path(__file__).with_name("pages")

_env = Environment(
    loader=FileSystemLoader(PAGES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class PageError(Exception):
    """A refusal shown as a page: ``kind`` names its words (``error_<kind>_title``)."""

    status: int
    kind: str
    headers: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    link: tuple[str, str] | None = None


def base_path(request: Request) -> str:
    return str(request.app.state.base_path)


def page_language(request: Request, *, known: str | None = None, form: str | None = None) -> str:
    """The token's subscriber's language, else the form's, else ``?lang=`` or
    Accept-Language. Remembered on the request so an error page speaks it too."""
    lc = request.app.state.lifecycle
    if known in lc.languages:
        language = str(known)
    elif form in lc.languages:
        language = str(form)
    else:
        language = lc.language_for(request.headers.get("accept-language"), request.query_params.get("lang"))
    request.state.language = language
    return language


def render(
    request: Request,
    template: str,
    *,
    title: str,
    language: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    config = request.app.state.config
    lc = request.app.state.lifecycle
    w = words(language)

    def t(key: str, **values: Any) -> str:
        text = w[key]
        return text.format(**values) if values else text

    html = _env.get_template(template).render(
        t=t,
        lang=language,
        title=w.get(title, title),
        base=base_path(request),
        site=config.sender.from_name,
        postal=config.sender.postal_address,
        languages=[(code, language_name(code)) for code in lc.languages],
        zones=lc.zones,
        switch_languages=context.pop("switch_languages", False),
        errors=context.pop("errors", {}),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def message(
    request: Request,
    *,
    title: str,
    texts: list[str],
    language: str,
    status: int = 200,
    link: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    """A page of a title and a few paragraphs (and perhaps one link onward)."""
    w = words(language)
    paragraphs = [w[key].format(**(values or {})) for key in texts]
    shown_link = (link[0], w[link[1]]) if link else None
    return render(
        request,
        "message.html.j2",
        title=title,
        language=language,
        status=status,
        headers=headers,
        paragraphs=paragraphs,
        link=shown_link,
    )


def error_page(request: Request, error: PageError) -> HTMLResponse:
    language = getattr(request.state, "language", None)
    try:
        if language is None:
            language = page_language(request)
        return message(
            request,
            title=f"error_{error.kind}_title",
            texts=[f"error_{error.kind}_text"],
            language=language,
            status=error.status,
            link=error.link,
            headers=error.headers,
            values=error.values,
        )
    except Exception:  # the error page itself must never fail into a traceback
        log.exception("error page %s could not be rendered", error.kind)
        return HTMLResponse(
            "<!doctype html><title>Error</title><h1>Error</h1>", status_code=error.status, headers=error.headers
        )
