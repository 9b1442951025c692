"""Sending the statement for the record's letters (README: The statement for the
record): the queue's claimed deliveries, each through the configured transport.

A target's letter comes From the organization with Reply-To the subscriber, so the
office's answer reaches the person who wrote; the subscriber's name and postal address
are in its body. The subscriber's copy goes to them with their own unsubscribe link.
Each delivery is claimed before it is sent (:meth:`Store.claim_deliveries`) and its
answer recorded after, so a delivery is sent at most once, by one process."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from scheduler.config import Config
from scheduler.content.action import Letter, to_subscriber, to_target
from scheduler.content.groups import Batch, Recipient
from scheduler.content.links import Links, Signer
from scheduler.content.message import Outgoing, Rendered, make_message_id
from scheduler.core.outcomes import State
from scheduler.core.values import one_line
from scheduler.errors import TransportError
from scheduler.store import Store
from scheduler.store.letters import COPY, FAILED, SENT, Claimed
from scheduler.transports import make_transport
from scheduler.transports.base import Transport

log = logging.getLogger(__name__)

#: a delivery claimed this long ago and never answered was interrupted (the process
#: died while sending); it is marked failed rather than sent a second time
STALE_AFTER = timedelta(minutes=30)
#: the ledger's name for these messages (Message-ID, X-Anniversary-Campaign)
STAGE = "letter"


@dataclass
class Drained:
    sent: int = 0
    failed: int = 0
    #: (delivery id, why) of each failure
    reasons: list[tuple[int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.sent + self.failed


class LetterSender:
    """Sends the letters of one config; ``transport`` for tests, else the configured one."""

    def __init__(self, config: Config, store: Store, signer: Signer, transport: Transport | None = None) -> None:
        self.config = config
        self.store = store
        self.links = Links(config, signer)
        self._transport = transport
        self.domain = config.sender.from_email.rsplit("@", 1)[1]

    def drain(self, now: datetime, *, limit: int | None = None) -> Drained:
        """Send what the queue lets go now, campaign by campaign, at most ``limit``
        deliveries in all (None: everything each target's hourly limit allows)."""
        done = Drained()
        if self.store.abandon_stale(now - STALE_AFTER):
            log.warning("letters claimed more than %s ago were never answered; marked failed", STALE_AFTER)
        for campaign in self.config.campaign:
            if campaign.action is None:
                continue
            while limit is None or done.total < limit:
                want = 200 if limit is None else min(200, limit - done.total)
                claimed = self.store.claim_deliveries(campaign.id, campaign.action.per_target_per_hour, want, now)
                if not claimed:
                    break
                self._send(claimed, now, done)
        return done

    def _send(self, claimed: list[Claimed], now: datetime, done: Drained) -> None:
        transport = self._transport or make_transport(self.config.transport, self.config.base_dir)
        with transport:
            for row in claimed:
                try:
                    state, message_id, reason = self._one(transport, row, now)
                except TransportError as exc:
                    state, message_id, reason = State.FAILED, None, one_line(str(exc))[:500]
                    if exc.fatal:
                        # Nothing more can go now (a refused key, a server down): the rest
                        # of the claim fails too rather than waiting as "sending".
                        log.error("letters: %s", reason)
                except Exception as exc:  # one bad row must not strand the others as "sending"
                    log.exception("letter delivery %d could not be sent", row.id)
                    state, message_id, reason = State.FAILED, None, f"{type(exc).__name__}: {one_line(str(exc))[:300]}"
                if state is State.SENT:
                    done.sent += 1
                    self.store.finish_delivery(row.id, SENT, message_id, None, now)
                else:
                    done.failed += 1
                    done.reasons.append((row.id, reason or str(state)))
                    self.store.finish_delivery(row.id, FAILED, message_id, reason, now)

    def _one(self, transport: Transport, row: Claimed, now: datetime) -> tuple[State, str | None, str | None]:
        if row.subscriber_email.endswith("@invalid") or not row.name:
            return State.FAILED, None, "the subscriber was forgotten before the letter went out"
        letter = Letter(row.subject, row.text, row.name, row.address, row.language)
        sender = self.config.sender
        if row.kind == COPY:
            sent = self.store.letter_of(row.campaign, row.year, row.subscriber_id)
            names = [d["target_name"] for d in (sent or {}).get("deliveries", [])]
            rendered = to_subscriber(letter, names)
            to_email, to_name, reply_to = row.subscriber_email, row.name, sender.reply_to
            unsubscribe = self.links.unsubscribe(row.subscriber_id)
        else:
            rendered = to_target(letter, row.target_language, sender.from_name, sender.public_url)
            to_email, to_name, reply_to = row.target_email, row.target_name, row.subscriber_email
            # A target is on no list of ours: the header names the site, as the
            # organizers' heads-up does.
            unsubscribe = sender.public_url
        message_id = make_message_id(row.campaign, row.year, STAGE, row.id, self.domain)
        out = self._outgoing(rendered, row, to_email, to_name, reply_to, unsubscribe, message_id, now)
        if row.kind != COPY:
            # A person wrote and sent this letter: not "auto-generated" (RFC 3834 section 5),
            # which an office's filters may set aside as a robot's mail.
            out = replace(out, extra_headers={"Auto-Submitted": "no"})
        batch = Batch(out, [Recipient(None, to_email, to_name, unsubscribe, message_id)], personal=False)
        (result,) = transport.send_group(batch)
        return result.state, result.message_id or message_id, result.reason

    def _outgoing(
        self,
        rendered: Rendered,
        row: Claimed,
        to_email: str,
        to_name: str,
        reply_to: str | None,
        unsubscribe: str,
        message_id: str,
        now: datetime,
    ) -> Outgoing:
        sender = self.config.sender
        return Outgoing(
            entry_id=None,
            to_email=to_email,
            to_name=to_name,
            from_email=sender.from_email,
            from_name=sender.from_name,
            rendered=rendered,
            unsubscribe_url=unsubscribe,
            unsubscribe_mailto=sender.unsubscribe_mailto or sender.from_email,
            message_id=message_id,
            date=now,
            campaign=row.campaign,
            year=row.year,
            stage=STAGE,
            reply_to=reply_to,
        )
