"""The default transport: one RFC 5322 ``.eml`` file per message, written atomically
(temporary file, fsync, rename) so a file either is whole or is not there."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scheduler.content.message import Outgoing, to_email_message
from scheduler.core.outcomes import Result, State
from scheduler.errors import TransportError
from scheduler.transports.base import FatalAfter, Transport

#: errors that no later message would escape (POSIX: disk full, quota, read-only, denied)
_STOPS_THE_RUN = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES})


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


class OutboxTransport(Transport):
    name = "outbox"
    max_batch = 500

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def from_config(cls, options: Any, base_dir: Path) -> OutboxTransport:
        return cls(base_dir / options.outbox_dir)

    def build_message_payload(self, messages: Sequence[Outgoing]) -> list[tuple[Path, bytes]]:
        return [(self.root / outbox_name(m), to_email_message(m).as_bytes()) for m in messages]

    def post_to_esp(self, payload: list[tuple[Path, bytes]], messages: Sequence[Outgoing]) -> list[Result]:
        done: list[Result] = []
        for (path, data), m in zip(payload, messages, strict=True):
            try:
                write_atomically(path, data)
            except OSError as exc:
                if exc.errno in _STOPS_THE_RUN:
                    # A full, read-only or forbidden outbox fails every message after
                    # this one too: stop, keep what was written, give the rest back.
                    why = f"cannot write to outbox {self.root}: {exc.strerror}"
                    raise FatalAfter(why, done) if done else TransportError(why, fatal=True) from None
                # The same words for every message the same cause failed, so `status`
                # groups them; the file name is in the message id.
                done.append(
                    Result(m.entry_id or 0, State.FAILED, None, f"cannot write to outbox {self.root}: {exc.strerror}")
                )
                continue
            done.append(Result(m.entry_id or 0, State.SENT, m.message_id, None))
        return done

    def parse_recipient_status(self, response: list[Result], messages: Sequence[Outgoing]) -> list[Result]:
        return response
