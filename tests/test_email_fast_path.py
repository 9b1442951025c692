"""The import's email check (EmailNormalizer) against email-validator itself: the same
accept or reject, the same normalized form and the same message, for generated
addresses that mix the common shapes with every awkward one the library knows."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.core.values import EmailNormalizer, normalize_email

# Local parts: dot-atom characters, the specials, dots in the wrong places, spaces,
# quotes, backslashes, non-ASCII letters and combining marks, the RFC 2142 names.
_LOCAL_CHARS = st.sampled_from([*list("abcXYZ019.-_+!#$%&'*/=?^`{|}~ \"\\()<>,;:[]@\t"), "é", "ß", "́", "ü", "а"])
_LOCALS = st.one_of(
    st.text(_LOCAL_CHARS, min_size=0, max_size=12),
    st.sampled_from(["Postmaster", "ABUSE", "info", "a..b", ".a", "a.", "x" * 64, "x" * 65, '"quoted"', "a" * 250]),
)
_DOMAINS = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "EXAMPLE.COM",
            "Example.Org",
            "mail.example.co.uk",
            "xn--bcher-kva.example",
            "bücher.example",
            "localhost",
            "example",
            "ex_ample.com",
            "-example.com",
            "example-.com",
            "example..com",
            ".example.com",
            "example.com.",
            "[127.0.0.1]",
            "[IPv6:::1]",
            "",
            "a" * 64 + ".com",
            "a" * 63 + ".com",
            ("b" * 60 + ".") * 4 + "com",
            "test",
            "example.test",
            "invalid",
            "münchen.de",
            "xn--mnchen-3ya.de",
            "例え.テスト",
            "１２３.com",
        ]
    ),
    st.text(st.sampled_from(list("abAB09-._")), min_size=0, max_size=20),
)
_ADDRESSES = st.one_of(
    st.builds(lambda lp, d: f"{lp}@{d}", _LOCALS, _DOMAINS),
    st.builds(lambda lp, d, pad: f"{pad}{lp}@{d}{pad}", _LOCALS, _DOMAINS, st.sampled_from([" ", "\t", ""])),
    st.builds(lambda lp, d: f"Name <{lp}@{d}>", _LOCALS, _DOMAINS),
    st.builds(lambda lp, d, e: f"{lp}@{d}@{e}", _LOCALS, _DOMAINS, _DOMAINS),
    st.text(max_size=30),
)


def _library(address: str) -> str:
    """What normalize_email answers, as a value or the message it raises."""
    try:
        return "ok " + validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return f"error invalid email {address.strip()!r}: {exc}"


def _fast(check: EmailNormalizer, address: str) -> str:
    try:
        return "ok " + check(address)
    except ValueError as exc:
        return f"error {exc}"


@settings(max_examples=3000, deadline=None)
@given(st.lists(_ADDRESSES, min_size=1, max_size=8))
def test_fast_path_agrees_with_validate_email(addresses: list[str]) -> None:
    # One normalizer across the list, as an import uses it: a domain seen before
    # answers from the cache and must answer the same.
    check = EmailNormalizer()
    for address in addresses + addresses:
        assert _fast(check, address) == _library(address), address


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Ana@Example.COM", "ok Ana@example.com"),
        ("POSTMASTER@example.com", "ok postmaster@example.com"),
        ("ana@xn--bcher-kva.example", "ok ana@bücher.example"),
        (" ana@example.com\t", "ok ana@example.com"),
        (
            "ana@localhost",
            "error invalid email 'ana@localhost': "
            + "The part after the @-sign is not valid. It should have a period.",
        ),
        (
            "a..b@example.com",
            "error invalid email 'a..b@example.com': An email address cannot have two periods in a row.",
        ),
    ],
)
def test_fast_path_answers_the_common_and_the_refused_alike(address: str, expected: str) -> None:
    assert _fast(EmailNormalizer(), address) == expected
    assert _library(address) == expected


def test_a_domain_refused_once_is_refused_again_with_the_librarys_message() -> None:
    check = EmailNormalizer()
    for _ in range(2):
        with pytest.raises(ValueError) as caught:
            check("ana@exa_mple.com")
        with pytest.raises(ValueError) as direct:
            normalize_email("ana@exa_mple.com")
        assert str(caught.value) == str(direct.value)


def test_an_address_at_the_length_limit_is_judged_as_the_library_judges_it() -> None:
    check = EmailNormalizer()
    domain = ("b" * 60 + ".") * 3 + "example.com"
    for n in range(55, 66):
        address = "a" * n + "@" + domain
        assert _fast(check, address) == _library(address), n
