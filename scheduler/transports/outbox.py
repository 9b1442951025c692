"""The default transport: one RFC 5322 ``.eml`` file per message, written atomically
(temporary file, made durable, renamed) so a file either is whole or is not there.

A content group's message is built once (:class:`~scheduler.content.mime.GroupMime`)
and each recipient's written from it. A batch's files are made durable together: on
Linux 5.8 or later one ``syncfs`` for the batch, one journal commit, instead of an
``fsync`` each, about 1.8 ms apiece here and most of the outbox's time
(BENCHMARKS.md, the outbox); elsewhere, or when ``syncfs`` fails, an ``fsync`` each.
``syncfs`` also flushes what other programs wrote to that file system, so on a disk
busy with other writes a batch waits for them too."""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import platform
import re
from collections.abc import Callable, Sequence
from email.errors import HeaderDefect
from pathlib import Path
from typing import Any

from scheduler.content.groups import Batch
from scheduler.content.message import Outgoing, to_email_message
from scheduler.content.mime import GroupMime, GroupMimes, unaddressable
from scheduler.core.outcomes import Result, State
from scheduler.errors import TransportError
from scheduler.transports.base import FatalAfter, Transport, answers_kept

#: errors that no later message would escape (POSIX: disk full, quota, read-only, denied)
_STOPS_THE_RUN = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES})


def outbox_name(out: Outgoing) -> str:
    entry = (
        f"{out.entry_id:09d}"
        if out.entry_id is not None
        else "test-" + out.message_id.strip("<>").split("@")[0].rsplit(".", 1)[-1]
    )
    return f"{out.campaign}/{out.year}/{out.stage}/{entry}.eml"


def _find_syncfs() -> Callable[[int], int] | None:
    """libc's ``syncfs`` where it reports write errors (Linux 5.8 and later; before,
    it returned 0 whatever happened, and an fsync each is the only way to know)."""
    found = re.match(r"(\d+)\.(\d+)", platform.release())
    if platform.system() != "Linux" or not found or tuple(map(int, found.groups())) < (5, 8):
        return None
    try:
        syncfs: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    return syncfs


_SYNCFS = _find_syncfs()
#: temporary names unique to this process (O_EXCL guards against another one's)
_SEQUENCE = itertools.count()


def _new_temporary(folder: Path) -> tuple[int, str]:
    for _ in range(100):
        tmp = f"{folder}/.tmp-{os.getpid()}-{next(_SEQUENCE)}.part"
        try:
            # Owner-only, as mkstemp makes them: a message holds a subscriber's address.
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def write_all(
    items: Sequence[tuple[Path, bytes]], *, syncfs: Callable[[int], int] | None = _SYNCFS
) -> list[OSError | None]:
    """Each file written atomically (whole or not there), the batch made durable at
    once before any is renamed; what each raised, or None."""
    errors: list[OSError | None] = [None] * len(items)
    written: list[tuple[int, int, str]] = []
    folders: dict[Path, int] = {}  # each folder's first file, for its file system's sync
    for i, (path, data) in enumerate(items):
        folder = path.parent
        try:
            if folder not in folders:
                folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = _new_temporary(folder)
        except OSError as exc:
            errors[i] = exc
            continue
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            os.close(fd)
            Path(tmp).unlink(missing_ok=True)
            errors[i] = exc
            continue
        folders.setdefault(folder, fd)
        written.append((i, fd, tmp))
    try:
        for fd in folders.values():
            if syncfs is None or syncfs(fd) != 0:
                raise OSError(ctypes.get_errno() if syncfs else errno.ENOSYS, "syncfs")
    except OSError:
        for i, fd, _ in written:
            try:
                os.fsync(fd)
            except OSError as exc:
                errors[i] = exc
    for i, fd, tmp in written:
        os.close(fd)
        try:
            if errors[i] is None:
                os.replace(tmp, items[i][0])
                continue
        except OSError as exc:
            errors[i] = exc
        Path(tmp).unlink(missing_ok=True)
    return errors


class OutboxTransport(Transport):
    name = "outbox"
    max_batch = 500

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mimes = GroupMimes()

    def prepare(self, batch: Batch) -> GroupMime:
        return self.mimes.get(batch.envelope, batch.personal)

    def send_group(self, batch: Batch, prepared: Any = None) -> list[Result]:
        """Each recipient's file, from the group's message built once."""
        mime: GroupMime = prepared if isinstance(prepared, GroupMime) else self.prepare(batch)
        messages = batch.messages()
        payload: list[tuple[Path, bytes]] = []
        written: list[Outgoing] = []
        refused: dict[int, Result] = {}
        for i, (m, r) in enumerate(zip(messages, batch.recipients, strict=True)):
            try:
                data = mime.message(m, r.substitutions() if batch.personal else {})
            except HeaderDefect as exc:
                refused[i] = Result(m.entry_id or 0, State.FAILED, None, unaddressable(self.name, m.to_email, exc))
                continue
            payload.append((self.root / outbox_name(m), data))
            written.append(m)
        if not refused:
            return self.post_to_esp(payload, messages)
        with answers_kept(list(refused.values())):
            answers = iter(self.post_to_esp(payload, written) if payload else [])
        return [refused[i] if i in refused else next(answers) for i in range(len(messages))]

    @classmethod
    def from_config(cls, options: Any, base_dir: Path) -> OutboxTransport:
        return cls(base_dir / options.outbox_dir)

    def build_message_payload(self, messages: Sequence[Outgoing]) -> list[tuple[Path, bytes]]:
        """Messages one by one, through the ``email`` package (the reference path)."""
        return [(self.root / outbox_name(m), to_email_message(m).as_bytes()) for m in messages]

    def post_to_esp(self, payload: list[tuple[Path, bytes]], messages: Sequence[Outgoing]) -> list[Result]:
        """One result per message from what writing its file raised."""
        errors = write_all(payload)
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
            # too: stop, keep what was written (the batch's files after it included),
            # give the rest back.
            why = f"cannot write to outbox {self.root}: {stop.strerror}"
            raise FatalAfter(why, done) if done else TransportError(why, fatal=True) from None
        return done

    def parse_recipient_status(self, response: list[Result], messages: Sequence[Outgoing]) -> list[Result]:
        return response
