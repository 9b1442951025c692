"""What every command shares: the clock, ``--config`` (before or after the command),
``--now``, opening the store, and printing a run's counts. The only module that reads
the clock."""

from __future__ import annotations

import gc
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scheduler.config import DEFAULT_CONFIG, Config, load_config
from scheduler.errors import UsageError
from scheduler.store import Store

if TYPE_CHECKING:
    # Imported where they are used: a command that sends nothing (status, count) does
    # not load the send pipeline (BENCHMARKS.md, status at a million).
    from scheduler.delivery.progress import Progress
    from scheduler.delivery.runs import Delivery, ProgressHook, RunCounts

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = (
    "config.toml to use (default ./config.toml or $ANNIVERSARY_CONFIG); "
    "relative paths inside it resolve against its folder."
)


def utcnow() -> datetime:
    """The clock. Only commands call it; everything below takes ``now`` as a parameter."""
    return datetime.now(UTC)


def parse_now(value: str | None) -> datetime:
    if value is None:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--now: not an ISO-8601 date-time: {value!r} (e.g. 2027-01-13T06:00:00Z)") from None
    if moment.tzinfo is None:
        raise UsageError(f"--now: {value!r} has no UTC offset; add Z or +04:00")
    return moment.astimezone(UTC)


def config_option(func: F) -> F:
    """``--config`` after the command; ``anniversary --config X status`` works too."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=CONFIG_HELP,
    )(func)


def get_config(path: Path | None) -> Config:
    """The command's ``--config``, else the one given before the command, else
    ``$ANNIVERSARY_CONFIG``, else ./config.toml."""
    if path is None:
        ctx = click.get_current_context(silent=True)
        root = ctx.find_root() if ctx else None
        path = (root.obj or {}).get("config_path") if root else None
    return load_config(path or DEFAULT_CONFIG)


def open_store(config: Config) -> Store:
    return Store(config.database_url)


def delivery(
    config: Config,
    *,
    progress: ProgressHook | None = None,
    sends: bool = True,
    ephemeral_key: bool = False,
    store: bool = True,
) -> Delivery:
    """The send pipeline for a command. ``sends``: its transport is built now, so a
    missing secret stops the command before it reads or writes anything.
    ``ephemeral_key``: a command that only shows messages may sign links with a
    throwaway key when none is set."""
    from scheduler.content.links import signer_for
    from scheduler.delivery.runs import Delivery
    from scheduler.transports import make_transport

    # Every secret the command needs first, in this order: the signing key, the
    # transport's, then the database's (Config.database_url) as the store opens. Opening
    # creates a new database, so a command that cannot run leaves no empty one behind.
    signer = signer_for(config, ephemeral_ok=ephemeral_key)
    transport = make_transport(config.transport, config.base_dir) if sends else None
    return Delivery(config, open_store(config) if store else None, signer, transport=transport, on_progress=progress)


@contextmanager
def sending() -> Iterator[Progress]:
    """Around a command's send: a progress bar (or log lines), and what exists before
    the send (templates, CLDR data, the ORM) set aside from the cyclic collector, which
    would otherwise walk all of it again for every few objects a recipient allocates
    (BENCHMARKS.md, SendGrid delivery)."""
    from scheduler.delivery.progress import Progress

    gc.freeze()
    try:
        with Progress() as progress:
            yield progress
    finally:
        gc.unfreeze()


#: a --now further than this from the real clock is a pretend clock
PRETEND_AFTER = timedelta(minutes=1)


def describe_gap(gap: timedelta) -> str:
    seconds = abs(gap.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 60:.0f} minutes"


def finish(results: list[RunCounts]) -> None:
    """Print a run's counts; exit 1 when any entry failed, so cron and systemd see it
    (README: Troubleshooting, exit codes)."""
    print_counts(results)
    for r in results:
        if r.not_rendered:
            click.echo(f"Error: {r.not_rendered}", err=True)
    if any(r.counts.get("failed") or r.not_rendered for r in results):
        sys.exit(1)


def print_counts(results: list[RunCounts]) -> None:
    """A table of ledger states on a terminal; one plain line per stage otherwise, for
    scripts and cron mail."""
    if not results:
        click.echo("nothing due")
        return
    if sys.stdout.isatty():
        from scheduler.delivery.progress import print_summary

        print_summary(results)
        return
    for r in results:
        click.echo(r.describe() + (f" ({r.stopped})" if r.stopped else ""))


def reset_demo(config: Config) -> None:
    """Start the demo afresh: its own SQLite file and outbox, nothing else."""
    db = Path(config.database_url.removeprefix("sqlite:///"))
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)
    shutil.rmtree(config.outbox_dir, ignore_errors=True)
    db.parent.mkdir(parents=True, exist_ok=True)
