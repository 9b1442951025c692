"""What every browser test shares: Debian's Chromium driven by Playwright
(``executable_path``; Playwright downloads no browser here) and axe-core from npm,
which ``.ci/run`` installs into ``.ci/node``. Where either is missing the tests skip,
saying why, except in CI (``ANNIVERSARY_BROWSER_REQUIRED=1``), where they fail."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1024, "height": 800}
SHOTS = REPO / "tests" / "screenshots"


def require_browser() -> None:
    """Skip (or, in CI, fail) the calling module when Chromium or axe-core is absent."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    if not AXE.exists():
        missing.append(f"no axe-core at {AXE} (npm install --prefix .ci/node axe-core@4)")
    if not missing:
        return
    if os.environ.get("ANNIVERSARY_BROWSER_REQUIRED"):
        pytest.fail("; ".join(missing), pytrace=False)
    pytest.skip("; ".join(missing), allow_module_level=True)


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it stands."""
    # Evaluated through the DevTools protocol, not as a <script> tag: the pages' strict
    # Content-Security-Policy would (rightly) refuse an inline script.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
    violations = json.loads(result)["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def check_page(page: Any, name: str) -> None:
    """Screenshots at phone and desktop width, and no serious or critical axe finding."""
    for size, label in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page.set_viewport_size(size)
        screenshot(page, f"{name}-{label}")
    assert axe_violations(page) == [], name
