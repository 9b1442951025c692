"""One message to one person that is not a campaign message: the lifecycle's notices.
It goes out through :meth:`Delivery.deliver`, as every message does, and is not in the
ledger (the ledger counts campaign messages)."""

from __future__ import annotations

from datetime import datetime

from scheduler.content.groups import Batch, Recipient
from scheduler.content.message import Outgoing, Rendered, make_message_id
from scheduler.core.outcomes import Result
from scheduler.delivery.runs import Delivery


def send_notice(
    delivery: Delivery,
    rendered: Rendered,
    *,
    to_email: str,
    to_name: str,
    unsubscribe_url: str,
    kind: str,
    now: datetime,
) -> Result:
    config = delivery.config
    domain = config.sender.from_email.rsplit("@", 1)[1]
    message_id = make_message_id("lifecycle", now.year, kind, "notice", domain)
    envelope = Outgoing(
        entry_id=None,
        to_email=to_email,
        to_name=to_name,
        from_email=config.sender.from_email,
        from_name=config.sender.from_name,
        rendered=rendered,
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=config.sender.unsubscribe_mailto or config.sender.from_email,
        message_id=message_id,
        date=now,
        campaign="lifecycle",
        year=now.year,
        stage=kind,
        reply_to=config.sender.reply_to,
    )
    batch = Batch(envelope, [Recipient(None, to_email, to_name, unsubscribe_url, message_id)], personal=False)
    with delivery.session() as transport:
        (result,) = delivery.deliver(transport, batch)
    return result
