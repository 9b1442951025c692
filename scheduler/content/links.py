"""Signed per-subscriber links: the unsubscribe link every message carries.

The token names the subscriber and carries an HMAC-SHA256 over that id, keyed by the
secret from the environment variable ``sender.signing_key_env``, so an unsubscribe link
cannot be forged for another subscriber (RFC 8058 section 3 asks the URI to identify the
recipient unguessably). The key never leaves memory.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import secrets

from scheduler.config import Config
from scheduler.errors import ConfigError, MissingSecret, UsageError

_VERSION = "v1"

#: a key people type or paste must be long and varied: 16 spaces signed links before
MIN_KEY_CHARS = 32
MIN_DISTINCT_CHARS = 10
KEY_RULE = f"at least {MIN_KEY_CHARS} characters, at least {MIN_DISTINCT_CHARS} of them different"

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    """URL-safe base64 without padding (base64.urlsafe_b64encode, in two C calls)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


class Signer:
    """Holds the signing key; its repr never shows it."""

    def __init__(self, key: bytes, *, source: str = "the unsubscribe signing key") -> None:
        """``source`` names where the key came from in the refusal; the key itself never
        appears in it."""
        if _weak(key.decode("utf-8", "surrogateescape")):
            raise ConfigError(
                f"{source} is too weak: it must be {KEY_RULE}; generate one with"
                " python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        # Keyed once, copied per token: a send signs one link per recipient.
        # BENCHMARKS.md ("Signing links") measured RFC 2104 written out by hand at
        # 1.75 us a token against 2.40 us for this: not worth the extra code.
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def __repr__(self) -> str:
        return "Signer(<key hidden>)"

    @classmethod
    def from_env(cls, env_name: str) -> Signer:
        value = os.environ.get(env_name)
        if not value:
            raise MissingSecret(env_name, "sender.signing_key_env")
        # surrogateescape gives back the bytes the environment holds, even when they are
        # not UTF-8 (os.environ decodes them that way), instead of failing to encode.
        source = f"environment variable {env_name} (named by sender.signing_key_env in config.toml)"
        return cls(value.encode("utf-8", "surrogateescape"), source=source)

    @classmethod
    def previous_from_env(cls, env_name: str) -> list[Signer]:
        """The keys a rotation retired, still accepted for links already sent: the
        variable holds them separated by spaces or commas (README: Rotating the key)."""
        value = os.environ.get(env_name, "")
        keys = [k for k in value.replace(",", " ").split() if k]
        return [
            cls(k.encode("utf-8", "surrogateescape"), source=f"a key in environment variable {env_name}") for k in keys
        ]

    @classmethod
    def ephemeral(cls) -> Signer:
        """A throwaway key for demos: links it signs stop verifying when the process ends."""
        # 43 characters of 64 kinds: fewer than 10 different ones comes about once in
        # 10**26 draws, and then the loop draws again.
        key = secrets.token_urlsafe(32)
        while _weak(key):
            key = secrets.token_urlsafe(32)
        return cls(key.encode("ascii"))

    def _mac(self, payload: str) -> str:
        return self.mac(f"{_VERSION}.{payload}")

    def mac(self, message: str) -> str:
        """The truncated HMAC of a token's text, prefix included: the prefix names the
        token's purpose, so a token made for one purpose never verifies as another's
        (scheduler.content.tokens)."""
        mac = self._keyed.copy()
        mac.update(message.encode())
        return _b64(mac.digest()[:18])

    def digest(self, message: str) -> str:
        """The full HMAC, hex: keyed hashes of addresses on the suppression list."""
        mac = self._keyed.copy()
        mac.update(message.encode())
        return mac.hexdigest()

    def token(self, subscriber_id: int) -> str:
        payload = str(subscriber_id)
        return f"{_VERSION}.{payload}.{self._mac(payload)}"

    def verify(self, token: str) -> int:
        """The subscriber id a token names; UsageError when it was not signed by this key.

        The id it returns may belong to no one any more (the subscriber was removed):
        the caller looks it up and refuses a token whose subscriber is gone. Ids are
        never handed out twice (migration 0002), so the token cannot name someone else."""
        parts = token.split(".")
        # token() writes ASCII only. Anything else is refused here: compare_digest raises
        # TypeError on non-ASCII str, and str.isdigit() accepts digits int() reads
        # differently ("١٢" is 12) or not at all ("²").
        if not token.isascii() or len(parts) != 3 or parts[0] != _VERSION or not parts[1].isdigit():
            raise UsageError(f"not an unsubscribe token: {token[:40]!r}")
        if not hmac.compare_digest(parts[2], self._mac(parts[1])):
            raise UsageError("unsubscribe token signature does not match")
        return int(parts[1])


def _weak(key: str) -> bool:
    return len(key) < MIN_KEY_CHARS or len(set(key)) < MIN_DISTINCT_CHARS


def signer_for(config: Config, *, ephemeral_ok: bool = False) -> Signer:
    """The signer every command uses: the key from ``sender.signing_key_env``. Commands
    that only show messages (preview, dry runs, the demo) may fall back to a throwaway
    key when it is unset; nothing that sends to subscribers may."""
    env = config.sender.signing_key_env
    if ephemeral_ok and not os.environ.get(env):
        return Signer.ephemeral()
    return Signer.from_env(env)


class Links:
    """The links a message carries, signed for one subscriber."""

    def __init__(self, config: Config, signer: Signer) -> None:
        self.signer = signer
        #: ``{public_url}/unsubscribe/``: RFC 8058's one-click URL, with the token after it
        self.unsubscribe_base = f"{config.sender.public_url.rstrip('/')}/unsubscribe/"

    def unsubscribe(self, subscriber_id: int) -> str:
        return self.unsubscribe_base + self.signer.token(subscriber_id)
