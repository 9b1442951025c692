"""One module per transport on a shared base, after django-anymail's backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scheduler.errors import ConfigError

if TYPE_CHECKING:
    from scheduler.config import Config
    from scheduler.transports.base import Transport


def make_transport(config: Config) -> Transport:
    kind = config.transport.kind
    if kind == "outbox":
        from scheduler.transports.outbox import OutboxTransport

        return OutboxTransport(config)
    if kind == "smtp":
        from scheduler.transports.smtp import SmtpTransport

        return SmtpTransport(config)
    if kind == "sendgrid":
        from scheduler.transports.sendgrid import SendgridTransport

        return SendgridTransport(config)
    raise ConfigError(f"transport.kind: unknown transport {kind!r}; allowed: outbox, smtp, sendgrid")
