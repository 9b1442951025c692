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
from scheduler.transports.base import Transport


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

    def post_to_esp(self, payload: list[tuple[Path, bytes]], messages: Sequence[Outgoing]) -> list[str | None]:
        errors: list[str | None] = []
        for path, data in payload:
            try:
                write_atomically(path, data)
                errors.append(None)
            except OSError as exc:
                # Nothing written yet and the outbox is unwritable: stop the run.
                nothing_written = all(e is not None for e in errors)
                if nothing_written and exc.errno in (errno.EACCES, errno.EROFS):
                    raise TransportError(f"cannot write to outbox {self.root}: {exc.strerror}", fatal=True) from None
                errors.append(f"cannot write {path.name}: {exc.strerror}")
        return errors

    def parse_recipient_status(self, response: list[str | None], messages: Sequence[Outgoing]) -> list[Result]:
        return [
            Result(m.entry_id or 0, State.SENT, m.message_id, None)
            if err is None
            else Result(m.entry_id or 0, State.FAILED, None, err)
            for m, err in zip(messages, response, strict=True)
        ]
