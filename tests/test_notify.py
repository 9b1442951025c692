"""systemd notifications over a real NOTIFY_SOCKET (sd_notify(3)), from the module and
from the daemon running as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from daemon_helpers import KEY, NotifySocket, add_subscribers, daemon_env, due_now_campaign, project, start_daemon

from scheduler.logs import stderr_is_journal
from scheduler.service.notify import Notifier, socket_address


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest) -> Iterator[NotifySocket]:
    if request.param == "path":
        # sun_path holds 108 bytes: pytest's tmp_path can be longer than that.
        folder = tempfile.mkdtemp(prefix="ntf", dir="/tmp")
        sock = NotifySocket(os.path.join(folder, "notify"))
    else:
        sock = NotifySocket(f"@anniversary-test-{uuid.uuid4().hex}")
    yield sock
    sock.close()


def test_notify_socket_address_forms() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@abc/def") == b"\0abc/def"
    assert socket_address("relative/path") is None
    assert socket_address("vsock:2:1234") is None


def test_notify_without_notify_socket_is_a_silent_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    assert notifier.ready("armed") is False


def test_notify_sends_ready_and_one_line_status_to_the_socket(notify_socket: NotifySocket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.address})
    assert notifier.ready("armed;\nnext: reminder")
    assert notify_socket.wait_for("READY=1", timeout=2) == "READY=1\nSTATUS=armed; next: reminder"
    notifier.close()


def test_notify_watchdog_every_half_of_watchdog_usec_and_only_for_our_pid() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"}
    assert Notifier(env).watchdog_interval == 15.0
    assert Notifier({**env, "WATCHDOG_PID": str(os.getpid())}).watchdog_interval == 15.0
    assert Notifier({**env, "WATCHDOG_PID": "1"}).watchdog_interval is None  # another process's
    assert Notifier({**env, "WATCHDOG_USEC": "soon"}).watchdog_interval is None


def test_notify_to_a_vanished_socket_does_not_raise(tmp_path: Path) -> None:
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).ready("x") is False


def test_daemon_process_notifies_ready_then_watchdog_then_stopping_on_sigterm(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    config_path, config = project(tmp_path, due_now_campaign())
    add_subscribers(config, {"UTC": 3}, datetime(2026, 1, 1, tzinfo=UTC))
    env = daemon_env(NOTIFY_SOCKET=notify_socket.address, WATCHDOG_USEC="400000")
    proc = start_daemon(config_path, env)
    try:
        ready = notify_socket.wait_for("READY=1")
        assert "STATUS=armed; next now " in ready  # what comes next
        # Pings come from the scheduler's interval job, every 0.2 s (half of 0.4 s).
        notify_socket.wait_for("WATCHDOG=1")
        notify_socket.wait_for("WATCHDOG=1")
        proc.send_signal(signal.SIGTERM)
        stopping = notify_socket.wait_for("STOPPING=1")
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    order = [m.splitlines()[0] for m in notify_socket.received]
    assert order[0] == "READY=1" and order[-1] == "STOPPING=1" and "STATUS=" in stopping
    assert order.count("WATCHDOG=1") >= 2
    assert "catch-up on start: now " in err.decode()


def test_daemon_process_sighup_with_a_broken_config_keeps_running_and_says_why(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    config_path, _ = project(tmp_path, due_now_campaign())
    proc = start_daemon(config_path, daemon_env(NOTIFY_SOCKET=notify_socket.address))
    try:
        notify_socket.wait_for("READY=1")
        config_path.write_text(config_path.read_text() + "\n[nonsense\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        notify_socket.wait_for("RELOADING=1")
        refused = notify_socket.wait_for("READY=1")
        assert "STATUS=reload refused: " in refused and "invalid TOML" in refused
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    lines = [line for line in err.decode().splitlines() if "refused" in line]
    assert len(lines) == 1 and "keeping the running config and templates" in lines[0]


def test_daemon_process_under_journald_logs_level_prefixed_lines_without_timestamps(tmp_path: Path) -> None:
    config_path, _ = project(tmp_path, due_now_campaign())
    # JOURNAL_STREAM names the device:inode of the stream journald reads (systemd.exec(5)):
    # here a pipe we read ourselves.
    read_fd, write_fd = os.pipe()
    st = os.fstat(write_fd)
    env = daemon_env(JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "daemon", "--config", str(config_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=write_fd,
    )
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as journal:
        seen = b""
        while b"daemon started" not in seen:
            line = journal.readline()
            assert line, seen
            seen += line
        proc.send_signal(signal.SIGTERM)
        seen += journal.read()
    assert proc.wait(timeout=30) == 0, seen.decode()
    lines = seen.decode().splitlines()
    assert lines and all(line.startswith(("<6>INFO scheduler.", "<4>WARNING scheduler.")) for line in lines), lines
    assert KEY not in seen.decode()


def test_journal_format_only_when_stderr_is_the_journal_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An inherited JOURNAL_STREAM with stderr sent elsewhere must not switch formats.
    with (tmp_path / "err.log").open("w") as fh:
        monkeypatch.setattr(sys, "stderr", fh)
        st = os.fstat(fh.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        assert stderr_is_journal()
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino + 1}")
        assert not stderr_is_journal()
        monkeypatch.setenv("JOURNAL_STREAM", "not-a-stream")
        assert not stderr_is_journal()


def test_daemon_process_sigint_stops_like_sigterm_without_a_traceback(tmp_path: Path) -> None:
    config_path, _ = project(tmp_path, due_now_campaign())
    notify = NotifySocket(f"@anniversary-test-{uuid.uuid4().hex}")
    proc = start_daemon(config_path, daemon_env(NOTIFY_SOCKET=notify.address))
    # Bounds for a loaded machine (this failed under a load average of 4-5 on two
    # cores): each is long, none is waited out unless something is wrong.
    try:
        notify.wait_for("READY=1", timeout=120)
        # READY=1 goes out just before the scheduler's loop starts. A signal in that gap
        # ends the loop by its own look at the stop flag, racing the thread that logs
        # "received SIGINT". The catch-up wake's status (sent when its run is done)
        # comes from inside the loop: after it, only the signal watcher wakes the loop.
        while "last run:" not in notify.wait_for("STATUS=", timeout=120):
            pass
        proc.send_signal(signal.SIGINT)
        stopping = notify.wait_for("STOPPING=1", timeout=120)
        _, err = proc.communicate(timeout=120)  # all of stderr, after the exit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
    text = err.decode()
    assert proc.returncode == 0, text
    assert "Traceback" not in text
    assert "received SIGINT" in text, text
    assert "STATUS=stopping after the batch in flight" in stopping
