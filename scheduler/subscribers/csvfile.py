"""Reading and validating subscriber input: CSV files and single entries. No SQL here:
rows that pass go to :meth:`scheduler.store.Store.upsert_subscribers`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scheduler.core.values import check_zone, normalize_email, one_line
from scheduler.errors import UsageError
from scheduler.store import SubscriberRow

REQUIRED_COLUMNS = ("email", "name", "language", "timezone")


@dataclass
class ImportReport:
    rows: list[SubscriberRow] = field(default_factory=list)
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
            values = {c: (row.get(c) or "") for c in REQUIRED_COLUMNS}
            sub, warning = validate_row(
                values["email"], values["name"], values["language"], values["timezone"], languages
            )
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
