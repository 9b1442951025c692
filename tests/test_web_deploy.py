"""deploy/: the web app's unit passes `systemd-analyze verify` (see test_systemd_units for
how) and is hardened as the daemon's is; the proxy examples pass paths through unchanged
and set X-Forwarded-For."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_systemd_units import ANALYZE, DEPLOY, keys, verify

HARDENING = (
    "ProtectSystem", "ReadWritePaths", "ProtectHome", "PrivateTmp", "PrivateDevices", "NoNewPrivileges",
    "CapabilityBoundingSet", "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
    "ProtectControlGroups", "ProtectClock", "ProtectHostname", "ProtectProc", "RestrictAddressFamilies",
    "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "SystemCallArchitectures",
    "SystemCallFilter", "User", "Group", "EnvironmentFile", "StateDirectory", "UMask",
)  # fmt: skip


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_prints_nothing_for_the_web_unit(tmp_path: Path) -> None:
    assert verify(tmp_path, ("anniversary-web.service",)) == ""


def test_web_unit_runs_serve_with_the_daemons_hardening_user_and_secrets() -> None:
    web, daemon = keys("anniversary-web.service"), keys("anniversary.service")
    assert web["ExecStart"] == ["/opt/anniversary/venv/bin/anniversary serve --config /etc/anniversary/config.toml"]
    assert web["RestartPreventExitStatus"] == ["2"]
    for key in HARDENING:
        assert web[key] == daemon[key], key


def test_proxy_examples_keep_the_path_and_set_x_forwarded_for() -> None:
    text = (DEPLOY / "Caddyfile.example").read_text(encoding="utf-8")
    caddy = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "handle /anniversary/* {" in caddy and "handle_path" not in caddy  # handle_path strips the prefix
    assert "reverse_proxy 127.0.0.1:8080" in caddy
    nginx = (DEPLOY / "nginx.conf.example").read_text(encoding="utf-8")
    assert "proxy_pass http://127.0.0.1:8080;" in nginx  # no URI part: the path is passed unchanged
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
