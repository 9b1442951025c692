"""SendGrid's own suppression lists, read through the official client (README: Bounces,
complaints and suppression): global unsubscribes, bounces, blocks, spam reports and
invalid emails, 500 to a page, optionally only those created since a time.

Reading is safe to repeat, so every failure to connect, timeout, 429 or 5xx is retried
with the transport's backoff up to its ``max_retries``; then, or at once for any other
answer (401/403: the key may not read suppressions), a fatal :class:`TransportError`:
the run stops before anyone is mailed (exit 3). The API key never appears in a message.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
from dataclasses import dataclass
from typing import Any

from python_http_client.exceptions import HTTPError

from scheduler.errors import TransportError
from scheduler.transports.sendgrid import SendgridTransport, _error_text

#: SendGrid's paths under /v3/suppression/, in the order they are read
LISTS = ("unsubscribes", "bounces", "blocks", "spam_reports", "invalid_emails")
#: SendGrid's largest page for these endpoints
PAGE = 500
#: a list longer than this is refused rather than read for ever (a server gone wrong)
MAX_PAGES = 20_000


@dataclass(frozen=True)
class Suppressed:
    """One address on one of SendGrid's lists."""

    email: str
    #: when SendGrid listed it (Unix seconds)
    created: int
    #: SendGrid's reason (bounces, blocks, invalid emails); may quote the address
    reason: str = ""
    #: the enhanced status code of a bounce or block ("5.1.1"), when it gave one
    status: str = ""


def read_suppressions(
    transport: SendgridTransport, since: dict[str, int] | None = None, *, page: int = PAGE
) -> dict[str, list[Suppressed]]:
    """Every entry of each list in :data:`LISTS`; a list named in ``since`` is read only
    from that Unix time on (SendGrid's ``start_time``)."""
    return {name: list(_read_list(transport, name, (since or {}).get(name), page)) for name in LISTS}


def _read_list(transport: SendgridTransport, name: str, start: int | None, page: int) -> list[Suppressed]:
    out: list[Suppressed] = []
    for number in range(MAX_PAGES):
        query: dict[str, Any] = {"limit": page, "offset": number * page}
        if start is not None:
            query["start_time"] = start
        rows = _get(transport, name, query)
        out.extend(entry for entry in map(_entry, rows) if entry is not None)
        if len(rows) < page:
            return out
    raise TransportError(
        f"SendGrid's {name} list is longer than {MAX_PAGES * page} entries; stopped before sending", fatal=True
    )


def _get(transport: SendgridTransport, name: str, query: dict[str, Any]) -> list[Any]:
    settings = transport.settings
    where = f"SendGrid's {name} list at {settings.host}/v3/suppression/{name}"
    attempt = 0
    while True:
        try:
            endpoint = transport.client.client.suppression._(name)
            response = endpoint.get(query_params=query, timeout=transport.timeout)
        except HTTPError as err:
            code = int(err.status_code)
            if (code == 429 or code >= 500) and attempt < transport.max_retries:
                transport._pause(attempt, transport._rate_wait(err) if code == 429 else None, f"{where}: {code}")
                attempt += 1
                continue
            hint = (
                f"; the key in ${settings.api_key_env} needs the Suppressions read permission, "
                "or set [transport.sendgrid] sync_suppressions = false"
                if code in (401, 403)
                else ""
            )
            raise TransportError(
                f"could not read {where}: {code} {_error_text(err)}{hint}; stopped before sending, nothing was sent",
                fatal=True,
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            why = err.reason if isinstance(err, urllib.error.URLError) else f"{type(err).__name__}: {err}"
            if attempt < transport.max_retries:
                transport._pause(attempt, None, f"could not reach {where} ({why})")
                attempt += 1
                continue
            raise TransportError(
                f"could not reach SendGrid at {settings.host} to read its {name} list: {why} "
                f"(gave up after {attempt + 1} attempts); stopped before sending, nothing was sent",
                fatal=True,
            ) from None
        try:
            rows = json.loads(response.body or b"[]")
        except (ValueError, RecursionError):
            rows = None
        if not isinstance(rows, list):
            raise TransportError(
                f"{where} answered {response.status_code} with something other than a JSON array; "
                "stopped before sending, nothing was sent",
                fatal=True,
            )
        return rows


def _entry(row: Any) -> Suppressed | None:
    """An entry as SendGrid documents it; anything else is skipped (it names nobody)."""
    if not isinstance(row, dict) or not isinstance(row.get("email"), str) or "@" not in row["email"]:
        return None
    created = row.get("created")
    reason, status = row.get("reason"), row.get("status")
    return Suppressed(
        row["email"].strip(),
        created if isinstance(created, int) and not isinstance(created, bool) else 0,
        reason.strip()[:500] if isinstance(reason, str) else "",
        status.strip()[:20] if isinstance(status, str) else "",
    )
