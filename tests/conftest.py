"""Shared fixtures. Every test runs with the process zone set to Australia/Lord_Howe,
whose daylight-saving shift is half an hour, so any code that leans on the machine's
local time instead of an explicit zone shows up (after APScheduler's session-wide
DST zone)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from scheduler.cli import cli

if TYPE_CHECKING:
    from sg_sink import Sink

REPO = Path(__file__).resolve().parents[1]
SIGNING_KEY = "test-signing-key-0123456789abcdef"


@pytest.fixture(autouse=True, scope="session")
def _dst_zone() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Australia/Lord_Howe"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture(autouse=True)
def _signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNIVERSARY_SIGNING_KEY", SIGNING_KEY)
    monkeypatch.delenv("ANNIVERSARY_CONFIG", raising=False)


@pytest.fixture
def sendgrid_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SendGrid tests' secrets, as the environment carries them (sg_world's keys)."""
    from sg_world import API_KEY
    from sg_world import SIGNING_KEY as SG_SIGNING_KEY

    monkeypatch.setenv("SENDGRID_API_KEY", API_KEY)
    monkeypatch.setenv("ANNIVERSARY_SIGNING_KEY", SG_SIGNING_KEY)


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A loopback stand-in for SendGrid that validates every body (see sg_sink)."""
    from sg_sink import running_sink

    yield from running_sink()


@dataclass
class Project:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def edit_config(self, old: str, new: str) -> None:
        text = self.config.read_text(encoding="utf-8")
        assert old in text, old
        self.config.write_text(text.replace(old, new, 1), encoding="utf-8")

    def write_csv(self, rows: str, name: str = "subs.csv") -> Path:
        path = self.root / name
        path.write_text("email,name,language,timezone\n" + rows, encoding="utf-8")
        return path

    def emls(self) -> list[Path]:
        return sorted(self.outbox.rglob("*.eml")) if self.outbox.exists() else []


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh copy of the shipped config.toml, templates and examples."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "config.toml", root / "config.toml")
    shutil.copytree(REPO / "templates", root / "templates")
    shutil.copytree(REPO / "examples", root / "examples")
    return Project(root)


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run(project: Project) -> Iterator[object]:
    """Drive the CLI the way a user does: `run("send", "black-january", "reminder")`."""

    def _run(*args: str, config: Path | None = None) -> Ran:
        runner = CliRunner()
        argv = [*args, "--config", str(config or project.config)] if args and args[0] != "--help" else list(args)
        result = runner.invoke(cli, argv, catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.stderr)

    yield _run


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a schema of its own, dropped afterwards;
    the test skips, saying why, where ANNIVERSARY_TEST_POSTGRES_URL is not set."""
    import secrets

    import sqlalchemy as sa

    base = os.environ.get("ANNIVERSARY_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("ANNIVERSARY_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against")
    schema = f"t_{secrets.token_hex(4)}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
