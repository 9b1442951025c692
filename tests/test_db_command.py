"""`anniversary db upgrade`, and every other command on a database an older release
made: one line naming the command that upgrades it. Also `--config` before the command."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from conftest import Project

from scheduler.cli import cli
from scheduler.store.migrate import HEAD

FIXTURE = Path(__file__).parent / "fixtures" / "subscribers-0.1.0.db"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("subscriber", "ledger", "run")}


def test_a_command_on_a_0_1_0_database_names_the_upgrade_command(project: Project) -> None:
    shutil.copy(FIXTURE, project.root / "subscribers.db")
    code, out, err = invoke("subscribers", "count", "--config", str(project.config))
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("Error: database ") and "run `anniversary db upgrade`" in line


def test_db_upgrade_backs_up_and_upgrades_a_0_1_0_database_in_place(project: Project) -> None:
    db = project.root / "subscribers.db"
    shutil.copy(FIXTURE, db)
    before = counts(db)
    code, out, err = invoke("db", "upgrade", "--config", str(project.config))
    assert (code, err) == (0, ""), err
    backup_line, done = out.splitlines()
    backup = Path(backup_line.removeprefix("backup: "))
    assert backup.parent == project.root and counts(backup) == before
    assert done == f"database upgraded from schema 0.1.0 to {HEAD}"
    assert counts(db) == before
    code, out, _ = invoke("subscribers", "count", "--config", str(project.config))
    assert code == 0 and "active\t8" in out
    assert invoke("db", "upgrade", "--config", str(project.config))[1] == f"database is current (schema {HEAD})\n"


def test_config_works_before_the_command_and_after_it(project: Project, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no config.toml here: only --config can find it
    before = invoke("--config", str(project.config), "subscribers", "count")
    after = invoke("subscribers", "count", "--config", str(project.config))
    assert before == after and before[0] == 0 and before[1].endswith("total\t0\n")
    assert invoke("--config", str(project.config), "status")[0] == 0
    code, _, err = invoke("--config", str(tmp_path / "nowhere.toml"), "status")
    assert code == 2 and "nowhere.toml: no such config file" in err
