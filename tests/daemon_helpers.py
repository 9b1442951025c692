"""Shared helpers for the daemon tests: a project in tmp_path (config.toml and the
templates copied from the repository, the campaigns replaced by the test's own), the
subscribers, an APScheduler that is stepped by hand under time-machine, a NOTIFY_SOCKET
receiver, and reading the outbox back with the ``email`` package."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler

from scheduler.config import Config, load_config
from scheduler.content.links import Signer
from scheduler.service.daemon import Daemon
from scheduler.service.notify import Notifier
from scheduler.store import Store, SubscriberRow

ROOT = Path(__file__).resolve().parents[1]
KEY = "test-signing-key-0123456789abcdef"
SEASON_ZONES = ("Europe/Berlin", "America/Los_Angeles", "Asia/Baku", "Australia/Sydney", "Pacific/Kiritimati")


def campaign_toml(
    *,
    campaign_id: str = "spring",
    event_date: date = date(1990, 4, 4),
    zone: str = "Asia/Baku",
    stages: Sequence[tuple[str, int, str]] = (("reminder", 7, "02:30:00"), ("day-of", 0, "02:30:00")),
    late_cutoff_hours: int = 6,
    languages: Sequence[str] = ("en", "az"),
) -> str:
    """A campaign using the repository's black-january templates (stage ids must be
    ``reminder`` / ``day-of``, the ones those templates exist for)."""
    langs = ", ".join(f'"{lang}"' for lang in languages)
    out = f"""
[[campaign]]
id = "{campaign_id}"
title = "Spring Remembrance"
event_date = {event_date.isoformat()}
timezone = "{zone}"
silence_time = 12:00:00
languages = [{langs}]
templates = "templates/black-january"
late_cutoff_hours = {late_cutoff_hours}
"""
    for stage_id, days, at in stages:
        out += f'\n  [[campaign.stage]]\n  id = "{stage_id}"\n  days_before = {days}\n  send_time = {at}\n'
    return out


def write_config(
    folder: Path,
    campaigns: str,
    *,
    name: str = "config.toml",
    outbox: str = "outbox",
    organizers: Iterable[str] = (),
    batch_size: int = 100,
    claim_size: int | None = None,
) -> Path:
    """The repository's config.toml with the test's campaigns, outbox and organizers."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    head = text.split("[[campaign]]", 1)[0]
    emails = ", ".join(f'"{e}"' for e in organizers)
    head = re.sub(r"(?m)^emails\s*=.*$", f"emails = [{emails}]", head)
    head = re.sub(
        r"(?m)^outbox_dir\s*=.*$",
        f'outbox_dir = "{outbox}"\nbatch_size = {batch_size}' + (f"\nclaim_size = {claim_size}" if claim_size else ""),
        head,
    )
    if not (folder / "templates").exists():
        shutil.copytree(ROOT / "templates", folder / "templates")
    path = folder / name
    path.write_text(head + campaigns, encoding="utf-8")
    return path


def add_subscribers(
    config: Config, per_zone: dict[str, int], now: datetime, language: str = "en", tag: str = ""
) -> list[str]:
    rows = [
        SubscriberRow(f"{zone.replace('/', '-').lower()}-{tag}{i}@example.com", f"Sub {i}", language, zone)
        for zone, n in per_zone.items()
        for i in range(n)
    ]
    store = Store(config.database_url)
    store.upsert_subscribers(rows, "import", now)
    store.close()
    return [r.email for r in rows]


def due_now_campaign(minutes_ago: int = 20, late_cutoff_hours: int = 12) -> str:
    """A campaign whose day-of stage became due ``minutes_ago`` on the real clock for
    subscribers in UTC: for the subprocess tests, which cannot be time-travelled."""
    due = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    if (due.month, due.day) == (2, 29):
        due -= timedelta(days=1)
    return campaign_toml(
        campaign_id="now",
        event_date=date(1990, due.month, due.day),
        zone="UTC",
        stages=[("day-of", 0, due.strftime("%H:%M:%S"))],
        late_cutoff_hours=late_cutoff_hours,
    )


def project(tmp_path: Path, campaigns: str, **kwargs: Any) -> tuple[Path, Config]:
    path = write_config(tmp_path, campaigns, **kwargs)
    return path, load_config(path)


class SteppingScheduler(BaseScheduler):
    """APScheduler's own job processing (misfire grace, coalescing, next fire times),
    run one step at a time in the test's thread: the test moves time-machine to the next
    job's time and calls :meth:`step`, instead of sleeping in BlockingScheduler."""

    def __init__(self) -> None:
        super().__init__(timezone=UTC, executors={"default": DebugExecutor()})

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def wakeup(self) -> None:
        pass

    def step(self) -> None:
        self._process_jobs()

    def next_planned(self) -> datetime | None:
        """The next wake the plan armed (the safety tick and watchdog excluded)."""
        times = [j.next_run_time for j in self.get_jobs() if j.id.split("@")[0] in ("due", "cutoff", "heads-up")]
        return min(times) if times else None


# -- the outbox and the ledger -----------------------------------------------------


@dataclass(frozen=True)
class Mail:
    path: Path
    to: str
    campaign: str
    stage: str
    date: datetime
    subject: str
    msg: EmailMessage


def read_outbox(*folders: Path) -> list[Mail]:
    out = []
    for folder in folders:
        for path in sorted(folder.rglob("*.eml")):
            with path.open("rb") as fh:
                msg = email.message_from_binary_file(fh, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            campaign, _year, stage = str(msg["X-Anniversary-Campaign"]).split("/")
            out.append(
                Mail(
                    path,
                    msg["To"].addresses[0].addr_spec,
                    campaign,
                    stage,
                    msg["Date"].datetime.astimezone(UTC),
                    str(msg["Subject"]),
                    msg,
                )
            )
    return out


def ledger(db: Path) -> list[tuple[Any, ...]]:
    """(campaign, year, stage, email, state, reason) straight from SQLite."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT l.campaign, l.year, l.stage, s.email, l.state, l.reason, l.id "
            "FROM ledger l JOIN subscriber s ON s.id = l.subscriber_id ORDER BY l.id"
        ).fetchall()


# -- real processes --------------------------------------------------------------------


def daemon_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM")}
    env.update({"ANNIVERSARY_SIGNING_KEY": KEY, "PYTHONUNBUFFERED": "1"}, **extra)
    return env


def start_daemon(config: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler", *args, "daemon", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self, address: str) -> None:
        self.address = address  # as put in NOTIFY_SOCKET
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.received: list[str] = []

    def wait_for(self, wanted: str, timeout: float = 20.0) -> str:
        """Collect datagrams until one has a line starting with ``wanted``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                break
            self.received.append(data)
            if any(line.startswith(wanted) for line in data.splitlines()):
                return data
        raise AssertionError(f"no {wanted!r} within {timeout} s; got {self.received!r}")

    def close(self) -> None:
        self.sock.close()


def Z(text: str) -> datetime:
    """An ISO date and time, read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def stepping_daemon(config: Config | Path) -> tuple[Daemon, SteppingScheduler]:
    """A Daemon on a SteppingScheduler, with the config (loaded now when given as a
    path). Its clock is the edge that time-machine moves."""
    sched = SteppingScheduler()
    daemon = Daemon(
        load_config(config) if isinstance(config, Path) else config,
        clock=lambda: datetime.now(UTC),
        notifier=Notifier({}),
        scheduler=sched,
        signer=Signer(KEY.encode()),
    )
    return daemon, sched
