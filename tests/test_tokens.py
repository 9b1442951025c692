"""Signed unsubscribe tokens: round trip, forgery, any text refused cleanly, weak keys
refused, and the key never shown."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scheduler.content.links import Signer
from scheduler.errors import ConfigError, MissingSecret, UsageError

KEY = b"0123456789abcdef-test-key-for-links"
OTHER_KEY = b"another-key-of-32-characters-or-more"
WEAK_KEY_LINE = (
    "Error: environment variable ANNIVERSARY_SIGNING_KEY (named by sender.signing_key_env in config.toml)"
    " is too weak: it must be at least 32 characters, at least 10 of them different; generate one with"
    " python3 -c 'import secrets; print(secrets.token_urlsafe(32))'\n"
)

#: any code point, lone surrogates too (Python strs can hold them; a URL decoder may make them)
ANY_CHAR = st.characters(exclude_categories=())


def _strong(key: bytes) -> bool:
    text = key.decode("utf-8", "surrogateescape")
    return len(text) >= 32 and len(set(text)) >= 10


def _mac(key: bytes, payload: str) -> str:
    """What Signer writes after the id: HMAC-SHA256 truncated to 18 bytes, URL-safe base64."""
    digest = hmac.new(key, f"v1.{payload}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode("ascii")


@given(st.integers(0, 2**63))
def test_token_round_trip(subscriber_id: int) -> None:
    signer = Signer(KEY)
    assert signer.verify(signer.token(subscriber_id)) == subscriber_id


@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_token_for_one_subscriber_does_not_open_another(a: int, b: int) -> None:
    signer = Signer(KEY)
    assert signer.verify(signer.token(b)) == b
    forged = signer.token(a).replace(f".{a}.", f".{b}.")
    if a != b:
        with pytest.raises(UsageError, match="signature does not match"):
            signer.verify(forged)


@given(st.binary(min_size=32, max_size=200).filter(_strong), st.integers(0, 2**63))
def test_mac_is_hmac_sha256(key: bytes, subscriber_id: int) -> None:
    """The precomputed inner/outer hashes give exactly the standard library's HMAC,
    for keys shorter and longer than SHA-256's 64-byte block."""
    assert Signer(key).token(subscriber_id).split(".")[2] == _mac(key, str(subscriber_id)).rstrip("=")


@given(st.text(ANY_CHAR) | st.builds("v1.{}.{}".format, st.integers(0), st.text(ANY_CHAR)))
@example("v1.7.é")
@example("v1.7.\ud800")
@example("v1.7.AAAAAAAAAAAAAAAAAAAAAAAÄ")
@example("")
@example("...")
def test_any_text_is_refused_with_a_usage_error(token: str) -> None:
    """A token comes from a URL anyone can type: whatever it holds, the answer is the
    usual refusal, never TypeError (hmac.compare_digest on non-ASCII str) or ValueError."""
    with pytest.raises(UsageError) as refused:
        Signer(KEY).verify(token)
    assert "\n" not in str(refused.value)


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[int, str]:
    subscriber_id = draw(st.integers(0, 2**63))
    token = Signer(KEY).token(subscriber_id)
    at = draw(st.integers(0, len(token) - 1))
    how = draw(st.sampled_from(["flip", "insert", "delete"]))
    if how == "delete":
        return subscriber_id, token[:at] + token[at + 1 :]
    char = draw(ANY_CHAR.filter(lambda c: how == "insert" or c != token[at]))
    return subscriber_id, token[:at] + char + token[at + (how == "flip") :]


@given(_mutated())
def test_a_valid_token_with_one_character_changed_is_refused(case: tuple[int, str]) -> None:
    _subscriber_id, token = case
    with pytest.raises(UsageError):
        Signer(KEY).verify(token)


@pytest.mark.parametrize("digits", ["١٢", "²", "12\u0663"])
def test_an_id_in_digits_other_than_ascii_is_refused_even_with_its_mac(digits: str) -> None:
    """str.isdigit() takes them; int() reads "١٢" as 12 and fails on "²". Only the
    ASCII digits token() writes are an id."""
    with pytest.raises(UsageError, match="not an unsubscribe token"):
        Signer(KEY).verify(f"v1.{digits}.{_mac(KEY, digits).rstrip('=')}")


def test_other_key_rejects() -> None:
    with pytest.raises(UsageError, match="signature does not match"):
        Signer(OTHER_KEY).verify(Signer(KEY).token(7))


@pytest.mark.parametrize(
    "key",
    [
        " " * 16,
        " " * 64,
        "0123456789abcdef-test-key",  # 25 characters
        "abcdefghijklmnopqrstuvwxyz01234",  # 31 characters
        "abcdefghi" * 8,  # 72 characters, 9 different ones
    ],
    ids=["16 spaces", "64 spaces", "25 characters", "31 characters", "9 different"],
)
def test_a_weak_key_is_refused_naming_the_variable_never_the_key(
    key: str, monkeypatch: pytest.MonkeyPatch, run
) -> None:
    monkeypatch.setenv("ANNIVERSARY_SIGNING_KEY", key)
    with pytest.raises(ConfigError) as refused:
        Signer.from_env("ANNIVERSARY_SIGNING_KEY")
    assert refused.value.exit_code == 2
    assert f"Error: {refused.value}\n" == WEAK_KEY_LINE
    result = run("send", "black-january", "reminder", "--year", "2027")
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", WEAK_KEY_LINE)
    # Preview may sign with a throwaway key when none is set, not when a weak one is.
    assert run("preview", "black-january", "reminder").stderr == WEAK_KEY_LINE


@pytest.mark.parametrize(
    "key",
    [
        "abcdefghijklmnopqrstuvwxyz012345",  # 32 characters
        "abcdefghij" * 4,  # 10 different ones
        "ключ-подписи-ссылок-отписки-2028",  # 32 characters, 64 bytes in UTF-8
    ],
)
def test_a_key_at_the_limits_is_accepted(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", key)
    signer = Signer.from_env("MY_KEY")
    assert signer.verify(Signer(key.encode()).token(42)) == 42


def test_a_key_that_is_not_utf8_signs_as_the_bytes_the_environment_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = bytes(range(0x80, 0xA0))  # 32 bytes, none of them a UTF-8 character
    # os.environ holds what is not UTF-8 as surrogate escapes, as it does for any variable
    monkeypatch.setenv("MY_KEY", raw.decode("utf-8", "surrogateescape"))
    assert Signer.from_env("MY_KEY").token(5) == Signer(raw).token(5)


def test_ephemeral_keys_are_valid_and_differ() -> None:
    one, two = Signer.ephemeral(), Signer.ephemeral()
    assert one.verify(one.token(3)) == 3
    with pytest.raises(UsageError, match="signature does not match"):
        two.verify(one.token(3))


def test_key_never_in_repr_and_missing_key_named(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "0123" not in repr(Signer(KEY))
    with pytest.raises(ConfigError, match="^the unsubscribe signing key is too weak: it must be at least 32 char"):
        Signer(b"short")
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(MissingSecret, match="environment variable MY_KEY is not set"):
        Signer.from_env("MY_KEY")
