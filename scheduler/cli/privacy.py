"""``anniversary subscribers show|forget EMAIL``: privacy requests (README: Privacy)."""

from __future__ import annotations

from pathlib import Path

import click

from scheduler.cli.common import config_option, get_config, open_store, utcnow
from scheduler.errors import UsageError


@click.command("show")
@click.argument("email")
@config_option
def show(email: str, config_path: Path | None) -> None:
    """Print everything stored about one person as JSON: the profile, the consent
    record and the ledger history (a subject access request, GDPR Art. 15).

    \b
    Example:
        anniversary subscribers show ana@example.com > ana.json
    """
    from scheduler.lifecycle import privacy

    found = privacy.show(open_store(get_config(config_path)), email)
    if found is None:
        raise UsageError(f"no subscriber {email!r}")
    click.echo(found)


@click.command("forget")
@click.argument("email")
@config_option
def forget(email: str, config_path: Path | None) -> None:
    """Erase one person's personal data (GDPR Art. 17). The ledger stays, anonymous,
    so the counts stay true; a keyed hash of the address stays on the suppression list,
    so a later import cannot mail them again. Needs the signing key.

    \b
    Example:
        anniversary subscribers forget ana@example.com
    """
    from scheduler.lifecycle import privacy

    config = get_config(config_path)
    if not privacy.forget(config, open_store(config), email, utcnow()):
        raise UsageError(f"no subscriber {email!r}")
    click.echo(f"{email}: forgotten")
