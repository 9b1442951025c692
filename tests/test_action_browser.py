"""A real headless Chromium (Debian's, driven by Playwright) sends a statement for the
record: it follows the link in a captured reminder, picks a region, edits the letter,
sends it, sees the confirmation and the counter go up, then submits a second form and
sees "already sent". In English and Azerbaijani, photographed at phone and desktop
width (tests/screenshots/), with no serious or critical axe-core violation."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from typing import Any

import pytest
from browser import check_page, chromium, require_browser
from conftest import Project
from web_helpers import Web, make_web, serving

from scheduler.web.action_i18n import STRINGS

require_browser()

LINK = re.compile(r"https://example\.org(/anniversary/action/a1\.\S+)")


@pytest.fixture
def served(project: Project) -> Iterator[tuple[Web, str]]:
    web = make_web(project)
    with serving(web) as base:
        yield web, base


def action_link(project: Project, address: str) -> str:
    """The action page's path, from the reminder the outbox captured for ``address``."""
    for path in project.emls():
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg["To"].addresses[0].addr_spec == address and "reminder" in msg["X-Anniversary-Campaign"]:
            text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            (found,) = LINK.findall(text)
            return str(found)
    raise AssertionError(f"no reminder to {address}")


def send_letter(url: str, link: str, browser: Any, *, language: str, region: str, count: int) -> None:
    w = STRINGS[language]
    context = browser.new_context(locale="en-US")
    page, late = context.new_page(), context.new_page()
    try:
        page.goto(url + link)
        assert page.locator("h1").inner_text() == w["title"]
        assert page.locator(".count").inner_text().endswith(f": {count - 1}")
        check_page(page, f"action-{language}-open")
        page.select_option("#pick-region", region)
        with page.expect_navigation():
            page.click(".region-picker button")
        names = page.locator(".targets .who").all_inner_texts()
        assert names and all(n.endswith("(example)") for n in names)
        # A second tab with the same form, sent after the first: "already sent".
        late.goto(page.url)
        page.fill("#address", "350 Fifth Avenue, New York, NY 10118, USA")
        letter = page.locator("#letter")
        letter.fill(letter.input_value() + "\nWith my thanks, from a constituent.")
        check_page(page, f"action-{language}-letter")
        with page.expect_navigation():
            page.click(".letter-form button[type=submit]")
        assert page.locator("h2#sent").inner_text() == w["sent_title"]
        assert page.locator(".count").inner_text().endswith(f": {count}")
        assert "With my thanks, from a constituent." in page.locator(".letter-sent").inner_text()
        check_page(page, f"action-{language}-sent")
        late.fill("#address", "1 Other Street")
        with late.expect_navigation():
            late.click(".letter-form button[type=submit]")
        assert late.locator("h2#sent").inner_text() == w["already_title"]
        assert late.locator(".count").inner_text().endswith(f": {count}")
        check_page(late, f"action-{language}-already-sent")
    finally:
        context.close()


def test_chromium_sends_a_letter_from_the_reminder_link_in_english_and_azerbaijani(
    served: tuple[Web, str],
    run: Any,
    project: Project,
) -> None:
    web, url = served
    rows = "leyla@example.com,Leyla,en,America/New_York\naysel@example.com,Aysel,az,Asia/Baku\n"
    assert run("subscribers", "import", str(project.write_csv(rows))).exit_code == 0
    assert run("send", "black-january", "reminder", "--year", "2027", "--yes").exit_code == 0
    with chromium() as browser:
        send_letter(url, action_link(project, "leyla@example.com"), browser, language="en", region="US-NY", count=1)
        send_letter(url, action_link(project, "aysel@example.com"), browser, language="az", region="US-TX", count=2)
    letters = [m for m in web.messages() if m["X-Anniversary-Campaign"] == "black-january/2027/letter"]
    assert sorted(m["To"].addresses[0].addr_spec for m in letters) == [
        "aysel@example.com",
        "leyla@example.com",
        "member.three@example.org",
        "rep.one@example.org",
        "sen.four@example.org",
        "sen.two@example.org",
    ]
    assert web.row("aysel@example.com", "region") == "US-TX"
