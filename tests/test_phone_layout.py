"""The HTML part on a phone, in a real headless Chromium: every shipped campaign, stage
and language, rendered as `anniversary preview --html` writes it, fits a 375 px screen
without horizontal scrolling, and the anniversary ordinal ("37-я", "37-ci", "37'nci")
never wraps after its hyphen or apostrophe.

Needs Debian's Chromium at /usr/bin/chromium (.ci/run installs it) and the playwright
package, which drives that browser: Playwright's own browser downloads are not used."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, Project

from scheduler.config import load_config
from scheduler.core import numbers
from scheduler.core.dates import anniversary_number

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed (pip)")

PHONE_WIDTH = 375  # CSS px: an iPhone 6/7/8/SE or mini, a common narrow phone
YEARS = (2027, 2040)  # an ordinary year and a round one (its own wording)
EMAIL = "phone@example.com"
# Long, and with one word wider than the column, as real names sometimes are.
NAME = "Hubert Blaine Wolfeschlegelsteinhausenbergerdorffwelchevoralternwarengewissenhaftschafers Sr."
ZONE = "America/Los_Angeles"  # a long zone name in every language

CASES = [
    pytest.param(campaign.id, stage.id, language, year, id=f"{campaign.id}-{stage.id}-{language}-{year}")
    for campaign in load_config(REPO / "config.toml").campaign
    for stage in campaign.stage
    for language in campaign.languages
    for year in YEARS
]

# The ordinal filter's spans whose text is this year's ordinal, and how many boxes each
# one makes: two or more means it wrapped.
_ORDINAL_LINES = """ordinal => Array.from(document.querySelectorAll('span'))
    .filter(s => s.textContent === ordinal && getComputedStyle(s).whiteSpace === 'nowrap')
    .map(s => s.getClientRects().length)"""


@pytest.fixture(scope="module")
def phone() -> Iterator[Any]:
    """One browser tab with a phone's viewport, shared by the module: each test loads its
    own file into it, so only the first pays for starting Chromium."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        context = chromium.new_context(viewport={"width": PHONE_WIDTH, "height": 800}, is_mobile=True, has_touch=True)
        yield context.new_page()
        context.close()
        chromium.close()


@pytest.mark.parametrize(("campaign_id", "stage_id", "language", "year"), CASES)
def test_html_part_fits_a_phone(
    run, project: Project, phone: Any, tmp_path: Path, campaign_id: str, stage_id: str, language: str, year: int
) -> None:
    added = run("subscribers", "add", EMAIL, "--name", NAME, "--language", language, "--timezone", ZONE)
    assert added.exit_code == 0, added.stderr
    html = tmp_path / f"{campaign_id}-{stage_id}-{language}-{year}.html"
    shown = run("preview", campaign_id, stage_id, "--year", str(year), "--email", EMAIL, "--html", str(html))
    assert shown.exit_code == 0, shown.stderr
    assert "Warning" not in shown.stderr  # rendered in `language`, not the fallback
    # The text part prints the unsubscribe URL (text has no links); the HTML part links it.
    unsubscribe = re.search(r"https?://\S+/unsubscribe/\S+", shown.stdout)
    assert unsubscribe, shown.stdout
    campaign = load_config(project.config).get_campaign(campaign_id)
    ordinal = numbers.ordinal(anniversary_number(campaign.event_date, year), language)

    phone.goto(html.as_uri())
    phone.screenshot(path=str(html.with_suffix(".png")), full_page=True)
    widths = phone.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth]")
    assert widths[0] <= PHONE_WIDTH and widths[1] <= PHONE_WIDTH, (
        f"scrollWidth (html, body) {widths} > {PHONE_WIDTH}; see {html.with_suffix('.png')}"
    )
    # A URL is one long word: in the footer it would wrap over lines, or widen the page.
    assert phone.locator(f'a[href="{unsubscribe.group(0)}"]').count() == 1
    assert unsubscribe.group(0) not in phone.evaluate("document.body.innerText")
    lines = phone.evaluate(_ORDINAL_LINES, ordinal)
    assert lines, f"no nowrap span around {ordinal!r} in the HTML part"
    assert lines == [1] * len(lines), f"{ordinal!r} wraps at {PHONE_WIDTH} px: {lines}"
    # Wherever a line happens to end, the ordinal stays whole: even with no room at all
    # (its paragraph or cell 1 px wide), where "37-" / "ci" would otherwise split.
    phone.evaluate(
        """ordinal => document.querySelectorAll('span').forEach(s => {
            if (s.textContent !== ordinal) return;
            let block = s.parentElement;
            while (getComputedStyle(block).display.startsWith('inline')) block = block.parentElement;
            block.style.width = '1px';
        })""",
        ordinal,
    )
    squeezed = phone.evaluate(_ORDINAL_LINES, ordinal)
    assert squeezed == [1] * len(lines), f"{ordinal!r} can wrap: {squeezed}"
