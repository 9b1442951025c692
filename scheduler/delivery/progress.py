"""Showing a send as it runs (README: Transports, progress).

On a terminal: a Rich progress bar with sent, failed, remaining and the rate. Elsewhere
(cron, systemd, a pipe): one log line every ``interval`` seconds saying the same, so a
journal shows a long run moving without a line per message. At the end: a table of the
ledger states of each stage.

:class:`Progress` is the ``on_progress`` hook :class:`scheduler.delivery.runs.Delivery` calls
after each recorded batch.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from scheduler.core.outcomes import State
from scheduler.delivery.runs import RunCounts

log = logging.getLogger(__name__)


def _line(counts: RunCounts, rate: float) -> str:
    done = counts.total()
    remaining = max((counts.expected or done) - done, 0)
    return (
        f"{counts.campaign} {counts.year} {counts.stage}: sent {counts.counts.get('sent', 0)}, "
        f"failed {counts.counts.get('failed', 0)}, unknown {counts.counts.get('unknown', 0)}, "
        f"remaining {remaining}, {rate:.0f}/s"
    )


class Progress:
    def __init__(
        self,
        *,
        stream: IO[str] | None = None,
        tty: bool | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = interval
        self.clock = clock
        self._started: dict[int, float] = {}
        self._last_line = 0.0
        self._bar: RichProgress | None = None
        self._tasks: dict[int, TaskID] = {}

    # -- the hook ----------------------------------------------------------------------

    def __call__(self, counts: RunCounts, n: int) -> None:
        now = self.clock()
        key = id(counts)
        start = self._started.setdefault(key, now)
        rate = counts.total() / (now - start) if now > start else 0.0
        if self.tty:
            self._update_bar(counts, rate)
        elif n == 0 or now - self._last_line >= self.interval or counts.total() >= (counts.expected or -1):
            self._last_line = now
            log.info("%s", _line(counts, rate))

    def _update_bar(self, counts: RunCounts, rate: float) -> None:
        if self._bar is None:
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=Console(file=self.stream, force_terminal=True),
                transient=False,
            )
            self._bar.start()
        key = id(counts)
        detail = (
            f"sent {counts.counts.get('sent', 0)} failed {counts.counts.get('failed', 0)} "
            f"unknown {counts.counts.get('unknown', 0)} remaining "
            f"{max((counts.expected or 0) - counts.total(), 0)} {rate:.0f}/s"
        )
        if key not in self._tasks:
            self._tasks[key] = self._bar.add_task(
                f"{counts.campaign} {counts.year} {counts.stage}", total=counts.expected, detail=detail
            )
        self._bar.update(self._tasks[key], completed=counts.total(), detail=detail)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def summary_table(results: Sequence[RunCounts]) -> Table:
    """Ledger states of this run, one row per stage, one column per state."""
    table = Table(title="ledger states of this run")
    table.add_column("stage")
    for state in State:
        table.add_column(state.value, justify="right")
    table.add_column("note")
    for r in results:
        table.add_row(
            f"{r.campaign} {r.year} {r.stage}",
            *(str(r.counts.get(state.value, 0)) for state in State),
            r.stopped or ("see `anniversary status` for unknown entries" if r.counts.get("unknown") else ""),
        )
    return table


def print_summary(results: Sequence[RunCounts], stream: IO[str] | None = None, **console: Any) -> None:
    Console(file=stream or sys.stdout, **console).print(summary_table(results))
