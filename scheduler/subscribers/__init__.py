"""The subscriber list: importing, adding, exporting, listing, counting and removing
people, over the store. The ``anniversary subscribers`` commands call these; so will
the web app's sign-up and unsubscribe pages."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from scheduler.config import Config
from scheduler.core.outcomes import Status
from scheduler.core.values import normalize_email
from scheduler.errors import UsageError
from scheduler.store import Store
from scheduler.subscribers.csvfile import ImportReport, escape_cell, read_rows, validate_row
from scheduler.subscribers.regions import has_region_column, import_regions

EXPORT_COLUMNS = ("email", "name", "language", "timezone", "status", "consent_at", "consent_source", "region")


def languages(config: Config) -> list[str]:
    """Every campaign's languages are acceptable; the first campaign's first is the fallback."""
    out: list[str] = []
    for campaign in config.campaign:
        out += [lang for lang in campaign.languages if lang not in out]
    return out


@dataclass(frozen=True)
class Imported:
    report: ImportReport
    #: added, updated, unchanged, and suppressed (forgotten addresses left out)
    counts: dict[str, int]


#: rows written per transaction: large enough that a commit costs little, small enough
#: that a send waiting for the write lock waits a fraction of a second (BENCHMARKS.md, import)
IMPORT_CHUNK = 5_000

#: ``on_progress(rows_taken, bytes_read, file_size)``, after each transaction
ImportProgress = Callable[[int, int, int], None]


def nobody(email_key: str) -> bool:
    """An empty suppression list."""
    return False


def suppression_check(config: Config, store: Store) -> Callable[[str], bool]:
    """Whether a lower-cased address is on the suppression list (README: Privacy): its
    keyed hash under any signing key, current or previous, is there. The list is read
    once, whole (hashes only), so an import asks no query per row; an empty list needs
    no key at all."""
    if not store.has_suppressions():
        return nobody
    from scheduler.content.tokens import Keyring

    keyring = Keyring.from_config(config)
    hashes = store.suppression_hashes()
    return lambda email_key: any(h in hashes for h in keyring.email_hashes(email_key))


def import_csv(
    config: Config,
    store: Store,
    path: Path,
    now: datetime,
    source: str = "import",
    *,
    is_suppressed: Callable[[str], bool] | None = None,
    on_progress: ImportProgress | None = None,
) -> Imported:
    """Every bad row reported with its line, the good ones added or updated. A new
    subscriber takes the file's status and consent where it has them (an export
    restores exactly); an existing one keeps theirs, so no file re-activates someone
    who unsubscribed or bounced. An address for which ``is_suppressed(email_key)`` (the
    lower-cased address) is true, one forgotten or suppressed (README: Privacy), is left out and only
    counted. The file is streamed: read, checked and written :data:`IMPORT_CHUNK` rows
    to a transaction, never held whole."""
    if is_suppressed is None:
        is_suppressed = suppression_check(config, store)
    report = ImportReport()
    rows = read_rows(path, languages(config), report)
    counts = {"added": 0, "updated": 0, "unchanged": 0, "suppressed": 0}
    taken = 0
    while chunk := list(itertools.islice(rows, IMPORT_CHUNK)):
        taken += len(chunk)
        kept = [r for r in chunk if not is_suppressed(r.email.lower())]
        counts["suppressed"] += len(chunk) - len(kept)
        for outcome, n in store.import_subscribers(kept, source, now).items():
            counts[outcome] += n
        if on_progress is not None:
            on_progress(taken, report.position, report.size)
    if on_progress is not None:
        on_progress(taken, report.size, report.size)
    if has_region_column(path):
        # README: The statement for the record; a pass of its own, off the fast path.
        report.errors.extend(import_regions(path, store, now))
    return Imported(report, counts)


@dataclass(frozen=True)
class Added:
    #: the address as stored: an existing subscriber's own spelling, else the normalized form
    email: str
    #: "added", "updated" or "unchanged"
    outcome: str
    warning: str | None


def add(
    config: Config, store: Store, email: str, *, name: str, language: str | None, zone: str, now: datetime
) -> Added:
    langs = languages(config)
    try:
        row, warning = validate_row(email, name, language or langs[0], zone, langs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if store.get_subscriber(row.email) is None and suppression_check(config, store)(row.email.lower()):
        raise UsageError(f"{row.email} is on the suppression list (forgotten or suppressed): not added")
    (done,) = store.upsert_subscribers_each([row], "cli", now)
    return Added(done.email, done.outcome, warning)


def export_rows(store: Store, status: Status | None = None) -> Iterator[list[Any]]:
    """The export's rows, header first: imported into an empty database, the file
    restores each subscriber's status and consent exactly. A cell a spreadsheet would
    run as a formula is written with a ``'`` in front (see :func:`escape_cell`); the
    import takes it off again."""
    yield list(EXPORT_COLUMNS)
    for row in store.iter_subscribers(status):
        if row["status"] == Status.FORGOTTEN:
            continue  # an erased row: nothing of it is personal data, nothing to restore
        yield [
            row[c].isoformat() if c == "consent_at" else escape_cell(row[c]) if row[c] else row[c]
            for c in EXPORT_COLUMNS
        ]


def remove(store: Store, email: str) -> str:
    """Delete a subscriber and their ledger rows; the address as it was stored."""
    try:
        address = normalize_email(email)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    row = store.get_subscriber(address)
    if row is None or not store.remove_subscriber(address):
        raise UsageError(f"no subscriber {address!r}")
    return str(row["email"])
