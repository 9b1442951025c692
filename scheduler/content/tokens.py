"""Signed tokens, each bound to one purpose and one subscriber (README: The web app).

Every token is ``<prefix>.<fields...>.<mac>``, the MAC an HMAC-SHA256 of everything
before it, so the prefix, which names the purpose, is signed too: an unsubscribe
token never confirms a sign-up and the reverse.

=========  ==========================================  ==========================
prefix     fields                                      what it opens
=========  ==========================================  ==========================
``v1``     subscriber id                               one-click unsubscribe and
                                                       the preferences page (the
                                                       links messages carry)
``c1``     subscriber id, expiry (Unix seconds)        confirming a sign-up
``a1``     subscriber id, campaign, year               the campaign year's action
``f1``     form, subject, issued (Unix s), nonce       one submission of a form
=========  ==========================================  ==========================

Keys rotate without breaking links already sent: tokens are made with the current key
and verified with it or any previous one (``sender.previous_signing_keys_env``).
Form tokens need no cookie: the page carries its own signed, time-stamped token, and a
nonce makes each one good for a single submission (the store records used nonces).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from scheduler.config import Config
from scheduler.content.links import Signer, signer_for
from scheduler.errors import UsageError


class Purpose(StrEnum):
    UNSUBSCRIBE = "v1"
    CONFIRM = "c1"
    ACTION = "a1"
    FORM = "f1"


class BadToken(UsageError):
    """A token that is malformed, forged, for another purpose, or expired. Its message
    never repeats more than the token's first characters."""

    def __init__(self, token: str, why: str, *, expired: bool = False) -> None:
        super().__init__(f"{why}: {token[:24]!r}")
        self.expired = expired


def _field_ok(value: str) -> bool:
    return bool(value) and value.isascii() and "." not in value and value.isprintable() and " " not in value


class Keyring:
    """The current signing key and the retired ones still accepted."""

    def __init__(self, current: Signer, previous: Sequence[Signer] = ()) -> None:
        self.current = current
        self.all = [current, *previous]

    def __repr__(self) -> str:
        return f"Keyring(<{len(self.all)} keys hidden>)"

    @classmethod
    def from_config(cls, config: Config, *, ephemeral_ok: bool = False) -> Keyring:
        return cls(
            signer_for(config, ephemeral_ok=ephemeral_ok),
            Signer.previous_from_env(config.sender.previous_signing_keys_env),
        )

    # -- making --------------------------------------------------------------------

    def _make(self, purpose: Purpose, *fields: str) -> str:
        for value in fields:
            if not _field_ok(value):
                raise ValueError(f"a token field must be printable ASCII without dots or spaces: {value!r}")
        body = ".".join((purpose.value, *fields))
        return f"{body}.{self.current.mac(body)}"

    def unsubscribe(self, subscriber_id: int) -> str:
        return self._make(Purpose.UNSUBSCRIBE, str(subscriber_id))

    def confirm(self, subscriber_id: int, expires: datetime) -> str:
        return self._make(Purpose.CONFIRM, str(subscriber_id), str(int(expires.timestamp())))

    def action(self, subscriber_id: int, campaign: str, year: int) -> str:
        return self._make(Purpose.ACTION, str(subscriber_id), campaign, str(year))

    def form(self, form: str, subject: str, now: datetime) -> str:
        return self._make(Purpose.FORM, form, _subject(subject), str(int(now.timestamp())), secrets.token_urlsafe(12))

    # -- reading -------------------------------------------------------------------

    def _read(self, token: str, purpose: Purpose, n_fields: int) -> list[str]:
        # Only ASCII is compared: compare_digest raises on other str, and str.isdigit()
        # accepts digits int() reads differently ("١٢" is 12).
        parts = token.split(".")
        if not token.isascii() or len(parts) != n_fields + 2 or parts[0] != purpose.value:
            raise BadToken(token, f"not a {purpose.name.lower()} token")
        body, mac = token.rsplit(".", 1)
        if not any(hmac.compare_digest(mac, signer.mac(body)) for signer in self.all):
            raise BadToken(token, "token signature does not match")
        return parts[1:-1]

    @staticmethod
    def _id(token: str, value: str) -> int:
        if not value.isdigit() or len(value) > 18:
            raise BadToken(token, "token names no subscriber")
        return int(value)

    def read_unsubscribe(self, token: str) -> int:
        (sid,) = self._read(token, Purpose.UNSUBSCRIBE, 1)
        return self._id(token, sid)

    def read_confirm(self, token: str, now: datetime) -> int:
        sid, expires = self._read(token, Purpose.CONFIRM, 2)
        if not expires.isdigit():
            raise BadToken(token, "token has no expiry")
        if now.timestamp() >= int(expires):
            raise BadToken(token, "confirmation link has expired", expired=True)
        return self._id(token, sid)

    def read_action(self, token: str) -> tuple[int, str, int]:
        sid, campaign, year = self._read(token, Purpose.ACTION, 3)
        if not year.isdigit() or len(year) != 4:
            raise BadToken(token, "token names no year")
        return self._id(token, sid), campaign, int(year)

    def read_form(self, token: str, form: str, subject: str, now: datetime, max_age_s: int) -> str:
        """The nonce of a form token issued for this form and subject no more than
        ``max_age_s`` ago; the caller records it so the form is not accepted twice."""
        got_form, got_subject, issued, nonce = self._read(token, Purpose.FORM, 4)
        if (got_form, got_subject) != (form, _subject(subject)):
            raise BadToken(token, "form token is for another form")
        if not issued.isdigit():
            raise BadToken(token, "form token has no time")
        age = now.timestamp() - int(issued)
        if age > max_age_s or age < -300:
            raise BadToken(token, "form has expired", expired=True)
        return nonce

    # -- keyed hashes ----------------------------------------------------------------

    def email_hashes(self, email_key: str) -> list[str]:
        """The address's keyed hash under every key, current first: a suppression entry
        made before a rotation still matches (README: Privacy)."""
        return [signer.digest(f"suppress.{email_key}") for signer in self.all]


def _subject(subject: str) -> str:
    """What a form token is bound to (the page's own link token, which has dots), as a
    short digest; "-" for a form that belongs to no one yet (sign-up)."""
    return hashlib.sha256(subject.encode("utf-8", "surrogateescape")).hexdigest()[:16] if subject else "-"
