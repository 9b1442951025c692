"""`anniversary check` warnings (README: Check and preview): parts that disagree on the
silence time or the anniversary number, images without alt text, links that are not
https. Printed, each once at its file and line; they never make `check` exit 1."""

from __future__ import annotations

from conftest import Project

from scheduler.content.check_warnings import message_warnings
from scheduler.content.message import Rendered


def _edit(project: Project, rel: str, old: str, new: str) -> None:
    path = project.root / "templates" / "black-january" / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_templates_have_no_warnings(run) -> None:
    result = run("check", "--year", "2027")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "ok: 8 stage/language template sets render cleanly for 11 years\n",
        "",
    )


def test_an_image_without_alt_and_http_links_are_warnings_at_their_lines_and_check_still_passes(
    run, project: Project
) -> None:
    _edit(
        project,
        "en/reminder.html.j2",
        "{% block body %}\n",
        "{% block body %}\n"
        '<p><img src="https://example.org/wreath.png" width="80"> <img src="https://example.org/line.png" alt=""></p>\n'
        '<p>Read <a href="http://example.org/history">our history</a>, write to <a href="mailto:a@example.org">us</a>'
        ' or go <a href="#top">up</a>.</p>\n',
    )
    _edit(project, "ru/day-of.txt.j2", "{% block body %}", "{% block body %}История: http://example.org/ru\n")
    result = run("check", "--year", "2027")
    en, ru = (project.root / "templates/black-january" / p for p in ("en/reminder.html.j2", "ru/day-of.txt.j2"))
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        f"{en}:3: warning: html: an image has no alt text ('https://example.org/wreath.png')\n"
        f"{en}:4: warning: html: a link is not https ('http://example.org/history')\n"
        f"{ru}:3: warning: txt: a link is not https ('http://example.org/ru')\n"
        "ok: 8 stage/language template sets render cleanly for 11 years\n",
        "3 warning(s)\n",
    )


def test_a_silence_time_only_the_html_part_states_is_a_warning(run, project: Project) -> None:
    # Typed by hand in one part: 11:00 is no one's minute of silence in Los Angeles.
    _edit(
        project,
        "en/reminder.html.j2",
        "{% block body %}\n",
        "{% block body %}\n<p>Join us at 11:00 AM, your time.</p>\n",
    )
    result = run("check", "--year", "2027")
    html = project.root / "templates/black-january/en/reminder.html.j2"
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        f"{html}:3: warning: the html and txt parts state different silence times (2027, America/Los_Angeles):"
        " html 00:00, 11:00, 12:00, txt 00:00, 12:00\n"
        "ok: 8 stage/language template sets render cleanly for 11 years\n",
        "1 warning(s)\n",
    )


def test_warnings_come_after_errors_and_only_errors_fail_check(run, project: Project) -> None:
    _edit(project, "en/reminder.html.j2", "{% block body %}\n", '{% block body %}\n<p><img src="cid:x"></p>\n')
    _edit(project, "en/day-of.txt.j2", "{% block body %}", "{% block body %}{{ nope }}")
    result = run("check", "--year", "2027")
    day_of = project.root / "templates/black-january/en/day-of.txt.j2"
    reminder = project.root / "templates/black-january/en/reminder.html.j2"
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        f"{day_of}:3: year 2027, America/Los_Angeles: 'nope' is undefined\n"
        f"{reminder}:3: warning: html: an image has no alt text ('cid:x')\n",
        "1 warning(s)\n1 problem(s)\n",
    )


def _rendered(text: str, html: str) -> Rendered:
    return Rendered(subject="s", text=text, html=html, language="en")


def test_parts_that_state_different_anniversary_numbers_are_a_warning() -> None:
    out = _rendered("The 38th anniversary.", "<p>The 37th anniversary.</p>")
    (w,) = message_warnings(out, "The 37th anniversary.", "en", "2027, Asia/Baku")
    assert (w.part, w.look_for, w.message) == (
        "html",
        "37th",
        "the html and txt parts state different anniversary numbers (2027, Asia/Baku): html '37th', txt '38th'",
    )


def test_a_part_that_states_no_number_or_time_is_fine() -> None:
    assert (
        message_warnings(
            _rendered("Remember them with us.", "<p>The 37th, at noon.</p>"), "The 37th, at noon.", "en", ""
        )
        == []
    )
    # Midnight and 12:00 AM are the same time; numbers in links are not stated numbers.
    out = _rendered(
        "At midnight, the 37th. https://calendar.google.com/x?details=the%2038th&dates=20270120T080000Z",
        "<p>At 12:00\u202fAM, the 37th.</p>",
    )
    assert message_warnings(out, "At 12:00\u202fAM, the 37th.", "en", "") == []
