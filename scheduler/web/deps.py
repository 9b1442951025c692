"""What routes are handed (FastAPI dependencies): the config, the lifecycle, the clock's
``now`` and the client's address. The app's state holds them; only this edge reads the
clock (README: How it works)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from scheduler.config import Config
from scheduler.lifecycle import Lifecycle
from scheduler.web.security import client_ip


def config(request: Request) -> Config:
    value: Config = request.app.state.config
    return value


def lifecycle(request: Request) -> Lifecycle:
    value: Lifecycle = request.app.state.lifecycle
    return value


def now(request: Request) -> datetime:
    value: datetime = request.app.state.clock()
    return value


def ip(request: Request) -> str | None:
    peer = request.client.host if request.client else None
    return client_ip(peer, request.headers.getlist("x-forwarded-for"), request.app.state.trusted_proxies)


def user_agent(request: Request) -> str | None:
    return request.headers.get("user-agent")


ConfigDep = Annotated[Config, Depends(config)]
LifecycleDep = Annotated[Lifecycle, Depends(lifecycle)]
NowDep = Annotated[datetime, Depends(now)]
IpDep = Annotated[str | None, Depends(ip)]
UserAgentDep = Annotated[str | None, Depends(user_agent)]


def form_subject(token: str) -> str:
    """The link a form belongs to, as a form token's subject (the action page uses it).
    The keyring hashes whatever subject it is given, so the link's token alone would do."""
    return token.replace(".", "~")[:200]
