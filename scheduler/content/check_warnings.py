"""What ``anniversary check`` warns about in a rendered message, beside its errors
(README: Check and preview). A warning is printed and never fails ``check``:

* the HTML and text parts both state the anniversary number, or the time of the
  silence, and they say different things (a part that states neither is fine);
* an image has no alt text (WCAG 2.2, 1.1.1: ``alt=""`` marks a decorative image and
  is fine; no ``alt`` at all is not);
* a link is not https (``mailto:``, ``tel:`` and ``#`` links are fine).

Each finding carries the text to look for in the template source, so ``check`` can
name the file and line that holds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from scheduler.content.handwritten import hand_written_numbers
from scheduler.content.message import Rendered

#: a URL is not prose: "%208.005-ci" or "T080000Z" in a calendar link is no number or time
URL = re.compile(r"\bhttps?://[^\s<>\"']+")
#: a clock time as CLDR writes it in the four languages: 9:00 AM, 09:00, 9.00, 12:00 PM
_TIME = re.compile(r"(?<![\d:.])(\d{1,2})[:.](\d{2})(?![\d:])(?:[\s\u202f]*([AaPp])\.?[Mm]\.?)?")
#: what ``time_of_day`` says instead of 12:00 AM and 12:00 PM in English (README: Filters)
_WORDS = {"midnight": 0, "noon": 12 * 60}
_WORD_TIME = re.compile(r"\b(midnight|noon)\b", re.IGNORECASE)
#: schemes a link may have besides https
_FINE_LINKS = ("https://", "mailto:", "tel:", "#")
#: a text-part link that is not https
_PLAIN_HTTP = re.compile(r"\bhttp://[^\s<>\"']+")
#: how the warning about differing anniversary numbers begins
NUMBERS_DIFFER = "the html and txt parts state different anniversary numbers"
#: an <img> tag in template source with no alt attribute
IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt\s*=)[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class CheckWarning:
    """One warning in one rendered message: which part's template to point at, what to
    look for in its source, and what to say."""

    part: str
    #: the text (a literal) or pattern to find in the template source, or None
    look_for: str | re.Pattern[str] | None
    #: what kind of warning: one per kind and file is reported
    kind: str
    message: str


def _minutes(hour: str, minute: str, half: str) -> int | None:
    h, m = int(hour), int(minute)
    if m > 59 or h > 24 or (half and not 1 <= h <= 12):
        return None
    if half:
        h = h % 12 + (12 if half.lower() == "p" else 0)
    return h * 60 + m


def stated_times(text: str) -> dict[int, str]:
    """The clock times ``text`` states, as minutes of the day, with how it wrote each."""
    found: dict[int, str] = {}
    for m in _TIME.finditer(text):
        at = _minutes(*m.groups(default=""))
        if at is not None:
            found.setdefault(at, m.group(0))
    for m in _WORD_TIME.finditer(text):
        found.setdefault(_WORDS[m.group(1).lower()], m.group(0))
    return found


def stated_numbers(text: str, language: str) -> dict[int, str]:
    """The anniversary numbers ``text`` states (ordinals and year counts), with how."""
    # Zero is no anniversary, so every ordinal and year count is reported.
    return {f.number: f.span for f in reversed(hand_written_numbers(text, language, 0))}


def _show(what: str, values: dict[int, str]) -> str:
    # Times as a 24-hour clock: "12:00 AM" and "midnight" are both 00:00.
    if what == "silence times":
        return ", ".join(f"{k // 60:02d}:{k % 60:02d}" for k in sorted(values))
    return ", ".join(repr(values[k]) for k in sorted(values))


def _differ(what: str, html: dict[int, str], text: dict[int, str], when: str) -> CheckWarning | None:
    if not html or not text or set(html) == set(text):
        return None
    # Point at what one part says and the other does not, where the template holds it.
    odd = [v for k, v in html.items() if k not in text] or [v for k, v in text.items() if k not in html]
    part = "html" if any(k not in text for k in html) else "txt"
    return CheckWarning(
        part,
        odd[0],
        f"differ-{what}",
        f"the html and txt parts state different {what} ({when}): html {_show(what, html)}, txt {_show(what, text)}",
    )


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag in ("a", "area"):
            href = dict(attrs).get("href")
            if href is not None:
                self.links.append(href.strip())


def message_warnings(
    out: Rendered, plain_html: str, language: str, when: str, *, numbers: bool = True
) -> list[CheckWarning]:
    """Every warning about one rendered message; ``plain_html`` is its HTML part as
    text, ``when`` names the year and zone it was rendered for. ``numbers`` False skips
    comparing the anniversary numbers (``check`` knows when both parts state only the
    right one, and a scan costs as much as the render)."""
    found: list[CheckWarning] = []
    text, html_text = URL.sub(" ", out.text), URL.sub(" ", plain_html)
    compared = [("silence times", stated_times(html_text), stated_times(text))]
    if numbers:
        compared.insert(0, ("anniversary numbers", stated_numbers(html_text, language), stated_numbers(text, language)))
    for what, html_values, text_values in compared:
        w = _differ(what, html_values, text_values, when)
        if w is not None:
            found.append(w)
    tags = _Tags()
    tags.feed(out.html)
    tags.close()
    for image in tags.images:
        if "alt" not in image:
            src = image.get("src") or ""
            found.append(CheckWarning("html", IMG_WITHOUT_ALT, "img-alt", f"html: an image has no alt text ({src!r})"))
    for href in tags.links:
        # An empty href links nowhere; the footer's own check reports a missing link.
        if href and not href.lower().startswith(_FINE_LINKS) and "%anv-" not in href:
            found.append(CheckWarning("html", href, f"link {href}", f"html: a link is not https ({href!r})"))
    for m in _PLAIN_HTTP.finditer(out.text):
        link = m.group(0)
        found.append(CheckWarning("txt", link, f"link {link}", f"txt: a link is not https ({link!r})"))
    return found
