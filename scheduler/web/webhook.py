"""``POST {path}/webhooks/sendgrid``: SendGrid's signed Event Webhook (README: Bounces,
complaints and suppression). Parse the request, call :mod:`scheduler.lifecycle.webhook`,
answer with a status SendGrid understands: 2xx means "received", anything else makes it
retry for up to 24 hours.

=====  ======================================================================
200    verified and applied (repeated events included: they are applied once)
400    verified, but the body is not a JSON array
403    no signature, a signature that does not verify, or a stale time stamp
413    a body over :data:`MAX_BODY` (SendGrid's batches are far smaller)
503    ``[web.sendgrid_webhook] public_key`` is not set, or is not a key: nothing can
       be verified (SendGrid keeps retrying while it is fixed)
=====  ======================================================================

The app provides ``app.state.config`` and ``.clock`` (aware UTC now), and ``.store`` and
``.keyring`` or a ``.lifecycle`` holding them.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from scheduler.lifecycle.webhook import BadKey, NotEvents, WebhookRefused, apply, parse_events, verify

log = logging.getLogger(__name__)

router = APIRouter()

MAX_BODY = 5 * 1024 * 1024
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


class _TooBig(Exception):
    pass


async def _body(request: Request) -> bytes:
    """The raw body, read no further than :data:`MAX_BODY`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooBig
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooBig
        chunks.append(chunk)
    return b"".join(chunks)


def _text(status: int, text: str) -> PlainTextResponse:
    return PlainTextResponse(text + "\n", status_code=status)


@router.post("/webhooks/sendgrid")
async def sendgrid_events(request: Request) -> PlainTextResponse:
    state = request.app.state
    settings = state.config.web.sendgrid_webhook
    if not settings.public_key:
        log.error(
            "SendGrid event refused (503): [web.sendgrid_webhook] public_key is not set; "
            "paste the Signed Event Webhook's verification key there"
        )
        return _text(503, "the webhook is not configured")
    try:
        raw = await _body(request)
    except _TooBig:
        log.warning("SendGrid event refused (413): body over %d bytes", MAX_BODY)
        return _text(413, f"body over {MAX_BODY} bytes")
    now = state.clock()
    try:
        verify(
            settings.public_key,
            raw,
            request.headers.get(SIGNATURE, ""),
            request.headers.get(TIMESTAMP, ""),
            now,
            settings.max_age_seconds,
        )
        events = parse_events(raw)
    except BadKey as exc:
        log.error("SendGrid event refused (503): %s", exc)
        return _text(503, "the webhook is not configured")
    except WebhookRefused as exc:
        log.warning("SendGrid event refused (403): %s", exc)
        return _text(403, "signature refused")
    except NotEvents as exc:
        log.warning("SendGrid event refused (400): %s", exc)
        return _text(400, str(exc))
    # The store's calls block: they run on a worker thread, not the event loop.
    store = getattr(state, "store", None) or state.lifecycle.store
    keyring = getattr(state, "keyring", None) or state.lifecycle.keyring
    group = state.config.transport.sendgrid.asm_group_id
    done = await run_in_threadpool(lambda: apply(store, keyring, events, now, asm_group_id=group))
    log.info("SendGrid events: %s", done.describe())
    return _text(200, "ok")
