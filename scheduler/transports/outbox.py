"""The default transport: one RFC 5322 ``.eml`` file per message, written atomically
(temporary file, fsync, rename) so a file either is whole or is not there.

A content group's message is built once (:class:`~scheduler.content.mime.GroupMime`)
and each recipient's written from it. A batch's files are written by a few threads:
each fsync waits for the disk (about 1.8 ms here, one at a time), and several waiting
together share a journal commit (BENCHMARKS.md, the outbox)."""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from scheduler.content.groups import Batch
from scheduler.content.message import Outgoing, to_email_message
from scheduler.content.mime import GroupMime, GroupMimes
from scheduler.core.outcomes import Result, State
from scheduler.errors import TransportError
from scheduler.transports.base import FatalAfter, Transport

#: errors that no later message would escape (POSIX: disk full, quota, read-only, denied)
_STOPS_THE_RUN = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES})
#: files written at once: fsyncs in flight together share the journal's commits
WRITERS = 8


def outbox_name(out: Outgoing) -> str:
    entry = (
        f"{out.entry_id:09d}"
        if out.entry_id is not None
        else "test-" + out.message_id.strip("<>").split("@")[0].rsplit(".", 1)[-1]
    )
    return f"{out.campaign}/{out.year}/{out.stage}/{entry}.eml"


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _written(item: tuple[Path, bytes]) -> OSError | None:
    try:
        write_atomically(*item)
    except OSError as exc:
        return exc
    return None


class OutboxTransport(Transport):
    name = "outbox"
    max_batch = 500

    def __init__(self, root: Path) -> None:
        self.root = root
        self._writers: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.mimes = GroupMimes()

    def close(self) -> None:
        with self._lock:
            writers, self._writers = self._writers, None
        if writers is not None:
            writers.shutdown()

    def prepare(self, batch: Batch) -> GroupMime:
        return self.mimes.get(batch.envelope, batch.personal)

    def send_group(self, batch: Batch, prepared: Any = None) -> list[Result]:
        """Each recipient's file, from the group's message built once. Each file goes
        to the writers as soon as it is made, so the next is made while it is written."""
        mime: GroupMime = prepared if isinstance(prepared, GroupMime) else self.prepare(batch)
        messages = batch.messages()
        pool = self._pool()
        writing = []
        for m, r in zip(messages, batch.recipients, strict=True):
            data = mime.message(m, r.substitutions() if batch.personal else {})
            writing.append(pool.submit(_written, (self.root / outbox_name(m), data)))
        return self._answers([w.result() for w in writing], messages)

    @classmethod
    def from_config(cls, options: Any, base_dir: Path) -> OutboxTransport:
        return cls(base_dir / options.outbox_dir)

    def build_message_payload(self, messages: Sequence[Outgoing]) -> list[tuple[Path, bytes]]:
        """Messages one by one, through the ``email`` package (the reference path)."""
        return [(self.root / outbox_name(m), to_email_message(m).as_bytes()) for m in messages]

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._writers is None:
                self._writers = ThreadPoolExecutor(WRITERS, thread_name_prefix="outbox-write")
            return self._writers

    def post_to_esp(self, payload: list[tuple[Path, bytes]], messages: Sequence[Outgoing]) -> list[Result]:
        return self._answers(list(self._pool().map(_written, payload)), messages)

    def _answers(self, errors: list[OSError | None], messages: Sequence[Outgoing]) -> list[Result]:
        """One result per message from what writing its file raised."""
        done: list[Result] = []
        stop: OSError | None = None
        for exc, m in zip(errors, messages, strict=True):
            if exc is None:
                done.append(Result(m.entry_id or 0, State.SENT, m.message_id, None))
            elif exc.errno in _STOPS_THE_RUN:
                stop = stop or exc
            else:
                # The same words for every message the same cause failed, so `status`
                # groups them; the file name is in the message id.
                done.append(
                    Result(m.entry_id or 0, State.FAILED, None, f"cannot write to outbox {self.root}: {exc.strerror}")
                )
        if stop is not None:
            # A full, read-only or forbidden outbox fails every message after this one
            # too: stop, keep what was written (files written beside it by the other
            # threads included), give the rest back.
            why = f"cannot write to outbox {self.root}: {stop.strerror}"
            raise FatalAfter(why, done) if done else TransportError(why, fatal=True) from None
        return done

    def parse_recipient_status(self, response: list[Result], messages: Sequence[Outgoing]) -> list[Result]:
        return response
