"""``anniversary subscribers ...``: add, import, export, list, count, remove."""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from scheduler import subscribers as people
from scheduler.cli.common import config_option, get_config, open_store, utcnow
from scheduler.core.outcomes import Status
from scheduler.lifecycle import privacy

# Every C0 and C1 control character, TAB and ESC included, as \xNN: a name from a file or
# an older release can then never move the cursor, change colours or split a column.
_VISIBLE = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


def _visible(value: str) -> str:
    return value if value.isprintable() else value.translate(_VISIBLE)


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
def add(email: str, name: str, language: str | None, zone: str, config_path: Path | None) -> None:
    """Add one active subscriber, consent recorded as given via the CLI, or update an
    existing one's name, language and zone (their status stays). Prints the address as stored.

    \b
    Example:
        anniversary subscribers add ana@example.com --name Ana --language az --timezone Asia/Baku
    """
    config = get_config(config_path)
    added = people.add(config, open_store(config), email, name=name, language=language, zone=zone, now=utcnow())
    if added.warning:
        click.echo(f"Warning: {added.warning}", err=True)
    click.echo(f"{added.email}: {added.outcome}")


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@config_option
def import_(csv_file: Path, config_path: Path | None) -> None:
    """Import a CSV with the header email,name,language,timezone.

    The optional columns status, consent_at (ISO 8601 with an offset) and consent_source,
    as an export writes them, set a new subscriber's status and consent; empty or absent,
    they are active, now and "import". An existing subscriber's status never changes
    here. Other columns are ignored.

    Bad rows are reported with their line number and skipped; good rows are imported.
    Re-importing the same file changes nothing. A cell written as export writes a
    formula-like value ('=..., '+..., ''=...) loses its first '. Control characters
    are dropped from names. The file must be UTF-8; a field is at most 65,536
    characters. Where a quote is never closed or a field is too long, the rows after
    it are not read: that is reported with its line, and the rows before it are imported.

    The file is read as it is written to the database, 5,000 rows to a transaction,
    never held whole; on a terminal a progress bar shows the rows taken and the rate.

    \b
    Example:
        anniversary subscribers import subscribers.csv
    """
    config = get_config(config_path)
    with _import_bar(csv_file) as on_progress:
        imported = people.import_csv(config, open_store(config), csv_file, utcnow(), on_progress=on_progress)
    for line in imported.report.warnings:
        click.echo(f"Warning: {line}", err=True)
    for line in imported.report.errors:
        click.echo(f"Error: {line}", err=True)
    counts = imported.counts
    suppressed = f", {counts['suppressed']} left out (on the suppression list)" if counts.get("suppressed") else ""
    click.echo(
        f"{counts['added']} added, {counts['updated']} updated, {counts['unchanged']} unchanged, "
        f"{len(imported.report.errors)} rejected{suppressed}"
    )
    if imported.report.errors:
        sys.exit(1)


@contextmanager
def _import_bar(path: Path) -> Iterator[people.ImportProgress | None]:
    """On a terminal, a bar of the file read so far with the rows taken and their rate,
    as ``send`` shows one (README: Subscribers); elsewhere nothing, so cron mail and
    pipes get only the summary."""
    if not sys.stderr.isatty():
        yield None
        return
    bar = Progress(
        TextColumn(f"importing {path.name}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
    )
    task = bar.add_task("import", total=None, rows=0, rate=0.0)
    started = time.monotonic()

    def on_progress(rows: int, done: int, size: int) -> None:
        rate = rows / max(time.monotonic() - started, 1e-9)
        bar.update(task, completed=done, total=size, rows=rows, rate=rate)

    with bar:
        yield on_progress


@subscribers.command("export")
@click.argument("output", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--status", type=click.Choice([s.value for s in Status]), default=None)
@config_option
def export(output: TextIO, status: str | None, config_path: Path | None) -> None:
    """Write subscribers as CSV (to stdout by default); imported into an empty database,
    the file restores each subscriber's status and consent exactly.

    A cell that starts with = + - @, TAB or CR, which a spreadsheet would run as a
    formula, is written with a ' in front, as is one that starts with ' before one of
    those; import takes exactly that ' off again.

    \b
    Example:
        anniversary subscribers export backup.csv
    """
    config = get_config(config_path)
    csv.writer(output, lineterminator="\n").writerows(
        people.export_rows(open_store(config), Status(status) if status else None)
    )


@subscribers.command("list")
@click.option("--status", type=click.Choice([s.value for s in Status]), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=None)
@config_option
def list_(status: str | None, limit: int | None, config_path: Path | None) -> None:
    """List subscribers, one per line: email, name, language, time zone and status,
    separated by tabs. Control characters show as \\xNN.

    \b
    Example:
        anniversary subscribers list --status active --limit 20
    """
    config = get_config(config_path)
    for i, row in enumerate(open_store(config).iter_subscribers(Status(status) if status else None)):
        if limit is not None and i >= limit:
            break
        fields = (row["email"], row["name"], row["language"], row["timezone"], row["status"])
        click.echo("\t".join(_visible(str(v)) for v in fields))


@subscribers.command("count")
@config_option
def count(config_path: Path | None) -> None:
    """Count subscribers by status.

    \b
    Example:
        anniversary subscribers count
    """
    config = get_config(config_path)
    counts = open_store(config).count_subscribers()
    for status in Status:
        click.echo(f"{status.value}\t{counts.get(status.value, 0)}")
    click.echo(f"total\t{sum(counts.values())}")


@subscribers.command("remove")
@click.argument("email")
@config_option
def remove(email: str, config_path: Path | None) -> None:
    """Delete a subscriber and their ledger history (no personal data stays).

    \b
    Example:
        anniversary subscribers remove ana@example.com
    """
    config = get_config(config_path)
    click.echo(f"{people.remove(open_store(config), email)}: removed")


@subscribers.command("suppress")
@click.argument("email")
@click.option("--reason", required=True, help="Why, in a few words; kept as 'by hand: REASON'.")
@config_option
def suppress(email: str, reason: str, config_path: Path | None) -> None:
    """Never mail an address again, for bounces read by hand (SMTP): a subscriber
    becomes bounced with the reason; an address not on the list goes onto the
    suppression list as a keyed hash, so no later import adds it. Needs the signing key.

    \b
    Example:
        anniversary subscribers suppress ana@example.com --reason "550 5.1.1 user unknown"
    """
    config = get_config(config_path)
    if privacy.suppress(config, open_store(config), email, reason, utcnow()):
        click.echo(f"{email}: suppressed; the subscriber is no longer mailed")
    else:
        click.echo(f"{email}: suppressed; not a subscriber, kept on the suppression list so no import adds it")


def _privacy() -> None:
    # show and forget live with the other privacy commands (cli/privacy.py).
    from scheduler.cli import privacy

    subscribers.add_command(privacy.show)
    subscribers.add_command(privacy.forget)


_privacy()
