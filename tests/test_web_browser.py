"""A real headless Chromium (Debian's, driven by Playwright) walks the web app served by
uvicorn on a loopback port: sign up, confirm from the captured email, change language
and zone, unsubscribe. Every page is photographed in English and Azerbaijani at phone
and desktop width (tests/screenshots/), checked by axe-core (no serious or critical
violation), and its main button is reached with the Tab key."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from browser import check_page, chromium, require_browser
from conftest import Project
from web_helpers import Web, make_web, serving

from scheduler.web.i18n import STRINGS

require_browser()


@pytest.fixture
def served(project: Project) -> Iterator[tuple[Web, str]]:
    web = make_web(project)
    with serving(web) as base:
        yield web, base


def tab_reaches(page: Any, selector: str, limit: int = 40) -> int:
    """Presses Tab from the top of the page until ``selector`` has the focus; how many."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.focus("body")
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"Tab never reached {selector} in {limit} presses")


def walk(web: Web, url: str, browser: Any, *, first: str, then: str, email: str) -> None:
    w1, w2 = STRINGS[first], STRINGS[then]
    context = browser.new_context(timezone_id="Asia/Baku", locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{url}/anniversary/subscribe?lang={first}")
        assert page.locator("h1").inner_text() == w1["subscribe_title"]
        # zone.js filled the select from the browser's own zone.
        assert page.locator("#timezone").input_value() == "Asia/Baku"
        check_page(page, f"web-{first}-subscribe")
        assert tab_reaches(page, "button[type=submit]") <= 12
        page.fill("#email", email)
        page.fill("#name", "Leyla")
        page.select_option("#language", first)
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == w1["subscribed_title"]
        check_page(page, f"web-{first}-subscribed")
        assert web.status(email) == "pending"

        page.goto(url + web.confirmation_path(email))
        assert page.locator("h1").inner_text() == w1["confirm_title"]
        check_page(page, f"web-{first}-confirm")
        assert tab_reaches(page, "button[type=submit]") <= 3
        assert web.status(email) == "pending"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("h1").inner_text() == w1["confirmed_title"]
        check_page(page, f"web-{first}-confirmed")
        assert web.status(email) == "active"

        page.click("a.button-link")
        assert page.locator("h1").inner_text() == w1["preferences_title"]
        check_page(page, f"web-{first}-preferences")
        page.select_option("#language", then)
        page.select_option("#timezone", "Europe/Istanbul")
        page.fill("#region", "AZ-BA")
        page.click("form:has(#region) button[type=submit]")
        assert page.locator("html").get_attribute("lang") == then
        assert page.locator(".notice").inner_text() == w2["saved"]
        check_page(page, f"web-{then}-preferences-saved")
        assert (web.row(email, "language"), web.row(email, "timezone"), web.row(email, "region")) == (
            then,
            "Europe/Istanbul",
            "AZ-BA",
        )

        unsubscribe = page.url.replace("/preferences/", "/unsubscribe/")
        page.goto(unsubscribe)
        assert page.locator("h1").inner_text() == w2["unsubscribe_title"]
        check_page(page, f"web-{then}-unsubscribe")
        assert web.status(email) == "active"
        assert tab_reaches(page, "form[action$='" + unsubscribe.split("/anniversary", 1)[1] + "'] button") <= 3
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("h1").inner_text() == w2["unsubscribed_title"]
        check_page(page, f"web-{then}-unsubscribed")
        assert web.status(email) == "unsubscribed"

        page.goto(f"{url}/anniversary/unsubscribe/v1.1.forged")
        assert page.locator("h1").inner_text() == STRINGS["en"]["error_link_title"]
        check_page(page, f"web-{first}-error")
    finally:
        context.close()


def test_chromium_walks_sign_up_confirm_preferences_and_unsubscribe_in_english_then_azerbaijani(
    served: tuple[Web, str],
) -> None:
    web, url = served
    with chromium() as browser:
        walk(web, url, browser, first="en", then="az", email="leyla.en@example.com")
        walk(web, url, browser, first="az", then="en", email="leyla.az@example.com")
    db = sqlite3.connect(web.project.root / "subscribers.db")
    assert db.execute("select count(*) from subscriber where status = 'unsubscribed'").fetchone() == (2,)
