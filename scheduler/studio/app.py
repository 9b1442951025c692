"""The studio's routes (README: The studio). Each parses the query string or form, asks
:mod:`.view` for what to show, and renders a server-side page; the only script is
``static/studio.js``, which swaps the preview in when :mod:`.live` reports a save.

No login, so it answers only to the loopback names it was started on (a page elsewhere
cannot reach it through DNS rebinding: the Host header must be one of them), every form
carries a token the page was given, and "Send test" goes only to the organizers'
addresses unless it was started with ``--allow-any-address``."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.config import Config, load_config
from scheduler.core.outcomes import State
from scheduler.core.values import normalize_email
from scheduler.errors import SchedulerError, UsageError
from scheduler.studio import view as v
from scheduler.studio.live import Changes

HERE = Path(__file__).parent
#: the pages load their own stylesheet and script, and frame only the message route
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: the message itself: its own inline styles and https images, never a script (a
#: sandbox with no allowances), framed only by the studio
MESSAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; sandbox; frame-ancestors 'self'"

#: selections whose last good render is kept for a broken save
LAST_GOOD_KEPT = 64

_PAGES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "pages"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_PAGES.filters["query"] = lambda d: urlencode(d)


class Studio:
    """The app's state: where config.toml is, the last config and message that worked,
    and the cached ``check`` of the whole campaign."""

    def __init__(self, config_path: Path, clock: Callable[[], datetime], allow_any_address: bool) -> None:
        self.config_path = config_path
        self.clock = clock
        self.allow_any_address = allow_any_address
        self.csrf = secrets.token_urlsafe(32)
        self.changes = Changes()
        self.last_config: Config = load_config(config_path)
        #: the last message that rendered, per selection
        self.last_good: dict[v.Selection, v.Message] = {}
        self._checks: dict[tuple[Any, ...], v.CampaignCheck] = {}
        self._lock = threading.Lock()

    def config(self) -> tuple[Config, str | None]:
        """The config as saved now, or the last one that loaded and why this one did not."""
        try:
            self.last_config = load_config(self.config_path)
        except SchedulerError as exc:
            return self.last_config, " ".join(str(exc).split())
        return self.last_config, None

    def campaign_check(self, config: Config, sel: v.Selection) -> v.CampaignCheck:
        now = self.clock()
        key = (v.fingerprint(v.watched(config)), sel.campaign, sel.language, now.year)
        with self._lock:  # the page and its frames ask at once; check once
            if key not in self._checks:
                self._checks = {key: v.campaign_check(config, sel.campaign, sel.language, now)}
            return self._checks[key]


class Guard:
    """Security headers on every answer, and only the Host names the studio was started
    on (``allowed`` None: any, when it was bound to a non-loopback address on purpose)."""

    def __init__(self, app: ASGIApp, allowed: set[str] | None) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
        if self.allowed is not None and host not in self.allowed:
            await PlainTextResponse(f"the studio answers only to {', '.join(sorted(self.allowed))}\n", 421)(
                scope, receive, send
            )
            return
        framed = scope["path"].endswith("/message.html")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", (MESSAGE_CSP if framed else CSP).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def _page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(_PAGES.get_template(name).render(**values), status_code=status)


def create_app(
    config_path: Path,
    *,
    clock: Callable[[], datetime],
    allow_any_address: bool = False,
    allowed_hosts: set[str] | None = None,
    watch: bool = True,
) -> FastAPI:
    studio = Studio(config_path, clock, allow_any_address)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if watch:
            config = studio.last_config
            studio.changes.start(config.path, [p for p in v.watched(config) if p.is_dir()])
        yield
        await studio.changes.stop()

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.studio = studio

    def selection(config: Config, params: dict[str, str]) -> tuple[v.Selection | None, str | None]:
        try:
            return v.select(config, params, studio.clock()), None
        except SchedulerError as exc:
            return None, " ".join(str(exc).split())

    def preview_values(params: dict[str, str]) -> dict[str, Any]:
        config, config_error = studio.config()
        sel, usage = selection(config, params)
        values: dict[str, Any] = {
            "config": config,
            "config_error": config_error,
            "usage_error": usage,
            "sel": sel,
            "view": None,
            "last_good": None,
            "check": None,
            "problems": [],
            "version": studio.changes.version,
            "samples": v.SAMPLE_ZONES,
        }
        if sel is None:
            return values
        try:
            shown = v.render(config, sel, studio.clock())
        except SchedulerError as exc:  # no such subscriber
            values["usage_error"] = " ".join(str(exc).split())
            return values
        values["view"] = shown
        if shown.message is not None:
            studio.last_good.pop(sel, None)
            studio.last_good[sel] = shown.message
            while len(studio.last_good) > LAST_GOOD_KEPT:  # the oldest selections go first
                studio.last_good.pop(next(iter(studio.last_good)))
        values["last_good"] = studio.last_good.get(sel)
        values["problems"] = v.selection_problems(config, shown.selection)
        values["check"] = studio.campaign_check(config, sel)
        values["stamp"] = abs(hash(v.fingerprint(v.watched(config)))) % 10**12
        return values

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        values = preview_values(params)
        notice = None
        if params.get("sent"):
            notice = f"A test message went to {params['sent']} through {params.get('via', 'the transport')}."
        status = 400 if values["usage_error"] else 200
        return _page(
            "page.html.j2", status, notice=notice, csrf=studio.csrf, allow_any=studio.allow_any_address, **values
        )

    @app.get("/fragment", response_class=HTMLResponse)
    def fragment(request: Request) -> HTMLResponse:
        return _page("preview.html.j2", **preview_values(dict(request.query_params)))

    @app.get("/message.html")
    def message(request: Request) -> Response:
        params = dict(request.query_params)
        config, _ = studio.config()
        sel, usage = selection(config, params)
        if sel is None:
            return PlainTextResponse(f"{usage}\n", 400)
        if params.get("last") == "1":
            got = studio.last_good.get(sel)
        else:
            shown = v.render(config, sel, studio.clock())
            got = shown.message
        if got is None:
            return PlainTextResponse("no render of this message yet\n", 404)
        return HTMLResponse(got.rendered.html)

    @app.get("/events")
    async def events() -> StreamingResponse:
        return StreamingResponse(studio.changes.events(), media_type="text/event-stream")

    @app.get("/source", response_class=HTMLResponse)
    def source(file: str, line: int | None = None) -> HTMLResponse:
        config, _ = studio.config()
        try:
            path = v.readable_source(config, file)
            text = path.read_text(encoding="utf-8", errors="replace")
        except (UsageError, OSError) as exc:
            return _page("source.html.j2", 404, file=file, lines=[], line=None, error=str(exc))
        return _page("source.html.j2", file=str(path), lines=text.splitlines(), line=line, error=None)

    @app.post("/send-test")
    async def send_test(request: Request) -> Response:
        form = {k: str(val) for k, val in (await request.form()).items()}
        if not hmac.compare_digest(form.get("csrf_token", ""), studio.csrf) or _cross_site(request):
            return PlainTextResponse("the form is stale or from another site: reload the studio and try again\n", 403)
        config, _ = studio.config()
        sel, usage = selection(config, form)
        to = (form.get("to") or "").strip()
        try:
            address = normalize_email(to)
        except ValueError:
            address = ""
        if sel is None or not address:
            why = usage or f"to: not an email address: {to!r}"
            return _page("refused.html.j2", 400, message=why)
        # Addresses are compared without case, as the subscriber list compares them.
        if not studio.allow_any_address and address.lower() not in {e.lower() for e in config.organizers.emails}:
            return _page(
                "refused.html.j2",
                403,
                message=f"{address} is not in organizers.emails; a test goes only to the organizers "
                "unless the studio was started with --allow-any-address",
            )
        try:
            sent = v.delivery_for(config, store=False).send_test(
                sel.campaign, sel.stage, sel.year, studio.clock(), to=address, name=sel.name,
                language=sel.language, zone=sel.zone,
            )  # fmt: skip
        except SchedulerError as exc:
            return _page("refused.html.j2", 502, message=" ".join(str(exc).split()))
        if sent.result.state is not State.SENT:
            why = f"not sent ({sent.result.state.value}): {sent.result.reason}"
            return _page("refused.html.j2", 502, message=why)
        query = urlencode({**sel.query(), "sent": address, "via": sent.transport})
        return RedirectResponse(f"/?{query}", status_code=303)

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(Guard, allowed=allowed_hosts)
    return app


def _cross_site(request: Request) -> bool:
    """A browser says where a form came from: refuse one sent by another site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    return origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}"
