"""The outbox transport: real .eml files, parsed back with the standard email package."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from conftest import Project


def _parse(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def _send(run, project: Project, rows: str, stage: str = "reminder") -> list[EmailMessage]:
    run("subscribers", "import", str(project.write_csv(rows)))
    result = run("send", "black-january", stage, "--year", "2027", "--yes")
    assert result.exit_code == 0, result.stderr
    return [_parse(p) for p in project.emls()]


def test_one_rfc5322_file_per_message_with_both_parts(run, project: Project) -> None:
    msgs = _send(run, project, "a@example.com,Ana,en,America/Los_Angeles\nb@example.com,Bəxtiyar,az,Asia/Baku\n")
    assert len(msgs) == 2
    ana, bax = msgs
    assert ana["To"] == "Ana <a@example.com>"
    assert ana["From"] == "Example Network <commemorations@example.org>"
    assert ana["Subject"] == "Black January: the 37th anniversary, January 20, 2027"
    assert ana["Message-ID"].startswith("<black-january.2027.reminder.") and ana["Message-ID"].endswith("@example.org>")
    assert ana["Date"]
    # The alternatives, and beside them the minute of silence as an invitation.
    assert ana.get_content_type() == "multipart/mixed"
    alternative, invitation = ana.get_payload()  # type: ignore[misc]
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert invitation.get_content_type() == "text/calendar"
    assert invitation.get_param("method") == "PUBLISH"
    assert invitation.get_filename() == "black-january-2027.ics"
    text = ana.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = ana.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "37th anniversary" in text and "<html" in html.lower()
    # A non-ASCII subject is encoded on the wire and decodes back.
    raw = project.emls()[1].read_bytes().decode("ascii")
    assert "=?utf-8?" in raw
    assert bax["Subject"] == "Qara Yanvar: faciənin 37-ci ildönümü, 20 yanvar 2027"
    assert bax["Content-Language"] == "az"


def test_list_unsubscribe_one_click(run, project: Project) -> None:
    (msg,) = _send(run, project, "a@example.com,Ana,en,Europe/Berlin\n")
    https, mailto = (part.strip().strip("<>") for part in msg["List-Unsubscribe"].split(","))
    assert https.startswith("https://example.org/anniversary/unsubscribe/v1.1.")
    assert mailto == "mailto:commemorations@example.org?subject=unsubscribe"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    from conftest import SIGNING_KEY

    from scheduler.content.links import Signer

    assert Signer(SIGNING_KEY.encode()).verify(https.rsplit("/", 1)[1]) == 1
    assert https in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_name_with_crlf_never_adds_a_header(run, project: Project) -> None:
    path = project.root / "evil.csv"
    path.write_text(
        'email,name,language,timezone\nx@example.com,"Eve\r\nBcc: victim@example.com",en,UTC\n', encoding="utf-8"
    )
    run("subscribers", "import", str(path))
    run("send", "black-january", "reminder", "--year", "2027", "--yes")
    (eml,) = project.emls()
    msg = _parse(eml)
    assert msg["Bcc"] is None
    assert msg["To"].addresses[0].addr_spec == "x@example.com"
    assert b"\nBcc:" not in eml.read_bytes()


def test_name_with_html_never_breaks_the_html_part(run, project: Project) -> None:
    (msg,) = _send(run, project, 'x@example.com,"<img src=x onerror=alert(1)> & </table>",en,UTC\n')
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;/table&gt;" in html


def test_files_are_written_atomically(run, project: Project) -> None:
    _send(run, project, "a@example.com,A,en,UTC\nb@example.com,B,ru,UTC\n")
    leftovers = [p for p in project.outbox.rglob("*") if p.is_file() and not p.name.endswith(".eml")]
    assert leftovers == []
