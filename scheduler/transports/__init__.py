"""One module per transport on a shared base, after django-anymail's backends.

:data:`REGISTRY` is the list of providers: ``transport.kind`` in config.toml must name
one, and each provider's ``Settings`` validates its own ``[transport.<kind>]`` table
(config validation reads this registry). Adding a provider is one module beside these
and one entry here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scheduler.transports.base import Transport
from scheduler.transports.outbox import OutboxTransport
from scheduler.transports.sendgrid import SendgridTransport
from scheduler.transports.smtp import SmtpTransport

REGISTRY: dict[str, type[Transport]] = {
    "outbox": OutboxTransport,
    "smtp": SmtpTransport,
    "sendgrid": SendgridTransport,
}


def make_transport(options: Any, base_dir: Path) -> Transport:
    """The transport ``options.kind`` names (``options`` is the config's ``[transport]``),
    built but not yet opened. Secrets are read from the environment here."""
    return REGISTRY[options.kind].from_config(options, base_dir)
