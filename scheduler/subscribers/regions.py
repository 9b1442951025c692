"""The optional ``region`` column of a subscriber import (README: The statement for the
record): each listed subscriber's ISO 3166-2 region, for the action's targets.

A pass of its own after the import, only for a file whose header has the column, so
the import's streamed fast path is untouched (BENCHMARKS.md, import). An empty cell
leaves the subscriber's region as it is; a region that is not a code is reported with
its line, and the rest of the file still counts."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from scheduler.content.targets import REGION_RE
from scheduler.core.values import normalize_email
from scheduler.store import Store

#: addresses written per transaction
CHUNK = 5000


def has_region_column(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            first = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return "region" in (h.strip().lower() for h in first)


def import_regions(path: Path, store: Store, now: datetime) -> list[str]:
    """Set the region of each subscriber the file lists with one; one error line per
    bad region (``file:line: ...``). Rows the import refused set nothing: their address
    names no subscriber, or not the one the file meant."""
    errors: list[str] = []
    pending: dict[str, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        email_at, region_at = header.index("email"), header.index("region")
        line = 2
        try:
            for record in reader:
                where, line = line, reader.line_num + 1
                if len(record) <= max(email_at, region_at):
                    continue
                region = record[region_at].strip().upper()
                if not region:
                    continue
                if not REGION_RE.match(region):
                    errors.append(
                        f"{path}:{where}: region {record[region_at][:40]!r} is not an ISO 3166-2 code like US-TX"
                        " (or empty); the subscriber's region is left as it was"
                    )
                    continue
                try:
                    pending[normalize_email(record[email_at]).lower()] = region
                except ValueError:
                    continue  # the import reported this row already
                if len(pending) >= CHUNK:
                    store.set_regions(pending, now)
                    pending = {}
        except (csv.Error, UnicodeDecodeError):
            pass  # the import reported where the file stops being readable
    if pending:
        store.set_regions(pending, now)
    return errors
