"""The studio in a real headless Chromium (Debian's, driven by Playwright), served by
uvicorn on a loopback port against a copy of the shipped project: switch the year and
the language, save a template and see the page follow without a reload, save a broken
one and see where it broke. Photographed at phone and desktop width
(tests/screenshots/), checked by axe-core (no serious or critical violation)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from browser import DESKTOP, PHONE, axe_violations, chromium, require_browser, screenshot
from conftest import Project

from scheduler.studio.app import create_app
from scheduler.studio.serve import open_socket

require_browser()

#: the studio's clock: December 2026, so the coming campaign year is 2027
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
#: a save reaches the page through the watcher, the event stream and a fetch
LIVE_MS = 30_000


@pytest.fixture
def studio(project: Project) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(project.config, clock=lambda: NOW, allowed_hosts={f"127.0.0.1:{port}"})
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=1, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [open_socket("127.0.0.1", port)]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def page(studio: str) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP, locale="en-US")
        tab = context.new_page()
        tab.set_default_timeout(LIVE_MS)
        yield tab
        context.close()


def ordinal(page: Any) -> str:
    return str(page.locator(".facts .ordinal").inner_text())


def show(page: Any, **fields: str) -> None:
    """Fill the picker and press Show, as an organizer does."""
    for name, value in fields.items():
        element = page.locator(f"#f-{name}")
        if element.evaluate("e => e.tagName") == "SELECT":
            element.select_option(value)
        else:
            element.fill(value)
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()


def save(page: Any, path: Path, text: str, shows: str) -> None:
    """Save ``text`` to ``path`` and wait until the page shows it (``shows``, a JS
    expression); saved again every few seconds, in case the watcher was still starting."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(LIVE_MS // 5000):
        path.write_text(text, encoding="utf-8")
        try:
            page.wait_for_function(f"() => {shows}", timeout=5000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the page never showed the save of {path}")


def check_page(page: Any, name: str) -> None:
    for size, label in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page.set_viewport_size(size)
        screenshot(page, f"studio-{name}-{label}")
        assert axe_violations(page) == [], (name, label)


def test_switching_the_year_and_the_language(studio: str, page: Any) -> None:
    page.goto(f"{studio}/")
    assert ordinal(page) == "37th"
    assert page.locator("#f-year").input_value() == "2027"
    show(page, year="2040")
    assert ordinal(page) == "50th"
    assert "year=2040" in page.url  # the URL holds the choice
    assert "a round year" in page.locator(".facts").inner_text()
    show(page, year="2027", language="az")
    assert ordinal(page) == "37-ci"
    assert page.locator(".subject-line").inner_text() == "Qara Yanvar: faciənin 37-ci ildönümü, 20 yanvar 2027"
    # The message itself, in its sandboxed frames at both widths.
    frames = page.locator("iframe")
    assert frames.count() == 2
    assert [frames.nth(i).get_attribute("width") for i in range(2)] == ["375", "1024"]
    inner = page.frame_locator("iframe").first.locator("body")
    assert "Hörmətli Aysel Məmmədova," in inner.inner_text()
    check_page(page, "az-2027")


def test_a_saved_template_updates_the_page_without_a_reload(studio: str, page: Any, project: Project) -> None:
    page.goto(f"{studio}/?year=2027&language=en&stage=day-of")
    page.evaluate("window.__notReloaded = true")
    part = project.root / "templates/black-january/en/day-of.txt.j2"
    text = part.read_text(encoding="utf-8")
    save(
        page,
        part,
        text.replace("{% block body %}", "{% block body %}Saved while the studio was open.\n", 1),
        "document.querySelector('#preview pre.text').innerText.includes('Saved while the studio was open.')",
    )
    assert page.evaluate("window.__notReloaded") is True
    assert page.locator("#live").inner_text().startswith("Preview updated at ")


def test_a_broken_save_shows_its_file_and_line_and_keeps_the_last_good_render(
    studio: str, page: Any, project: Project
) -> None:
    page.goto(f"{studio}/?year=2027&language=en")
    assert ordinal(page) == "37th"
    page.evaluate("window.__notReloaded = true")
    part = project.root / "templates/black-january/en/reminder.html.j2"
    text = part.read_text(encoding="utf-8")
    line = text[: text.index("{% block body %}")].count("\n") + 2
    broken = text.replace("{% block body %}\n", "{% block body %}\n<p>{{ anniversary.number|ordinal </p>\n", 1)
    save(page, part, broken, "document.querySelector('#preview .error[role=alert]') !== null")
    error = page.locator("#preview .error[role=alert]")
    assert error.locator("h3").inner_text() == "This message does not render"
    link = error.locator("a")
    assert link.inner_text() == f"{part}:{line}"
    assert page.evaluate("window.__notReloaded") is True
    # The last good render is one click away.
    page.get_by_text("The last good render").click()
    assert "37th" in page.locator(".last-good .subject-line").inner_text()
    check_page(page, "broken")
    # The link opens the file at that line.
    with page.expect_navigation():
        link.click()
    assert page.locator("li.here").get_attribute("id") == f"L{line}"
    assert "{{ anniversary.number|ordinal </p>" in page.locator("li.here").inner_text()


def test_the_picker_works_from_the_keyboard(studio: str, page: Any) -> None:
    page.goto(f"{studio}/?year=2027")
    page.focus("#f-language")
    page.keyboard.press("ArrowDown")  # en -> az
    assert page.locator("#f-language").input_value() == "az"
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Show":
            break
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert ordinal(page) == "37-ci"
    # Each year of the strip is a link, reached and followed with the keyboard too.
    link = page.locator(".strip a", has_text="2030")
    link.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert ordinal(page) == "40-cı"
