"""What every command shares: the clock, ``--config`` (before or after the command),
``--now``, opening the store, and printing a run's counts. The only module that reads
the clock."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from scheduler.config import DEFAULT_CONFIG, Config, load_config
from scheduler.content.links import signer_for
from scheduler.delivery.progress import Progress, print_summary
from scheduler.delivery.runs import Delivery, ProgressHook, RunCounts
from scheduler.errors import UsageError
from scheduler.store import Store
from scheduler.transports import make_transport

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
    signer = signer_for(config, ephemeral_ok=ephemeral_key)
    transport = make_transport(config.transport, config.base_dir) if sends else None
    return Delivery(config, open_store(config) if store else None, signer, transport=transport, on_progress=progress)


@contextmanager
def sending() -> Iterator[Progress]:
    """Around a command's send: a progress bar (or log lines), and what exists before
    the send (templates, CLDR data, the ORM) set aside from the cyclic collector, which
    would otherwise walk all of it again for every few objects a recipient allocates
    (BENCHMARKS.md, SendGrid delivery)."""
    gc.freeze()
    try:
        with Progress() as progress:
            yield progress
    finally:
        gc.unfreeze()


def print_counts(results: list[RunCounts]) -> None:
    """A table of ledger states on a terminal; one plain line per stage otherwise, for
    scripts and cron mail."""
    if not results:
        click.echo("nothing due")
        return
    if sys.stdout.isatty():
        print_summary(results)
        return
    for r in results:
        click.echo(r.describe() + (f" ({r.stopped})" if r.stopped else ""))
