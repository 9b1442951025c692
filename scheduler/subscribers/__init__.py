"""The subscriber list: importing, adding, exporting, listing, counting and removing
people, over the store. The ``anniversary subscribers`` commands call these; so will
the web app's sign-up and unsubscribe pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from scheduler.config import Config
from scheduler.core.outcomes import Status
from scheduler.core.values import normalize_email
from scheduler.errors import UsageError
from scheduler.store import Store
from scheduler.subscribers.csvfile import ImportReport, escape_cell, read_csv, validate_row

EXPORT_COLUMNS = ("email", "name", "language", "timezone", "status", "consent_at", "consent_source")


def languages(config: Config) -> list[str]:
    """Every campaign's languages are acceptable; the first campaign's first is the fallback."""
    out: list[str] = []
    for campaign in config.campaign:
        out += [lang for lang in campaign.languages if lang not in out]
    return out


@dataclass(frozen=True)
class Imported:
    report: ImportReport
    counts: dict[str, int]


def import_csv(config: Config, store: Store, path: Path, now: datetime, source: str = "import") -> Imported:
    """Every bad row reported with its line, the good ones added or updated. A new
    subscriber takes the file's status and consent where it has them (an export
    restores exactly); an existing one keeps theirs, so no file re-activates someone
    who unsubscribed or bounced."""
    report = read_csv(path, languages(config))
    return Imported(report, store.upsert_subscribers(report.rows, source, now))


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
    (done,) = store.upsert_subscribers_each([row], "cli", now)
    return Added(done.email, done.outcome, warning)


def export_rows(store: Store, status: Status | None = None) -> Iterator[list[Any]]:
    """The export's rows, header first: imported into an empty database, the file
    restores each subscriber's status and consent exactly. A cell a spreadsheet would
    run as a formula is written with a ``'`` in front (see :func:`escape_cell`); the
    import takes it off again."""
    yield list(EXPORT_COLUMNS)
    for row in store.iter_subscribers(status):
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
