"""Logging at the edge: one line per event, no secrets.

Under systemd (``JOURNAL_STREAM`` names our stderr) the journal adds its own timestamps,
so lines carry only a syslog-style ``<N>`` level prefix that journald understands
(sd-daemon(3)).
"""

from __future__ import annotations

import logging
import os
import sys

_SYSLOG_LEVEL = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_SYSLOG_LEVEL.get(record.levelno, 6)}>"
        return prefix + " ".join(super().format(record).splitlines())


class _LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(super().format(record).splitlines())


def stderr_is_journal() -> bool:
    """systemd.exec(5): JOURNAL_STREAM is ``device:inode`` of the stream connected to the
    journal; a process whose stderr was redirected elsewhere (a shell started from a
    service, ``2>file``) inherits the variable but must not use the journal format."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    try:
        st = os.fstat(sys.stderr.fileno())
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (ValueError, OSError, AttributeError):
        return False


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if stderr_is_journal():
        handler.setFormatter(_JournalFormatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_LineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # python-http-client logs request headers, the Authorization bearer among them, at
    # DEBUG: keep it and urllib3 quiet whatever the root level is.
    # A long send reports progress every few seconds even when the rest is quiet
    # (README: Transports, "a progress line every few seconds").
    logging.getLogger("scheduler.delivery.progress").setLevel(min(level, logging.INFO))
    for noisy in ("python_http_client", "python_http_client.client", "sendgrid", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
