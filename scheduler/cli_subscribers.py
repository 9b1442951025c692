"""``anniversary subscribers ...``: add, import, export, list, count, remove."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TextIO

import click

from scheduler.cli import config_option, get_config, utcnow
from scheduler.errors import UsageError
from scheduler.models import Status
from scheduler.store import Store
from scheduler.subscribers import normalize_email, read_csv, validate_row

EXPORT_COLUMNS = ("email", "name", "language", "timezone", "status", "consent_at", "consent_source")


def _store(config_path: Path) -> tuple[Store, list[str]]:
    config = get_config(config_path)
    # Every campaign's languages are acceptable; the first campaign's first is the fallback.
    languages: list[str] = []
    for campaign in config.campaign:
        languages += [lang for lang in campaign.languages if lang not in languages]
    return Store(config.database_url), languages


@click.group()
def subscribers() -> None:
    """Manage subscribers.

    \b
    Example:
        anniversary subscribers import examples/subscribers.csv
        anniversary subscribers count
    """


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="Name used in the greeting.")
@click.option("--language", default=None, help="Language code, e.g. en, az, ru, tr.")
@click.option("--timezone", "zone", required=True, help="IANA zone, e.g. America/Los_Angeles.")
@config_option
def add(email: str, name: str, language: str | None, zone: str, config_path: Path) -> None:
    """Add (or update) one active subscriber; consent is recorded as given via the CLI.

    \b
    Example:
        anniversary subscribers add ana@example.com --name Ana --language az --timezone Asia/Baku
    """
    store, languages = _store(config_path)
    try:
        row, warning = validate_row(email, name, language or languages[0], zone, languages)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    counts = store.upsert_subscribers([row], "cli", utcnow())
    verb = next(k for k, v in counts.items() if v)
    click.echo(f"{row.email}: {verb}")


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@config_option
def import_(csv_file: Path, config_path: Path) -> None:
    """Import a CSV with the header email,name,language,timezone (other columns are ignored).

    Bad rows are reported with their line number and skipped; good rows are imported.
    Re-importing the same file changes nothing.

    \b
    Example:
        anniversary subscribers import subscribers.csv
    """
    store, languages = _store(config_path)
    report = read_csv(csv_file, languages)
    for line in report.warnings:
        click.echo(f"Warning: {line}", err=True)
    for line in report.errors:
        click.echo(f"Error: {line}", err=True)
    counts = store.upsert_subscribers(report.rows, "import", utcnow())
    click.echo(
        f"{counts['added']} added, {counts['updated']} updated, {counts['unchanged']} unchanged, "
        f"{len(report.errors)} rejected"
    )
    if report.errors:
        sys.exit(1)


@subscribers.command("export")
@click.argument("output", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--status", type=click.Choice([s.value for s in Status]), default=None)
@config_option
def export(output: TextIO, status: str | None, config_path: Path) -> None:
    """Write subscribers as CSV (to stdout by default); the file imports back unchanged.

    \b
    Example:
        anniversary subscribers export backup.csv
    """
    store, _ = _store(config_path)
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in store.iter_subscribers(Status(status) if status else None):
        writer.writerow([row[c].isoformat() if c == "consent_at" else row[c] for c in EXPORT_COLUMNS])


@subscribers.command("list")
@click.option("--status", type=click.Choice([s.value for s in Status]), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=None)
@config_option
def list_(status: str | None, limit: int | None, config_path: Path) -> None:
    """List subscribers, one per line.

    \b
    Example:
        anniversary subscribers list --status active --limit 20
    """
    store, _ = _store(config_path)
    for i, row in enumerate(store.iter_subscribers(Status(status) if status else None)):
        if limit is not None and i >= limit:
            break
        click.echo(f"{row['email']}\t{row['name']}\t{row['language']}\t{row['timezone']}\t{row['status']}")


@subscribers.command("count")
@config_option
def count(config_path: Path) -> None:
    """Count subscribers by status.

    \b
    Example:
        anniversary subscribers count
    """
    store, _ = _store(config_path)
    counts = store.count_subscribers()
    for status in Status:
        click.echo(f"{status.value}\t{counts.get(status.value, 0)}")
    click.echo(f"total\t{sum(counts.values())}")


@subscribers.command("remove")
@click.argument("email")
@config_option
def remove(email: str, config_path: Path) -> None:
    """Delete a subscriber and their ledger history (no personal data stays).

    \b
    Example:
        anniversary subscribers remove ana@example.com
    """
    store, _ = _store(config_path)
    try:
        address = normalize_email(email)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    row = store.get_subscriber(address)
    if row is None or not store.remove_subscriber(address):
        raise UsageError(f"no subscriber {address!r}")
    click.echo(f"{row['email']}: removed")
