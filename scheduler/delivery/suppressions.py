"""Before a run with the SendGrid transport, its suppression lists come into ours
(README: Bounces, complaints and suppression), so nobody SendGrid suppressed is mailed
again, whatever the webhook missed: an event lost while the web app was down, an
address suppressed by hand in SendGrid's console, or a list older than this database.

==================  ==========================================
SendGrid's list     the subscriber becomes
==================  ==========================================
global unsubscribes ``unsubscribed``
bounces             ``bounced``
blocks              ``bounced``
spam reports        ``complained``
invalid emails      ``bounced``
==================  ==========================================

An address on no subscriber goes onto the suppression list as its keyed hash, so a later
import cannot add it. A status is changed only where it would change (the store never
lets an unsubscribe overwrite a bounce or a complaint), and a hash already on the list is
not written again, so syncing the same lists twice writes nothing.

A sync that fails (SendGrid unreachable, a key without the Suppressions read permission)
raises the transport's fatal error: the run stops before it claims anyone, exit 3, and
the next run tries again. ``[transport.sendgrid] sync_suppressions = false`` turns it off.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from scheduler.config import Config
from scheduler.content.links import Signer
from scheduler.content.tokens import Keyring
from scheduler.core.outcomes import Status
from scheduler.store import Store
from scheduler.transports.base import Transport
from scheduler.transports.sendgrid import SendgridTransport
from scheduler.transports.sendgrid_suppressions import LISTS, Suppressed, read_suppressions

log = logging.getLogger(__name__)

STATUS_OF = {
    "unsubscribes": Status.UNSUBSCRIBED,
    "bounces": Status.BOUNCED,
    "blocks": Status.BOUNCED,
    "spam_reports": Status.COMPLAINED,
    "invalid_emails": Status.BOUNCED,
}
#: what a status may become here: the store's rule, checked first so that an address
#: already suppressed costs no write
_CHANGES = {
    Status.ACTIVE: set(Status),
    Status.PENDING: set(Status),
    Status.UNSUBSCRIBED: {Status.BOUNCED, Status.COMPLAINED},
}
#: a later sync in the same process asks only for entries this much older than the
#: newest it has seen, in case SendGrid lists an entry with an earlier time stamp late
OVERLAP = 86_400
#: up to this many addresses are looked up one by one rather than by reading every subscriber
LOOKUP_EACH = 2_000


@dataclass
class SyncReport:
    #: entries read per list
    read: Counter[str] = field(default_factory=Counter)
    #: subscribers whose status changed
    subscribers: int = 0
    #: addresses on no subscriber newly put on the suppression list
    hashes: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        lists = ", ".join(f"{n} {name}" for name, n in self.read.items())
        return (
            f"SendGrid suppression lists read ({lists}): {self.subscribers} subscriber(s) suppressed, "
            f"{self.hashes} other address(es) added to the suppression list, in {self.seconds:.1f} s"
        )


class SuppressionSync:
    """One per :class:`~scheduler.delivery.runs.Delivery`: syncs once for each ``now``
    (every stage of one ``run-due`` shares it), and remembers the newest entry of each
    list it has read, so the daemon's later runs read only what is new."""

    def __init__(self, config: Config, signer: Signer) -> None:
        self.config = config
        self.signer = signer
        self.synced_for: datetime | None = None
        self.since: dict[str, int] = {}

    def before_run(self, transport: Transport, store: Store, now: datetime) -> SyncReport | None:
        if not isinstance(transport, SendgridTransport) or not transport.settings.sync_suppressions:
            return None
        if self.synced_for == now:
            return None
        keyring = Keyring(self.signer, Signer.previous_from_env(self.config.sender.previous_signing_keys_env))
        started = time.monotonic()
        lists = read_suppressions(transport, self.since)
        report = apply_lists(store, keyring, lists, now)
        report.seconds = time.monotonic() - started
        for name in LISTS:
            newest = max((e.created for e in lists[name]), default=0)
            if newest:
                self.since[name] = max(self.since.get(name, 0), newest - OVERLAP)
        self.synced_for = now
        log.info("%s", report.describe())
        return report


def apply_lists(store: Store, keyring: Keyring, lists: dict[str, list[Suppressed]], now: datetime) -> SyncReport:
    """Bring SendGrid's lists into the store (see the module's table)."""
    report = SyncReport()
    wanted: dict[str, tuple[Status, str]] = {}
    for name in LISTS:
        entries = lists.get(name, [])
        report.read[name] = len(entries)
        for entry in entries:
            key = entry.email.lower()
            status = STATUS_OF[name]
            # Of two lists naming one address, the stronger status stands (as opt_out does).
            if key not in wanted or _stronger(status, wanted[key][0]):
                wanted[key] = (status, _reason(name, entry))
    # A few addresses are looked up one by one; many, against one pass over the list.
    rows = (
        (row for row in map(store.get_subscriber, list(wanted)) if row is not None)
        if len(wanted) <= LOOKUP_EACH
        else store.iter_subscribers()
    )
    for row in rows:
        hit = wanted.pop(row["email_key"], None)
        if hit is None:
            continue
        status, reason = hit
        if status in _CHANGES.get(Status(row["status"]), set()):
            store.opt_out(int(row["id"]), status, reason, now)
            report.subscribers += 1
    # What is left names nobody on the list: their keyed hashes, where not there yet.
    hashes = {keyring.email_hashes(key)[0]: key for key in wanted}
    known = store.suppressed(hashes)
    new = [(email_hash, wanted[key][1]) for email_hash, key in hashes.items() if email_hash not in known]
    # One transaction for all of them (a first sync can bring tens of thousands).
    store.add_hashes(new, "sendgrid sync", now)
    report.hashes += len(new)
    # An address added to the list while it was being read is caught by the next sync.
    return report


def _stronger(new: Status, old: Status) -> bool:
    return old is Status.UNSUBSCRIBED and new is not Status.UNSUBSCRIBED


def _reason(name: str, entry: Suppressed) -> str:
    """Never SendGrid's free text: it can quote the address, which must not be kept
    beside a hash (README: Privacy). The enhanced status code (RFC 3463) is kept."""
    label = {
        "unsubscribes": "SendGrid global unsubscribe",
        "bounces": "SendGrid bounce",
        "blocks": "SendGrid block",
        "spam_reports": "SendGrid spam report",
        "invalid_emails": "SendGrid invalid email",
    }[name]
    code = entry.status
    ok = code.count(".") == 2 and all(part.isdigit() for part in code.split(".")) and code[0] in "245"
    return f"{label} {code}" if ok else label
