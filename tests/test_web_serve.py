"""`anniversary serve`: --bind checked like [web] bind, one line and exit 2 when bad; a
real start upgrades a database made by release 0.1.0, prints where it listens, and
answers /healthz with uvicorn's Server header turned off."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import Project

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "subscribers-0.1.0.db"


@pytest.mark.parametrize(
    "bind", ["nope", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "host name:80", "127.0.0.1:8080\nX"]
)
def test_a_bad_bind_is_one_line_and_exit_2(run, bind: str) -> None:
    result = run("serve", "--bind", bind)
    assert result.exit_code == 2
    assert result.stderr == f"Error: --bind: must be HOST:PORT, like 127.0.0.1:8080 (got {bind!r})\n"


def test_a_bad_bind_in_config_is_one_line_and_exit_2(run, project: Project) -> None:
    project.config.write_text(project.config.read_text() + '\n[web]\nbind = "everywhere"\n', encoding="utf-8")
    result = run("serve")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "web.bind" in result.stderr and "everywhere" in result.stderr


def test_a_port_in_use_is_one_line_and_exit_2(run) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--bind", f"127.0.0.1:{port}")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"Error: --bind 127.0.0.1:{port}: cannot listen there (Address already in use)\n"


def test_help_shows_an_example(run) -> None:
    out = run("serve", "--help").stdout
    assert "Example:\n      anniversary serve --config /etc/anniversary/config.toml\n" in out


def test_serve_upgrades_an_old_database_then_answers_healthz_without_a_server_header(project: Project) -> None:
    shutil.copy(FIXTURE, project.root / "subscribers.db")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "serve", "--bind", f"127.0.0.1:{port}", "--config", str(project.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/anniversary/healthz", timeout=2) as answer:
                    status, body, headers = answer.status, answer.read(), answer.headers
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.1)
        assert (status, body) == (200, b"ok\n")
        assert "server" not in {k.lower() for k in headers}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    # uvicorn shuts down cleanly, then re-raises the SIGTERM it caught; systemd counts
    # an exit by SIGTERM as a clean stop.
    assert proc.returncode == -signal.SIGTERM, err
    assert "Finished server process" in err
    assert out == f"serving https://example.org/anniversary at http://127.0.0.1:{port}/anniversary/\n"
    assert list(project.root.glob("subscribers.db.backup-*"))
    db = sqlite3.connect(project.root / "subscribers.db")
    columns = {row[1] for row in db.execute("pragma table_info(subscriber)")}
    assert {"consent_ip", "confirmed_at", "region"} <= columns
