"""`anniversary send-test`: one real message to any address, marked as a test, never in
the ledger."""

from __future__ import annotations

import email
import email.policy
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sg_sink import Fault, Sink
from sg_world import API_KEY, make_config, make_store
from smtp_server import Handler, start

from scheduler.cli import cli

pytestmark = pytest.mark.usefixtures("sendgrid_env")


def invoke(config: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["send-test", *args, "--config", str(config)])
    return res.exit_code, res.output


def ledger_rows(tmp_path: Path) -> int:
    db = sqlite3.connect(tmp_path / "subscribers.db")
    try:
        return int(db.execute("select count(*) from ledger").fetchone()[0])
    finally:
        db.close()


def test_outbox_test_message_is_marked_and_not_in_the_ledger(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, kind="outbox")
    make_store(cfg, 3)
    code, out = invoke(
        cfg.path, "black-january", "day-of", "--to", "me@example.net", "--language", "az", "--year", "2027"
    )
    assert code == 0, out
    (path,) = (tmp_path / "outbox").rglob("*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == "me@example.net"
    assert str(msg["Subject"]).startswith("[TEST] ") and msg["X-Anniversary-Test"] == "yes"
    assert msg["Content-Language"] == "az" and "37" in str(msg["Subject"])
    assert ledger_rows(tmp_path) == 0 and "test message sent to me@example.net via outbox" in out


def test_sendgrid_test_message(tmp_path: Path, sink: Sink) -> None:
    cfg = make_config(tmp_path, f'[transport.sendgrid]\nhost = "{sink.url}"')
    code, out = invoke(cfg.path, "black-january", "reminder", "--to", "Someone@Example.NET", "--name", "Ada")
    assert code == 0, out
    (seen,) = sink.seen
    assert not sink.errors and seen.body["subject"].startswith("[TEST] ")
    assert seen.body["headers"]["X-Anniversary-Test"] == "yes"
    (p,) = seen.body["personalizations"]
    assert p["to"] == [{"email": "Someone@example.net", "name": "Ada"}] and p["custom_args"] == {"subscriber": "test"}
    text = seen.body["content"][0]["value"]
    for placeholder, value in p.get("substitutions", {}).items():
        text = text.replace(placeholder, value)
    assert "Ada" in text and "%anv-" not in text and seen.message_id in out
    assert not (tmp_path / "subscribers.db").exists(), "a test send touches no database"


def test_smtp_test_message(tmp_path: Path) -> None:
    handler = Handler()
    controller = start(handler)
    try:
        cfg = make_config(
            tmp_path, f'[transport.smtp]\nhost = "127.0.0.1"\nport = {controller.port}\nsecurity = "none"', kind="smtp"
        )
        code, out = invoke(cfg.path, "black-january", "day-of", "--to", "x@example.org")
    finally:
        controller.stop()
    assert code == 0, out
    (msg,) = handler.received
    assert str(msg["Subject"]).startswith("[TEST] ") and msg["X-Anniversary-Test"] == "yes"
    assert handler.delivered_to() == ["x@example.org"]


def test_refused_key_is_one_error_line(tmp_path: Path, sink: Sink) -> None:
    sink.faults = [Fault(403, body={"errors": [{"message": "access forbidden"}]})]
    cfg = make_config(tmp_path, f'[transport.sendgrid]\nhost = "{sink.url}"')
    code, out = invoke(cfg.path, "black-january", "day-of", "--to", "x@example.org")
    # A refused key stops the run: exit 3 (README: Troubleshooting, exit codes).
    assert code == 3 and out.count("Error:") == 1 and "403 access forbidden" in out and API_KEY not in out


def test_rejected_test_message_says_why(tmp_path: Path, sink: Sink) -> None:
    sink.faults = [Fault(400, body={"errors": [{"message": "Invalid to", "field": "personalizations.0.to"}]})]
    cfg = make_config(tmp_path, f'[transport.sendgrid]\nhost = "{sink.url}"')
    code, out = invoke(cfg.path, "black-january", "day-of", "--to", "x@example.org")
    assert code == 1 and out.strip() == (
        "Error: test message to x@example.org not sent (failed): SendGrid 400: Invalid to (field personalizations.0.to)"
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["black-january", "day-of", "--to", "not-an-address"], "Error: --to: not an email address"),
        (["black-january", "day-of", "--to", "a@example.org", "--language", "fr"], "Error: --language 'fr'"),
        (["nope", "day-of", "--to", "a@example.org"], "Error: No campaign by the id of 'nope'"),
        (["black-january", "nope", "--to", "a@example.org"], "has no stage 'nope'"),
        (["black-january", "day-of", "--to", "a@example.org", "--timezone", "Mars/Base"], "Error: --timezone"),
    ],
)
def test_bad_input_is_one_error_line_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    cfg = make_config(tmp_path, kind="outbox")
    code, out = invoke(cfg.path, *args)
    assert code == 2 and needle in out and len(out.strip().splitlines()) == 1
    assert not (tmp_path / "outbox").exists()
