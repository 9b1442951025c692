"""deploy/: the systemd units are linted with `systemd-analyze verify`, and the files say
what the README's Operations section asks of them.

`systemd-analyze verify` exits 0 on a misspelt key or a bad value, printing only a
warning, so any output at all fails the test. It also checks that ExecStart's binary
exists, and /opt/anniversary/venv/bin/anniversary does not exist on a test machine: the
test verifies copies in a temporary folder whose ExecStart points at this Python (same
arguments, an existing executable), and asserts that this is the only line changed.
`--man=no` skips checking Documentation= man pages, which minimal systems lack.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNITS = ("anniversary.service", "anniversary-run-due.service", "anniversary-run-due.timer")
BINARY = "/opt/anniversary/venv/bin/anniversary"
ANALYZE = shutil.which("systemd-analyze")


def keys(name: str) -> dict[str, list[str]]:
    """``Key`` -> values (systemd allows a key more than once), comments dropped."""
    out: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def verify(folder: Path, names: tuple[str, ...] = UNITS) -> str:
    """Copies of the units with ExecStart runnable here; returns everything printed."""
    for name in names:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        fixed, n = re.subn(
            rf"^ExecStart={re.escape(BINARY)} ", f"ExecStart={sys.executable} -m scheduler ", text, flags=re.M
        )
        assert n == (1 if name.endswith(".service") else 0), f"{name}: expected one ExecStart={BINARY}"
        (folder / name).write_text(fixed, encoding="utf-8")
    result = subprocess.run(
        [ANALYZE or "systemd-analyze", "verify", "--man=no", *(str(folder / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (result.stdout + result.stderr).strip() + (f"\n(exit {result.returncode})" if result.returncode else "")


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_prints_nothing_for_the_units(tmp_path: Path) -> None:
    assert verify(tmp_path) == ""


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_lint_catches_a_misspelt_key_that_the_tool_exits_0_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guard above must be able to fail: a copy with one key misspelt.
    broken = tmp_path / "deploy"
    shutil.copytree(DEPLOY, broken)
    unit = broken / "anniversary.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"), encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "DEPLOY", broken)
    out = tmp_path / "out"
    out.mkdir()
    assert "Unknown key 'ProtectSytem'" in verify(out)


def test_service_unit_is_hardened_type_notify_with_watchdog_and_secrets_from_a_file() -> None:
    unit = keys("anniversary.service")
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["ExecStart"] == [f"{BINARY} daemon --config /etc/anniversary/config.toml"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert unit["Restart"] == ["on-failure"] and unit["WatchdogSec"]
    assert unit["User"] == ["anniversary"] and unit["Group"] == ["anniversary"]
    assert unit["EnvironmentFile"] == ["/etc/anniversary/anniversary.env"]
    assert unit["ProtectSystem"] == ["strict"] and unit["NoNewPrivileges"] == ["true"]
    # The database (with its -wal/-shm files) and the outbox live in the one writable dir.
    assert unit["ReadWritePaths"] == ["/var/lib/anniversary"] and unit["StateDirectory"] == ["anniversary"]
    assert "Environment" not in unit  # no secret inline


def test_timer_is_persistent_and_starts_the_oneshot_run_due() -> None:
    timer = keys("anniversary-run-due.timer")
    assert timer["Persistent"] == ["true"] and timer["Unit"] == ["anniversary-run-due.service"]
    service = keys("anniversary-run-due.service")
    assert service["Type"] == ["oneshot"]
    assert service["ExecStart"] == [f"{BINARY} run-due --config /etc/anniversary/config.toml"]
    assert service["ProtectSystem"] == ["strict"] and service["ReadWritePaths"] == ["/var/lib/anniversary"]


def test_crontab_line_runs_run_due_every_minute_as_the_dedicated_user_with_the_env_file() -> None:
    lines = [
        line
        for line in (DEPLOY / "anniversary.cron").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(lines) == 1
    fields = lines[0].split(None, 6)
    assert fields[:6] == ["*", "*", "*", "*", "*", "anniversary"]
    assert "run-due --config /etc/anniversary/config.toml" in fields[6]
    assert ". /etc/anniversary/anniversary.env" in fields[6]
    assert "%" not in fields[6]  # cron turns % into a newline


def test_example_environment_file_names_every_secret_config_can_point_at() -> None:
    from scheduler.config import SenderConfig
    from scheduler.transports.sendgrid import SendgridSettings
    from scheduler.transports.smtp import SmtpSettings

    text = (DEPLOY / "anniversary.env.example").read_text()
    for env in (
        SenderConfig.model_fields["signing_key_env"].default,
        SmtpSettings.model_fields["password_env"].default,
        SendgridSettings.model_fields["api_key_env"].default,
    ):
        assert re.search(rf"^#?{env}=", text, flags=re.M), env
