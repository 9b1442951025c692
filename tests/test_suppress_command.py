"""``anniversary subscribers suppress EMAIL --reason ...``: SMTP bounces handled by hand.
Exact output and exit codes, on the shipped config (outbox) and a real SQLite file."""

from __future__ import annotations

import email
import email.policy

from conftest import Project

from scheduler.config import load_config
from scheduler.content.tokens import Keyring
from scheduler.store import Store


def _mailed(project: Project) -> list[str]:
    return sorted(
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"]) for p in project.emls()
    )


def test_a_suppressed_subscriber_is_bounced_and_the_next_send_skips_them(project: Project, run) -> None:
    for who in ("ana@example.com", "bo@example.com"):
        assert run("subscribers", "add", who, "--timezone", "Asia/Baku").exit_code == 0
    got = run("subscribers", "suppress", "Ana@Example.com", "--reason", "550 5.1.1 user unknown")
    assert (got.exit_code, got.stdout, got.stderr) == (
        0,
        "Ana@Example.com: suppressed; the subscriber is no longer mailed\n",
        "",
    )
    listed = run("subscribers", "list")
    assert listed.stdout.splitlines()[0].endswith("\tbounced")
    shown = run("subscribers", "show", "ana@example.com")
    assert '"status_reason": "by hand: 550 5.1.1 user unknown"' in shown.stdout
    sent = run("send", "black-january", "reminder", "--year", "2027", "--yes")
    assert sent.exit_code == 0, sent.stderr
    assert _mailed(project) == ["bo@example.com"]


def test_an_address_on_no_subscriber_goes_on_the_suppression_list_as_a_hash(project: Project, run) -> None:
    got = run("subscribers", "suppress", "Zoe@Example.org", "--reason", "bounced from the old list")
    assert (got.exit_code, got.stdout) == (
        0,
        "Zoe@Example.org: suppressed; not a subscriber, kept on the suppression list so no import adds it\n",
    )
    config = load_config(project.config)
    hashes = Keyring.from_config(config).email_hashes("zoe@example.org")
    store = Store(config.database_url)
    assert store.suppressed(hashes) == {hashes[0]}
    assert store.count_subscribers() == {}


def test_a_bad_address_is_one_line_and_exit_2(project: Project, run) -> None:
    got = run("subscribers", "suppress", "not an address", "--reason", "x")
    assert got.exit_code == 2 and got.stdout == ""
    assert got.stderr.startswith("Error: EMAIL must be an email address (got 'not an address'")
    assert len(got.stderr.splitlines()) == 1


def test_a_reason_of_only_spaces_is_refused(project: Project, run) -> None:
    got = run("subscribers", "suppress", "ana@example.com", "--reason", " \r\n ")
    assert (got.exit_code, got.stderr) == (
        2,
        "Error: --reason must say why (for example: --reason 'SMTP 550 mailbox unavailable')\n",
    )


def test_a_reason_with_line_breaks_is_kept_on_one_line(project: Project, run) -> None:
    assert run("subscribers", "add", "ana@example.com", "--timezone", "Asia/Baku").exit_code == 0
    assert run("subscribers", "suppress", "ana@example.com", "--reason", "550\r\nBcc: x@evil.example").exit_code == 0
    shown = run("subscribers", "show", "ana@example.com")
    assert '"status_reason": "by hand: 550 Bcc: x@evil.example"' in shown.stdout


def test_help_has_an_example(run) -> None:
    got = run("subscribers", "suppress", "--help")
    assert got.exit_code == 0
    assert 'anniversary subscribers suppress ana@example.com --reason "550 5.1.1 user unknown"' in got.stdout
