"""Reading and validating subscriber input: CSV files and single entries. No SQL here:
rows that pass go to :meth:`scheduler.store.Store.upsert_subscribers`.

A file may also carry the export's ``status``, ``consent_at`` and ``consent_source``
columns, so that an export restores exactly; an empty cell, like an absent column,
means the default (active, now, the import)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from scheduler.core.outcomes import Status
from scheduler.core.values import check_zone, normalize_email, one_line
from scheduler.errors import UsageError
from scheduler.store import SubscriberRow
from scheduler.store.subscribers import ImportRow

REQUIRED_COLUMNS = ("email", "name", "language", "timezone")
#: honored for new subscribers only: an import never changes an existing one's status
CONSENT_COLUMNS = ("status", "consent_at", "consent_source")

#: (status, consent_at, consent_source), each None where the file leaves it to the default
Consent = tuple[Status | None, datetime | None, str | None]


@dataclass
class ImportReport:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def validate_row(
    email: str, name: str, language: str, timezone: str, languages: list[str]
) -> tuple[SubscriberRow, str | None]:
    """One subscriber, or ValueError naming what is wrong. Returns (row, warning)."""
    address = normalize_email(email)
    try:
        zone = check_zone(timezone.strip())
    except ValueError as exc:
        raise ValueError(f"timezone {exc}") from None
    lang = language.strip()
    warning = None
    if lang not in languages:
        warning = f"language {lang!r} is not one of {', '.join(languages)}; using {languages[0]!r}"
        lang = languages[0]
    return SubscriberRow(address, one_line(name), lang, zone), warning


def validate_consent(status: str, consent_at: str, consent_source: str) -> Consent:
    """A file's status, consent time and source, each None when empty; ValueError
    naming the column and what it allows."""
    state = None
    if status := status.strip():
        try:
            state = Status(status.lower())
        except ValueError:
            allowed = ", ".join(s.value for s in Status)
            raise ValueError(f"status must be one of {allowed} (got {status!r})") from None
    at = None
    if consent_at := consent_at.strip():
        try:
            at = datetime.fromisoformat(consent_at)
        except ValueError:
            at = None
        # A time without an offset names no instant: guessing a zone would move the
        # record of when someone agreed, so it is refused like any other bad value.
        if at is None or at.tzinfo is None:
            raise ValueError(
                "consent_at must be an ISO 8601 time with a UTC offset such as 2024-05-01T09:30:00+00:00"
                f" (got {consent_at!r})"
            )
    return state, at, one_line(consent_source) or None


def read_csv(path: Path, languages: list[str]) -> ImportReport:
    """Every bad row is reported with its line number and reason; good rows are kept."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise UsageError(
            f"{path}:1: header must have the columns {','.join(REQUIRED_COLUMNS)} (missing: {', '.join(missing)})"
        )
    reader.fieldnames = header
    seen: dict[str, int] = {}
    for record in _records(reader):
        line, row = record
        try:
            values = {c: (row.get(c) or "") for c in REQUIRED_COLUMNS + CONSENT_COLUMNS}
            base, warning = validate_row(
                values["email"], values["name"], values["language"], values["timezone"], languages
            )
            consent = validate_consent(values["status"], values["consent_at"], values["consent_source"])
            sub = ImportRow(base.email, base.name, base.language, base.timezone, *consent)
        except ValueError as exc:
            report.errors.append(f"{path}:{line}: {exc}")
            continue
        key = sub.email.lower()
        if key in seen:
            report.errors.append(f"{path}:{line}: {sub.email} repeats line {seen[key]}")
            continue
        seen[key] = line
        if warning:
            report.warnings.append(f"{path}:{line}: {warning}")
        report.rows.append(sub)
    return report


def _records(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UsageError(f"line {reader.line_num}: {exc}") from None
        yield reader.line_num, row
