"""``anniversary db ...``: the database schema, owned by Alembic migrations."""

from __future__ import annotations

from pathlib import Path

import click

from scheduler.cli.common import config_option, get_config
from scheduler.store import upgrade_database


@click.group()
def db() -> None:
    """The database's schema.

    \b
    Example:
        anniversary db upgrade
    """


@db.command("upgrade")
@config_option
def upgrade(config_path: Path | None) -> None:
    """Bring the database to this release's schema. A SQLite file is backed up first,
    beside it; on PostgreSQL an advisory lock keeps two upgrades from racing.

    \b
    Example:
        anniversary db upgrade --config /etc/anniversary/config.toml
    """
    config = get_config(config_path)
    report = upgrade_database(config.database_url)
    if not report.changed:
        click.echo(f"database is current (schema {report.to_rev})")
        return
    if report.backup:
        click.echo(f"backup: {report.backup}")
    click.echo(f"database upgraded from schema {report.from_rev or 'none'} to {report.to_rev}")
