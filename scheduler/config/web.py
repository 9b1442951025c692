"""``[web]``: the public web app (README: The web app). Its names are a contract:
``bind``, ``[web.sendgrid_webhook] public_key`` and ``max_age_seconds``."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HOST_PORT = r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_bind(value: str) -> str:
    """``HOST:PORT`` with a port from 1 to 65535 (``--bind`` uses it too)."""
    import re

    if not re.match(_HOST_PORT, value) or not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise ValueError(f"must be HOST:PORT, like 127.0.0.1:8080 (got {value!r})")
    return value


def host_port(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) as (host, port), checked by
    :func:`check_bind` (ValueError saying what is allowed)."""
    check_bind(value)
    host, port = value.rsplit(":", 1)
    return host.strip("[]"), int(port)


class SendGridWebhookConfig(_Strict):
    #: SendGrid's Event Webhook verification key (base64 DER, "MFkwEwYH..."); not a secret
    public_key: str | None = None
    #: events signed longer ago than this are refused; 0 turns the check off
    max_age_seconds: Annotated[int, Field(ge=0)] = 600

    @field_validator("public_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import base64
        import binascii

        try:
            base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be the base64 verification key SendGrid shows (it starts MFkwEwYH)") from None
        return value.strip()


class SignupLimits(_Strict):
    #: sign-up requests accepted from one client IP per hour
    per_ip_per_hour: Annotated[int, Field(ge=1)] = 20
    #: sign-up requests (and so confirmation emails) for one address per hour
    per_address_per_hour: Annotated[int, Field(ge=1)] = 3


class WebConfig(_Strict):
    bind: str = "127.0.0.1:8080"
    #: proxies whose X-Forwarded-For is believed (addresses or networks); none by default,
    #: so the client IP is the connection's own
    trusted_proxies: list[str] = []
    #: the confirmation link in a sign-up email works this long
    confirm_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 72
    #: a sign-up never confirmed is deleted this long after it was made
    purge_pending_days: Annotated[int, Field(ge=1, le=365)] = 7
    #: a form must be sent within this long of the page that carried it
    form_max_age_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 120
    #: the sign-up emails' templates: {templates}/{language}/confirm.subject.j2 ...
    templates: Path = Path("templates/lifecycle")
    signup_limits: SignupLimits = SignupLimits()
    sendgrid_webhook: SendGridWebhookConfig = SendGridWebhookConfig()

    def purge_before(self, now: datetime) -> datetime:
        """Sign-ups made before this and never confirmed are deleted."""
        return now - timedelta(days=self.purge_pending_days)

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        return check_bind(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"must be addresses or networks like 10.0.0.0/8 (got {item!r})") from None
        return value
