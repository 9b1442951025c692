"""Signed unsubscribe tokens: round trip, forgery, and the key never shown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.content.links import Signer
from scheduler.errors import MissingSecret, UsageError

KEY = b"0123456789abcdef-test-key"


@given(st.integers(0, 2**63))
def test_token_round_trip(subscriber_id: int) -> None:
    signer = Signer(KEY)
    assert signer.verify(signer.token(subscriber_id)) == subscriber_id


@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_token_for_one_subscriber_does_not_open_another(a: int, b: int) -> None:
    token = Signer(KEY).token(a)
    forged = token.replace(f".{a}.", f".{b}.")
    if a != b:
        with pytest.raises(UsageError):
            Signer(KEY).verify(forged)


@given(st.binary(min_size=16, max_size=200), st.integers(0, 2**63))
def test_mac_is_hmac_sha256(key: bytes, subscriber_id: int) -> None:
    """The precomputed inner/outer hashes give exactly the standard library's HMAC,
    for keys shorter and longer than SHA-256's 64-byte block."""
    import base64
    import hashlib
    import hmac

    expected = hmac.new(key, f"v1.{subscriber_id}".encode(), hashlib.sha256).digest()[:18]
    mac = Signer(key).token(subscriber_id).split(".")[2]
    assert base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4)) == expected


def test_other_key_rejects() -> None:
    with pytest.raises(UsageError, match="signature does not match"):
        Signer(b"another-key-of-16-bytes").verify(Signer(KEY).token(7))


def test_key_never_in_repr_and_short_keys_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "0123" not in repr(Signer(KEY))
    with pytest.raises(UsageError, match="at least 16 bytes"):
        Signer(b"short")
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(MissingSecret, match="environment variable MY_KEY is not set"):
        Signer.from_env("MY_KEY")
