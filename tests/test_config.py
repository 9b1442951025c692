"""config.toml is validated whole; a mistake is one line naming file, key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project
from sqlalchemy.engine import make_url

from scheduler.config import load_config

DB_LINE = 'url = "sqlite:///subscribers.db"        # relative paths resolve against this file\'s folder'
TRANSPORT_LINES = 'kind = "outbox"              # outbox | smtp | sendgrid\noutbox_dir = "outbox"'
PG_PASSWORD = "pg-secret-Zq81-never-shown"
PG_CONFIG = 'url = "postgresql+psycopg://anniv@127.0.0.1:1/anniv"\npassword_env = "ANNIVERSARY_DATABASE_PASSWORD"'


def test_shipped_config_loads_and_resolves_paths_against_its_folder(project: Project) -> None:
    config = load_config(project.config)
    assert config.database_url == f"sqlite:///{project.root / 'subscribers.db'}"
    assert config.outbox_dir == project.root / "outbox"
    campaign = config.get_campaign("black-january")
    assert config.campaign_templates(campaign) == project.root / "templates" / "black-january"
    assert [s.id for s in campaign.stage] == ["reminder", "day-of"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "late_cutoff_hours = 12",
            "late_cutof_hours = 12",
            "campaign[0].late_cutof_hours: unknown key; allowed here: id, title, event_date, timezone, "
            "silence_time, languages, templates, late_cutoff_hours, leap_day, quiet_hours, stage",
        ),
        (
            'timezone = "Asia/Baku"',
            'timezone = "Asia/Bakuu"',
            "campaign[0].timezone: must be an IANA time zone such as Asia/Baku or America/Los_Angeles "
            "(got 'Asia/Bakuu')",
        ),
        (
            'kind = "outbox"',
            'kind = "pigeon"',
            "transport.kind: must be one of 'outbox', 'smtp' or 'sendgrid' (got 'pigeon')",
        ),
        (
            "send_time = 10:00:00",
            'send_time = "ten"',
            "campaign[0].stage[0].send_time: must be a time such as 10:00:00 (got 'ten')",
        ),
        (
            'id = "reminder"',
            'id = "Reminder!"',
            "campaign[0].stage[0].id: must be lowercase letters, digits and '-' (got 'Reminder!')",
        ),
        (
            'public_url = "https://example.org/anniversary"',
            'public_url = "http://example.org"',
            "sender.public_url: must be an https:// URL (got 'http://example.org')",
        ),
        (
            'languages = ["en", "az", "ru", "tr"]',
            "languages = []",
            "campaign[0].languages: List should have at least 1 item after validation, not 0 (got [])",
        ),
        (
            'languages = ["en", "az", "ru", "tr"]',
            'languages = ["en", "klingon"]',
            "campaign[0].languages: must be a CLDR language code such as en, az, ru, tr (got 'klingon')",
        ),
        (
            "days_before = 7",
            "days_before = -7",
            "campaign[0].stage[0].days_before: Input should be greater than or equal to 0 (got -7)",
        ),
        (
            'from_email = "commemorations@example.org"',
            'from_email = "not an address"',
            "sender.from_email: must be an email address",
        ),
        ("emails = []", 'emails = ["nope"]', "organizers.emails: must be an email address (got 'nope'"),
    ],
)
def test_bad_value_is_one_line_naming_the_key(run, project: Project, old: str, new: str, message: str) -> None:
    project.edit_config(old, new)
    result = run("status")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {project.config}: {message}")
    assert not (project.root / "subscribers.db").exists(), "nothing is touched on a bad config"


def test_missing_required_key(run, project: Project) -> None:
    project.edit_config('postal_address = "1 Example St, Washington, DC 20001, USA"', "")
    result = run("status")
    assert (result.exit_code, result.stderr) == (2, f"Error: {project.config}: sender.postal_address: is required\n")


def test_two_mistakes_are_two_lines(run, project: Project) -> None:
    project.edit_config("late_cutoff_hours = 12", "late_cutoff_hours = 0")
    project.edit_config('timezone = "Asia/Baku"', 'timezone = "Baku"')
    result = run("status")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 2


def test_toml_syntax_error_names_line_and_column(run, project: Project) -> None:
    project.edit_config("[[campaign]]", "[[campaign]")
    result = run("status")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {project.config}: invalid TOML:")
    line = project.config.read_text().splitlines().index("[[campaign]") + 1
    assert f"(at line {line}, column 11)" in result.stderr


def test_missing_config_file(run, tmp_path: Path) -> None:
    result = run("status", config=tmp_path / "nope.toml")
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {tmp_path / 'nope.toml'}: no such config file (pass --config PATH)\n",
    )


def test_unknown_campaign_lists_the_configured_ones(run) -> None:
    result = run("preview", "red-october", "reminder")
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: No campaign by the id of 'red-october'; configured: black-january\n",
    )


def test_unknown_stage_lists_the_campaigns_stages(run) -> None:
    result = run("preview", "black-january", "eve")
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: Campaign 'black-january' has no stage 'eve'; its stages: reminder, day-of\n",
    )


def test_missing_signing_key_names_the_variable(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANNIVERSARY_SIGNING_KEY")
    result = run("send", "black-january", "reminder", "--year", "2027")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: environment variable ANNIVERSARY_SIGNING_KEY is not set (named by sender.signing_key_env in config.toml)\n"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("notaurl", "'notaurl'"),
        ("mysql://anniv:hunter2@db.example.org/anniv", "'mysql://anniv:***@db.example.org/anniv'"),
        ("postgresql://anniv@db.example.org/anniv", "'postgresql://anniv@db.example.org/anniv'"),
        ("anniv:hunter2@db.example.org/anniv", "'anniv:***@db.example.org/anniv'"),
    ],
)
def test_a_database_url_the_store_cannot_use_is_one_line(run, project: Project, url: str, shown: str) -> None:
    project.edit_config(DB_LINE, f'url = "{url}"')
    result = run("status")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"Error: {project.config}: database.url: must be sqlite:///path or "
        f"postgresql+psycopg://user@host/db (got {shown})\n"
    )
    assert "hunter2" not in result.stderr


def test_a_missing_templates_folder_is_a_config_error_before_any_database(run, project: Project) -> None:
    project.edit_config('templates = "templates/black-january"', 'templates = "templates/black-jan"')
    result = run("send", "black-january", "reminder", "--year", "2027", "--yes")
    assert (result.exit_code, result.stdout) == (2, "")
    folder = project.root / "templates" / "black-jan"
    assert result.stderr == f"Error: {project.config}: campaign[0].templates: no such folder {folder}\n"
    assert not (project.root / "subscribers.db").exists()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("", "transport.smtp.host: is required"),
        (
            '[transport.smtp]\nhost = ""\n',
            "transport.smtp.host: must name the SMTP server, e.g. \"smtp.example.org\" (got '')",
        ),
        (
            '[transport.smtp]\nhost = "  "\n',
            "transport.smtp.host: must name the SMTP server, e.g. \"smtp.example.org\" (got '  ')",
        ),
    ],
)
def test_smtp_needs_a_host_rather_than_localhost_by_default(run, project: Project, table: str, message: str) -> None:
    project.edit_config(
        TRANSPORT_LINES,
        f'kind = "smtp"\noutbox_dir = "outbox"\n{table}',
    )
    result = run("status")
    assert (result.exit_code, result.stderr) == (2, f"Error: {project.config}: {message}\n")
    assert not (project.root / "subscribers.db").exists()


def test_a_byte_order_mark_before_config_toml_is_read_past(run, project: Project) -> None:
    project.config.write_bytes(b"\xef\xbb\xbf" + project.config.read_bytes())
    result = run("subscribers", "count")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-1] == "total\t0"


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules", "posix/Asia/Baku", "/etc/localtime"])
def test_only_iana_zone_names_are_time_zones(run, project: Project, zone: str) -> None:
    project.edit_config('timezone = "Asia/Baku"', f'timezone = "{zone}"')
    result = run("status")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"Error: {project.config}: campaign[0].timezone: must be an IANA time zone such as Asia/Baku"
    )
    assert line.endswith(f"(got {zone!r})")
    project.edit_config(f'timezone = "{zone}"', 'timezone = "Asia/Baku"')
    added = run("subscribers", "add", "ana@example.com", "--timezone", zone)
    assert added.exit_code == 2
    assert added.stderr.startswith("Error: timezone must be an IANA time zone such as Asia/Baku")


def test_the_postgresql_password_comes_from_the_environment(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.edit_config(DB_LINE, PG_CONFIG)
    monkeypatch.setenv("ANNIVERSARY_DATABASE_PASSWORD", PG_PASSWORD)
    url = make_url(load_config(project.config).database_url)
    assert (url.username, url.password, url.host, url.database) == ("anniv", PG_PASSWORD, "127.0.0.1", "anniv")


def test_a_busy_timeout_other_than_60_s_rides_in_the_sqlite_url(project: Project) -> None:
    assert make_url(load_config(project.config).database_url).query == {}
    project.edit_config(DB_LINE, 'url = "sqlite:///subscribers.db"\nbusy_timeout_seconds = 2.5')
    url = make_url(load_config(project.config).database_url)
    assert (url.database, url.query) == (str(project.root / "subscribers.db"), {"timeout": "2.5"})


def test_password_env_beside_a_sqlite_file_is_a_config_error(run, project: Project) -> None:
    project.edit_config(DB_LINE, 'url = "sqlite:///subscribers.db"\npassword_env = "ANNIVERSARY_DATABASE_PASSWORD"')
    result = run("status")
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {project.config}: database: password_env: only a PostgreSQL url takes a password; "
        "a SQLite file has none\n",
    )
