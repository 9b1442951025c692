"""The public web app (README: The web app): every route under the path of
``sender.public_url``, so a reverse proxy passes paths through unchanged and each link a
message carries is answered where it points.

``create_app`` builds it around one :class:`~scheduler.lifecycle.Lifecycle`; the routes
parse, call one lifecycle function and present its answer. Refusals become pages here,
in one place, with the status that says what happened."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from scheduler.config import Config
from scheduler.content.tokens import BadToken
from scheduler.lifecycle import Lifecycle, NoticeFailed, RateLimited, Replayed, UnknownSubscriber
from scheduler.store import StoreError
from scheduler.web import optout, signup
from scheduler.web.pages import PageError, error_page
from scheduler.web.security import HEADERS, SecurityHeaders, networks

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")

#: routers other modules of this package add when they are present (the provider
#: webhook, the calendar files): each is a module with a FastAPI ``router``
OPTIONAL_ROUTERS = ("scheduler.web.webhook", "scheduler.web.calendar", "scheduler.web.action")


def base_path(public_url: str) -> str:
    """``https://example.org/anniversary/`` -> ``/anniversary``; no path -> ``""``."""
    return urlsplit(public_url).path.rstrip("/")


def utc_clock() -> datetime:
    return datetime.now(UTC)


def create_app(
    config: Config, lifecycle: Lifecycle | None = None, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    lc = lifecycle or Lifecycle.open(config)
    path = base_path(config.sender.public_url)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.config = config
    app.state.lifecycle = lc
    app.state.store = lc.store
    app.state.keyring = lc.keyring
    app.state.clock = clock or utc_clock
    app.state.base_path = path
    app.state.trusted_proxies = networks(config.web.trusted_proxies)

    app.include_router(signup.router, prefix=path)
    app.include_router(optout.router, prefix=path)
    for name in OPTIONAL_ROUTERS:
        if importlib.util.find_spec(name) is not None:
            app.include_router(importlib.import_module(name).router, prefix=path)

    @app.get(f"{path}/healthz", include_in_schema=False)
    def healthz() -> Response:
        try:
            lc.healthy()
        except StoreError as exc:
            log.error("healthz: the database does not answer: %s", " ".join(str(exc).split())[:300])
            return PlainTextResponse("database unavailable\n", status_code=503)
        return PlainTextResponse("ok\n")

    @app.get(path or "/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse(f"{path}/subscribe", status_code=303)

    app.mount(f"{path}/static", StaticFiles(directory=STATIC), name="static")
    _refusals(app, path)
    app.add_middleware(SecurityHeaders)
    return app


def _refusals(app: FastAPI, path: str) -> None:
    """Every refusal a page, in the visitor's language, with its status."""

    def page(status: int, kind: str, **extra: object) -> Callable[[Request, Exception], Response]:
        def handler(request: Request, exc: Exception) -> Response:
            return error_page(request, PageError(status, kind, **extra))  # type: ignore[arg-type]

        return handler

    def bad_token(request: Request, exc: Exception) -> Response:
        if isinstance(exc, BadToken) and exc.expired:
            return error_page(request, PageError(410, "expired", link=(f"{path}/subscribe", "signup_again")))
        return error_page(request, PageError(404, "link"))

    def rate_limited(request: Request, exc: Exception) -> Response:
        wait = exc.retry_after if isinstance(exc, RateLimited) else 60
        minutes = max(1, -(-wait // 60))
        return error_page(
            request, PageError(429, "rate", headers={"Retry-After": str(wait)}, values={"minutes": minutes})
        )

    def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return error_page(request, PageError(status, "not_found" if status in (404, 405) else "bad_request"))

    def refusal(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return error_page(request, exc)

    def server_error(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
        # This answer leaves through Starlette's outermost middleware, outside
        # SecurityHeaders, so it carries the headers itself.
        headers = {name.decode(): value.decode() for name, value in HEADERS}
        return error_page(request, PageError(500, "server", headers=headers))

    app.add_exception_handler(PageError, refusal)
    app.add_exception_handler(BadToken, bad_token)
    app.add_exception_handler(UnknownSubscriber, page(404, "link"))
    app.add_exception_handler(Replayed, page(409, "replayed"))
    app.add_exception_handler(RateLimited, rate_limited)
    app.add_exception_handler(StoreError, page(503, "unavailable"))
    app.add_exception_handler(NoticeFailed, page(503, "unavailable"))
    app.add_exception_handler(RequestValidationError, page(400, "bad_request"))
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, server_error)
