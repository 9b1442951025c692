"""Saves pushed to the page (README: The studio): one watcher per app (``watchfiles``)
on every template folder and on config.toml, and a server-sent event (the HTML Living
Standard's ``text/event-stream``) to every open page when any of them changes.

config.toml is watched through its folder, not recursively, because editors often save
by writing a new file and renaming it over the old one; a watch on the file itself
would end at the first such save."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from watchfiles import awatch

log = logging.getLogger(__name__)

#: a comment line this often keeps proxies and the browser from closing a quiet stream
KEEPALIVE_SECONDS = 15.0


class Changes:
    """A counter of saves that pages wait on."""

    def __init__(self) -> None:
        self.version = 0
        self._changed = asyncio.Condition()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def bump(self) -> None:
        async with self._changed:
            self.version += 1
            self._changed.notify_all()

    def start(self, config_file: Path, folders: list[Path]) -> None:
        """Watch ``folders`` (recursively) and ``config_file``; call once, in the loop."""
        config_file = Path(os.path.abspath(config_file))
        folders = [f for f in folders if f.is_dir()]
        if folders:
            self._tasks.append(asyncio.create_task(self._watch(folders, recursive=True)))
        if config_file.parent.is_dir():
            wanted = str(config_file)
            self._tasks.append(asyncio.create_task(self._watch([config_file.parent], recursive=False, only=wanted)))

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _watch(self, paths: list[Path], *, recursive: bool, only: str | None = None) -> None:
        def keep(_change: object, path: str) -> bool:
            return only is None or path == only

        try:
            async for _ in awatch(
                *paths, watch_filter=keep, recursive=recursive, stop_event=self._stop, debounce=400, step=50
            ):
                await self.bump()
        except asyncio.CancelledError:
            raise
        except Exception:  # a folder removed under the watcher: pages stop updating, the app goes on
            log.warning("the studio stopped watching %s", ", ".join(map(str, paths)), exc_info=True)

    async def events(self) -> AsyncIterator[str]:
        """The stream one page reads: ``event: change`` with the new version at each
        save, a comment now and then so the connection stays open."""
        seen = self.version
        yield f"retry: 1000\nevent: hello\ndata: {seen}\n\n"
        while not self._stop.is_set():
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), KEEPALIVE_SECONDS)
            if self.version != seen:
                seen = self.version
                yield f"event: change\ndata: {seen}\n\n"
            else:
                yield ": keepalive\n\n"
