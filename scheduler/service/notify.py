"""Talking to systemd without libsystemd: the ``NOTIFY_SOCKET`` datagram protocol.

sd_notify(3): the service manager passes ``NOTIFY_SOCKET``, the address of an
``AF_UNIX``/``SOCK_DGRAM`` socket. A path starting with ``/`` is a file-system socket; one
starting with ``@`` is in the Linux abstract namespace, where the ``@`` stands for a
leading NUL byte. Each datagram is newline-separated ``KEY=VALUE`` assignments
(``READY=1``, ``STATUS=...``, ``WATCHDOG=1``, ``STOPPING=1``, ``RELOADING=1``).

When ``WatchdogSec=`` is set, systemd exports ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``,
the process it is meant for); the service must send ``WATCHDOG=1`` more often than
that; sd_watchdog_enabled(3) recommends every half of it.

Without ``NOTIFY_SOCKET`` (not under systemd, or ``Type=simple``) every call is a no-op,
so the daemon behaves the same from a terminal.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def socket_address(value: str) -> str | bytes | None:
    """The ``sendto`` address for a ``NOTIFY_SOCKET`` value, or None if unusable.

    ``@name`` is the abstract socket ``\\0name`` (unix(7)); systemd itself only hands out
    absolute paths or ``@`` names, so anything else (a relative path, ``vsock:``) is
    ignored rather than guessed at.
    """
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def _status_line(text: str) -> str:
    # One assignment per line: a newline inside STATUS= would start a new key.
    return " ".join(text.split())


class Notifier:
    """Sends sd_notify(3) messages; silent when not started by systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self.address = socket_address(raw) if raw else None
        if raw and self.address is None:
            log.warning("NOTIFY_SOCKET=%r is neither a path nor an @abstract name; not notifying", raw)
        self.watchdog_usec = _watchdog_usec(env)
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None when off."""
        if not self.watchdog_usec or not self.enabled:
            return None
        return self.watchdog_usec / 2 / 1_000_000

    def send(self, *assignments: str) -> bool:
        """Send one datagram; True when it went out. Never raises: a broken notify socket
        must not stop the campaign (systemd will notice the missing READY or watchdog)."""
        if self.address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.sendto(payload, self.address)
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc.strerror or exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={_status_line(status)}")

    def status(self, status: str) -> bool:
        return self.send(f"STATUS={_status_line(status)}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets Type=notify-reload (systemd 253+) match the reload to this
        # message; older managers ignore the key (sd_notify(3)).
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self, status: str = "stopping") -> bool:
        return self.send("STOPPING=1", f"STATUS={_status_line(status)}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    """WATCHDOG_USEC when it is meant for this process (sd_watchdog_enabled(3): if
    WATCHDOG_PID is set and is another pid, the watchdog belongs to someone else)."""
    raw = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(raw)
    except ValueError:
        return None
    return usec if usec > 0 else None
