"""The studio's routes through FastAPI's TestClient (README: The studio): the picker and
what it shows, a broken save and the last good render, the source links, the headers
that keep it local and script-free, and "Send test to…" limited to the organizers."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Project
from starlette.testclient import TestClient

from scheduler.studio.app import CSP, MESSAGE_CSP, create_app
from scheduler.studio.live import Changes
from scheduler.studio.serve import parse_bind

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOST = "127.0.0.1:8090"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _client(project: Project, *, allow_any: bool = False, hosts: set[str] | None = None) -> TestClient:
    app = create_app(project.config, clock=lambda: NOW, allow_any_address=allow_any, allowed_hosts=hosts, watch=False)
    return TestClient(app, base_url=f"http://{HOST}", follow_redirects=False)


def _ordinal(html: str) -> str:
    match = re.search(r'class="ordinal">([^<]+)<', html)
    assert match, html[:3000]
    return match.group(1)


def test_the_default_is_the_coming_year_in_the_first_language(project: Project) -> None:
    page = _client(project).get("/")
    assert page.status_code == 200
    assert _ordinal(page.text) == "37th"
    assert '<h2 id="facts-h">black-january · reminder · 2027 · en</h2>' in page.text
    assert "Black January: the 37th anniversary, January 20, 2027" in page.text
    assert "2027-01-20 12:00 +04 (Asia/Baku)" in page.text
    # The invitation the message carries, and its headers.
    assert "METHOD:PUBLISH" in page.text and "UID:black-january-2027@example.org" in page.text
    assert '<th scope="row">List-Unsubscribe-Post</th><td>List-Unsubscribe=One-Click</td>' in page.text


@pytest.mark.parametrize(
    ("query", "ordinal"), [("year=2040", "50th"), ("year=2027&language=az", "37-ci"), ("year=2040&language=ru", "50-я")]
)
def test_the_url_holds_the_choice(project: Project, query: str, ordinal: str) -> None:
    page = _client(project).get(f"/?{query}&stage=day-of&zone=America/Los_Angeles")
    assert _ordinal(page.text) == ordinal
    year = query.split("&")[0].split("=")[1]
    assert f"{year}-01-20 00:00 PST (America/Los_Angeles)" in page.text
    assert f"{year}-01-19 20:00 PST (America/Los_Angeles)" in page.text  # 4 h before, out of quiet hours


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("year=19x", "year: must be a year such as 2027 (got &#39;19x&#39;)"),
        ("year=1989", "year 1989 has no anniversary of an event on 1990-01-20; the first is 1991"),
        ("language=fr", "--language &#39;fr&#39; is not one of en, az, ru, tr"),
        ("stage=nope", "no stage &#39;nope&#39;"),
    ],
)
def test_a_selection_that_cannot_be_shown_is_one_line_on_the_page(project: Project, query: str, why: str) -> None:
    page = _client(project).get(f"/?{query}")
    assert page.status_code == 400
    assert why in page.text, page.text[page.text.find('role="alert"') :][:400]


def test_pages_load_only_their_own_script_and_the_message_is_sandboxed(project: Project) -> None:
    client = _client(project)
    page = client.get("/")
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/studio.js" defer>']
    assert " style=" not in page.text.split('<main id="preview"')[0]
    frames = re.findall(r'<iframe [^>]*src="([^"]+)"', page.text)
    assert len(frames) == 2 and all('sandbox=""' in f for f in re.findall(r"<iframe [^>]*>", page.text))
    framed = client.get(frames[0].replace("&amp;", "&"))
    assert framed.headers["content-security-policy"] == MESSAGE_CSP
    assert framed.text.startswith("<!DOCTYPE html>") and "Unsubscribe" in framed.text
    assert client.get("/static/studio.js").status_code == 200


def test_it_answers_only_to_the_names_it_was_started_on(project: Project) -> None:
    client = _client(project, hosts={HOST, "localhost:8090"})
    assert client.get("/").status_code == 200
    other = client.get("/", headers={"host": "attacker.example:8090"})
    assert (other.status_code, other.text) == (421, "the studio answers only to 127.0.0.1:8090, localhost:8090\n")


def test_a_broken_save_shows_the_error_at_its_line_and_keeps_the_last_good_render(project: Project) -> None:
    client = _client(project)
    assert client.get("/fragment?year=2027").status_code == 200  # a good render first
    part = project.root / "templates/black-january/en/reminder.txt.j2"
    text = part.read_text(encoding="utf-8")
    line = text[: text.index("{{ event.title }}")].count("\n") + 1
    part.write_text(text.replace("{{ event.title }}", "{{ event.title", 1), encoding="utf-8")
    frag = client.get("/fragment?year=2027").text
    assert "<h3>This message does not render</h3>" in frag
    link = re.search(r'<a href="(/source\?[^"]+)">([^<]+)</a>: syntax error: ([^<]+)</p>', frag)
    assert link, frag[:2000]
    assert link.group(2) == f"{part}:{line}"
    assert link.group(3) == "expected token &#39;end of print statement&#39;, got &#39;we&#39;"
    assert "<summary>The last good render</summary>" in frag
    source = client.get(link.group(1).replace("&amp;", "&"))
    assert f'<li id="L{line}" class="here" aria-current="location"><code>' in source.text
    # The campaign's check counts the problem, and the year strip fails every year.
    assert "10 problem(s)" not in frag and "check fails" in frag and "check passes" not in frag


def test_a_config_that_does_not_load_keeps_the_last_one(project: Project) -> None:
    client = _client(project)
    project.edit_config("late_cutoff_hours = 12", "late_cutof_hours = 12")
    frag = client.get("/fragment").text
    assert "<h2>config.toml does not load</h2>" in frag
    assert "campaign[0].late_cutof_hours: unknown key" in frag
    assert _ordinal(frag) == "37th"


def test_the_year_strip_marks_round_years_and_a_year_check_fails(project: Project) -> None:
    part = project.root / "templates/black-january/en/day-of.txt.j2"
    text = part.read_text(encoding="utf-8")
    part.write_text(
        text.replace("{% block body %}", "{% block body %}{% if anniversary.year == 2029 %}The 23rd.{% endif %}", 1),
        encoding="utf-8",
    )
    frag = _client(project).get("/fragment").text
    strip = re.findall(
        r'<li class="([^"]+)">\n<a [^>]*><span class="year">(\d+)</span> <span class="num">([^<]+)</span>', frag
    )
    ordinals = ["37th", "38th", "39th", "40th", "41st", "42nd", "43rd", "44th", "45th", "46th"]
    assert [(y, n) for _, y, n in strip] == list(zip(map(str, range(2027, 2037)), ordinals, strict=True))
    classes = {y: c for c, y, _ in strip}
    assert classes["2029"] == "fails"
    assert classes["2030"] == "passes round"
    assert classes["2027"] == "passes current"
    assert "The whole campaign, this year and the next 10: 1 problem(s), 0 warning(s)." in frag


def test_source_shows_only_config_and_templates(project: Project) -> None:
    client = _client(project)
    assert client.get("/source", params={"file": str(project.config), "line": 3}).status_code == 200
    secret = project.root / "secret.txt"
    secret.write_text("do not show\n", encoding="utf-8")
    for file in (str(secret), "/etc/passwd", str(project.root / "templates/../secret.txt")):
        got = client.get("/source", params={"file": file})
        assert got.status_code == 404 and "do not show" not in got.text and "root:" not in got.text


def _form(client: TestClient, query: str = "year=2027&language=az&zone=Europe/Berlin") -> dict[str, str]:
    page = client.get(f"/?{query}").text
    send = page[page.index('action="/send-test"') :]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', send))
    return {k: v.replace("&#39;", "'") for k, v in fields.items()}


def test_send_test_goes_only_to_the_organizers(project: Project) -> None:
    project.edit_config("emails = []", 'emails = ["org@example.org"]')
    client = _client(project)
    form = _form(client)
    refused = client.post("/send-test", data={**form, "to": "someone@example.com"})
    assert refused.status_code == 403
    assert (
        "someone@example.com is not in organizers.emails; a test goes only to the organizers unless the studio"
        " was started with --allow-any-address"
    ) in refused.text
    assert project.emls() == []
    sent = client.post("/send-test", data={**form, "to": "Org@Example.org"})
    assert sent.status_code == 303
    assert sent.headers["location"].endswith("&sent=Org%40example.org&via=outbox")
    (path,) = project.emls()
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "[TEST] Qara Yanvar: faciənin 37-ci ildönümü, 20 yanvar 2027"
    assert msg["X-Anniversary-Test"] == "yes" and msg["To"] == "Aysel Məmmədova <Org@example.org>"
    assert [p.get_content_type() for p in msg.walk()][-1] == "text/calendar"
    notice = client.get(sent.headers["location"]).text
    assert "A test message went to Org@example.org through outbox." in notice


def test_send_test_needs_the_page_token_and_allow_any_address_lifts_the_limit(project: Project) -> None:
    client = _client(project, allow_any=True)
    form = _form(client)
    assert client.post("/send-test", data={**form, "csrf_token": "forged", "to": "a@example.com"}).status_code == 403
    cross = client.post("/send-test", data={**form, "to": "a@example.com"}, headers={"origin": "https://evil.example"})
    assert cross.status_code == 403
    assert project.emls() == []
    assert client.post("/send-test", data={**form, "to": "a@example.com"}).status_code == 303
    assert len(project.emls()) == 1


def test_a_real_subscriber_by_email(project: Project, run) -> None:
    assert (
        run(
            "subscribers",
            "add",
            "ana@example.com",
            "--name",
            "Ana",
            "--language",
            "tr",
            "--timezone",
            "Europe/Istanbul",
        ).exit_code
        == 0
    )
    frag = _client(project).get("/fragment?email=ana@example.com&year=2040").text
    assert _ordinal(frag) == "50&#39;nci"
    assert "ana@example.com: Ana, tr" in frag
    assert "2040-01-20 11:00 +03 (Europe/Istanbul)" in frag
    assert (
        "no subscriber &#39;nobody@example.com&#39;" in _client(project).get("/fragment?email=nobody@example.com").text
    )


def test_bind_is_host_and_port() -> None:
    assert parse_bind("127.0.0.1:8090") == ("127.0.0.1", 8090)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    from scheduler.errors import UsageError

    with pytest.raises(UsageError) as err:
        parse_bind("localhost")
    assert str(err.value) == "--bind must be HOST:PORT, like 127.0.0.1:8080 (got 'localhost')"


def test_a_save_is_pushed_as_a_server_sent_event(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")

    async def scenario() -> list[str]:
        changes = Changes()
        changes.start(config, [folder])
        stream = changes.events()
        got = [await stream.__anext__()]
        for path in (folder / "a.txt.j2", config):
            # Saved again each second until the event comes: the watcher may still be
            # starting on a busy machine.
            pending = asyncio.ensure_future(stream.__anext__())
            for attempt in range(20):
                path.write_text(f"saved {attempt}", encoding="utf-8")
                done, _ = await asyncio.wait({pending}, timeout=1)
                if done:
                    break
            got.append(pending.result())
        await changes.stop()
        return got

    hello, first, second = asyncio.run(scenario())
    assert hello == "retry: 1000\nevent: hello\ndata: 0\n\n"
    assert first.startswith("event: change\ndata: ") and second.startswith("event: change\ndata: ")
    assert int(second.split("data: ")[1]) > int(first.split("data: ")[1])


def test_studio_command_prints_its_url_and_serves(project: Project) -> None:
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "studio", "--config", str(project.config), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"studio: http://127.0.0.1:{port}/ (Ctrl-C to stop)\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?year=2040", timeout=60) as answer:
            assert answer.status == 200
            assert 'class="ordinal">50th<' in answer.read().decode("utf-8")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_studio_command_refuses_a_bad_bind_and_a_busy_port_in_one_line(run) -> None:
    bad = run("studio", "--bind", "nope")
    assert (bad.exit_code, bad.stdout, bad.stderr) == (
        2,
        "",
        "Error: --bind must be HOST:PORT, like 127.0.0.1:8080 (got 'nope')\n",
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        taken = run("studio", "--bind", f"127.0.0.1:{port}")
    assert (taken.exit_code, taken.stdout, taken.stderr) == (
        2,
        "",
        f"Error: --bind 127.0.0.1:{port}: cannot listen there (Address already in use)\n",
    )
