"""CSS inlined at render time (README: Templates): style rules become style attributes,
once per content group, and the group's placeholders pass through; the text part is
never empty."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import Project

from scheduler.config import load_config
from scheduler.content import templates
from scheduler.content.compose import Composer, Person
from scheduler.content.groups import NAME_HTML, UNSUB_TEXT, group_key
from scheduler.content.links import Signer
from scheduler.content.templates import SubscriberView, TemplateSet, build_context
from scheduler.errors import TemplateProblem

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)

STYLED = """<!DOCTYPE html>
<html><head><style>
p.greeting { color: #1f1f1f; font-weight: bold; }
a { color: #0b57d0; }
@media (max-width: 480px) { p.greeting { font-size: 20px; } }
</style></head>
<body><p class="greeting">Dear {{ subscriber.name }},</p>
<p>{{ anniversary.number|ordinal }} · {{ sender.postal_address }}</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>
"""


def _write(project: Project, parts: dict[str, str], stage: str = "reminder", language: str = "en") -> None:
    folder = project.root / "templates" / "black-january" / language
    for part, text in parts.items():
        (folder / f"{stage}.{part}.j2").write_text(text, encoding="utf-8")


def _render(project: Project, name: str = "Ana"):
    config = load_config(project.config)
    campaign = config.campaign[0]
    view = SubscriberView(name, "en", "Europe/Berlin")
    ctx = build_context(config, campaign, campaign.get_stage("reminder"), 2027, view, "https://example.org/u/1")
    return TemplateSet(config, campaign).render("reminder", ctx)


def test_style_rules_become_style_attributes_and_media_rules_stay(project: Project) -> None:
    _write(project, {"html": STYLED})
    html = _render(project).html
    assert '<p class="greeting" style="color: #1f1f1f;font-weight: bold;">Dear Ana,</p>' in html, html
    assert '<a href="https://example.org/u/1" style="color: #0b57d0;">Unsubscribe</a>' in html
    # A media query cannot be inlined: it stays, for the clients that read <style>.
    style = html[html.index("<style>") : html.index("</style>")]
    assert style == "<style>@media (max-width: 480px) { p.greeting { font-size: 20px; } } "


def test_a_part_without_a_stylesheet_is_sent_exactly_as_written(project: Project) -> None:
    _write(project, {"html": "<p>{{ subscriber.name }} &#39; {{ unsubscribe_url }} {{ sender.postal_address }}</p>"})
    assert _render(project, "O'Brien").html == (
        "<p>O&#39;Brien &#39; https://example.org/u/1 1 Example St, Washington, DC 20001, USA</p>"
    )


def test_placeholders_survive_inlining_and_each_recipient_gets_what_a_render_alone_gives(project: Project) -> None:
    _write(project, {"html": STYLED})
    config = load_config(project.config)
    campaign = config.campaign[0]
    stage = campaign.get_stage("reminder")
    composer = Composer(config, Signer.ephemeral())
    content = composer.group(campaign, stage, 2027, ("en", "Europe/Berlin", True))
    assert content is not None, "a styled template still renders once for its group"
    assert f'<p class="greeting" style="color: #1f1f1f;font-weight: bold;">Dear {NAME_HTML},</p>' in content.html
    assert f'<a href="{UNSUB_TEXT}" style="color: #0b57d0;">' in content.html
    name = "Ana <b>Smith</b> & Co"
    people = [Person(5, "ana@example.com", name, "en", "Europe/Berlin")]
    (batch,) = composer.compose(campaign, stage, 2027, NOW, group_key("en", "Europe/Berlin", name), people).batches
    filled = batch.fill(batch.recipients[0])
    alone = composer.render(campaign, stage, 2027, SubscriberView(name, "en", "Europe/Berlin"), 5)
    assert filled.html == alone.html
    assert "Dear Ana &lt;b&gt;Smith&lt;/b&gt; &amp; Co," in filled.html


def test_css_is_inlined_once_per_group_not_per_recipient(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(project, {"html": STYLED})
    calls: list[int] = []
    real = templates.inline_css

    def counting(markup: str, where: str) -> str:
        calls.append(1)
        return real(markup, where)

    monkeypatch.setattr(templates, "inline_css", counting)
    config = load_config(project.config)
    campaign = config.campaign[0]
    stage = campaign.get_stage("reminder")
    composer = Composer(config, Signer.ephemeral())
    key = ("en", "Europe/Berlin", True)
    people = [Person(i, f"p{i}@example.com", f"Person {i}", "en", "Europe/Berlin") for i in range(1, 501)]
    for start in range(0, 500, 100):  # five batches of one group
        composed = composer.compose(campaign, stage, 2027, NOW, key, people[start : start + 100])
        assert sum(len(b) for b in composed.batches) == 100
    # Two renders of the group (its placeholders, and the check that it only prints
    # them), whatever the number of recipients or batches.
    assert len(calls) == 2


def test_a_remote_stylesheet_is_never_fetched(project: Project) -> None:
    fetched: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"p { color: red; }")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/x.css"
        _write(
            project,
            {"html": f'<html><head><link rel="stylesheet" href="{url}"></head>' + STYLED[STYLED.index("<body>") :]},
        )
        html = _render(project).html
    finally:
        server.shutdown()
    assert fetched == []
    assert "color: red" not in html and "<link" not in html


def test_an_empty_text_part_is_a_template_problem(project: Project) -> None:
    _write(project, {"txt": "{% if false %}never{% endif %}\n  \n"})
    with pytest.raises(TemplateProblem) as err:
        _render(project)
    assert str(err.value) == f"{project.root}/templates/black-january/en/reminder.txt.j2: the text part renders empty"
