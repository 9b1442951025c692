"""Privacy from the command line (README: Privacy): what is stored about one person
(a subject access request, GDPR Art. 15), erasing it (Art. 17), and suppressing an
address by hand (an SMTP bounce read by a person)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from scheduler.config import Config
from scheduler.content.tokens import Keyring
from scheduler.core.outcomes import Status
from scheduler.core.values import normalize_email, one_line
from scheduler.errors import UsageError
from scheduler.store import Store


def _key(email: str) -> str:
    try:
        return normalize_email(email).lower()
    except ValueError as exc:
        raise UsageError(f"EMAIL must be an email address (got {email!r}: {str(exc).split(': ', 1)[-1]})") from None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def show(store: Store, email: str) -> str | None:
    """Everything stored about one address as JSON: the profile with its consent
    record, and the ledger history. None when the address is not on the list."""
    found = store.person(_key(email))
    if found is None:
        return None
    profile = {k: _plain(v) for k, v in found["profile"].items()}
    ledger = [{k: _plain(v) for k, v in row.items()} for row in found["ledger"]]
    out: dict[str, Any] = {"profile": profile, "ledger": ledger}
    # The statements for the record they sent, when there are any (README: The
    # statement for the record): their name, postal address and words.
    letters = store.letters_of(int(found["profile"]["id"]))
    if letters:
        out["letters"] = [
            {
                k: [{a: _plain(b) for a, b in d.items()} for d in v] if k == "deliveries" else _plain(v)
                for k, v in x.items()
            }
            for x in letters
        ]
    return json.dumps(out, ensure_ascii=False, indent=2)


def forget(config: Config, store: Store, email: str, now: datetime) -> bool:
    """Erase one person's personal data; the ledger stays, anonymous, and a keyed hash
    of the address keeps a later import from adding them again."""
    key = _key(email)
    keyring = Keyring.from_config(config)
    found = store.person(key)
    if found is not None:
        # Their letters' name, address and words go too; the counts stay true.
        store.forget_letters(int(found["profile"]["id"]))
    return store.forget(key, keyring.email_hashes(key)[0], now)


def suppress(config: Config, store: Store, email: str, reason: str, now: datetime) -> bool:
    """Never mail this address again: a subscriber becomes ``bounced`` with the reason;
    an address not on the list goes onto the suppression list. True for a subscriber."""
    key = _key(email)
    why = one_line(reason)[:200]
    if not why:
        raise UsageError("--reason must say why (for example: --reason 'SMTP 550 mailbox unavailable')")
    keyring = Keyring.from_config(config)
    return store.suppress_address(key, Status.BOUNCED, f"by hand: {why}", keyring.email_hashes(key), now)
