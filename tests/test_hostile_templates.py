"""Hostile and faulty templates: a link never leaks a secret, a template error never
strands a subscriber as unknown, and no template hangs a command or mails a gigabyte.
Each case goes through the commands a user runs: check, preview and send."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SIGNING_KEY, Project

from scheduler.content.sandbox import MAX_CHARS, MAX_SECONDS
from scheduler.errors import TemplateProblem

SECRET = "SG.the-real-sendgrid-api-key-never-shown-0123456789"
LINK_RULE = "templates are read only from regular files, never through a link"
#: what "within a few seconds" allows on a busy CI machine; a hang would take hours
A_FEW_SECONDS = 12


def _templates(project: Project) -> Path:
    return project.root / "templates"


def _part(project: Project, rel: str = "en/reminder.txt.j2") -> Path:
    return _templates(project) / "black-january" / rel


def _edit(project: Project, rel: str, old: str, new: str) -> None:
    path = _part(project, rel)
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _in_body(project: Project, snippet: str) -> None:
    """``snippet`` at the start of the English reminder's body, on line 2."""
    _edit(project, "en/reminder.txt.j2", "{% block body %}", "{% block body %}" + snippet)


def _ledger(project: Project) -> dict[str, str]:
    db = sqlite3.connect(project.root / "subscribers.db")
    try:
        rows = db.execute(
            "select s.email, l.state from ledger l join subscriber s on s.id = l.subscriber_id"
        ).fetchall()
    finally:
        db.close()
    return dict(rows)


# -- links ---------------------------------------------------------------------------


def _cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    """A real process: /proc/self/environ holds what its environment held at exec."""
    env = {**os.environ, "SENDGRID_API_KEY": SECRET, "ANNIVERSARY_SIGNING_KEY": SIGNING_KEY}
    env.pop("ANNIVERSARY_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args, "--config", str(project.config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_link_to_the_environment_never_reaches_any_output(project: Project) -> None:
    link = _part(project, "en/env.j2")
    link.symlink_to("/proc/self/environ")
    _in_body(project, '{% include "en/env.j2" %}')
    part = _part(project)
    refused = f"{link}: a symbolic link (to '/proc/self/environ'); {LINK_RULE}"
    secrets = (SECRET, SIGNING_KEY)

    check = _cli(project, "check", "--year", "2027")
    assert check.returncode == 1
    assert check.stdout.splitlines() == [refused, f"{part}:2: year 2027, America/Los_Angeles: {refused}"]

    preview = _cli(project, "preview", "black-january", "reminder", "--year", "2027")
    assert (preview.returncode, preview.stdout, preview.stderr) == (1, "", f"Error: {part}:2: {refused}\n")

    project.write_csv("ana@example.com,Ana,en,Europe/Berlin\n")
    assert _cli(project, "subscribers", "import", str(project.root / "subs.csv")).returncode == 0
    send = _cli(project, "send", "black-january", "reminder", "--year", "2027", "--yes")
    assert send.returncode == 1 and f"Error: {part}:2: {refused}" in send.stderr.splitlines()
    assert project.emls() == [] and _ledger(project) == {}

    for ran in (check, preview, send):
        for secret in secrets:
            assert secret not in ran.stdout and secret not in ran.stderr


def test_links_and_devices_under_the_template_folders_are_problems_even_unused(run, project: Project) -> None:
    pipe = _part(project, "en/pipe.j2")
    os.mkfifo(pipe)
    folder = _part(project, "etc")
    folder.symlink_to("/etc", target_is_directory=True)
    config_link = _templates(project) / "layouts" / "cfg.j2"
    config_link.symlink_to("../../config.toml")
    result = run("check", "--year", "2027")
    assert (result.exit_code, result.stdout) == (
        1,
        f"{pipe}: not a regular file (a device, FIFO or socket); templates must be regular files\n"
        f"{folder}: a symbolic link (to '/etc'); {LINK_RULE}\n"
        f"{config_link}: a symbolic link (to '../../config.toml'); {LINK_RULE}\n",
    )
    # Nothing uses them: the messages still render.
    assert run("preview", "black-january", "reminder", "--year", "2027").exit_code == 0


@pytest.mark.parametrize(
    ("include", "why"),
    [
        ("etc/hostname", "{folder}: a symbolic link (to '/etc'); " + LINK_RULE),
        ("../../config.toml", "'../../config.toml': '..' may not appear in a template name"),
        ("/proc/self/environ", "'/proc/self/environ' not found in {campaign} or {shared}"),
        ("en/pipe.j2", "{pipe}: not a regular file (a device, FIFO or socket); templates must be regular files"),
    ],
)
def test_an_include_never_leaves_the_template_folders(run, project: Project, include: str, why: str) -> None:
    folder, pipe = _part(project, "etc"), _part(project, "en/pipe.j2")
    folder.symlink_to("/etc", target_is_directory=True)
    os.mkfifo(pipe)
    _in_body(project, f'{{% include "{include}" %}}')
    result = run("preview", "black-january", "reminder", "--year", "2027")
    campaign, shared = _templates(project) / "black-january", _templates(project)
    expected = why.format(folder=folder, pipe=pipe, campaign=campaign, shared=shared)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {_part(project)}:2: {expected}\n")


def test_a_part_that_is_a_link_is_refused(run, project: Project) -> None:
    part = _part(project, "en/day-of.subject.j2")
    part.unlink()
    part.symlink_to(_part(project, "az/day-of.subject.j2"))
    result = run("preview", "black-january", "day-of", "--year", "2027")
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"Error: {part}: a symbolic link (to '{_part(project, 'az/day-of.subject.j2')}'); {LINK_RULE}\n"
    )


# -- an error while rendering ------------------------------------------------------------

NAMES = ("Alice", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Bob")


def test_an_error_for_one_subscriber_fails_that_subscriber_alone(run, project: Project) -> None:
    # Fine for the sample names `check` uses, and for everyone but Bob (len 3).
    _in_body(project, "{{ 100 // ((subscriber.name|length) - 3) }}")
    assert run("check", "--year", "2027").exit_code == 0
    run(
        "subscribers",
        "import",
        str(project.write_csv("".join(f"{n.lower()}@example.com,{n},en,Europe/Berlin\n" for n in NAMES))),
    )
    first = run("send", "black-january", "reminder", "--year", "2027", "--yes")
    assert (first.exit_code, first.stdout) == (1, "black-january 2027 reminder: failed 1, sent 9\n")
    ledger = _ledger(project)
    assert ledger.pop("bob@example.com") == "failed" and set(ledger.values()) == {"sent"}
    assert len(project.emls()) == 9 and not any(b"bob@example.com" in p.read_bytes() for p in project.emls())

    again = run("send", "black-january", "reminder", "--year", "2027", "--yes")
    assert (again.exit_code, again.stdout) == (0, "black-january 2027 reminder: nothing to send\n")
    assert len(project.emls()) == 9
    status = run("status").stdout
    assert (
        f"    failed 1: template: {_part(project)}:2: ZeroDivisionError: integer division or modulo by zero\n" in status
    )


def test_a_group_whose_message_does_not_render_is_given_back_and_the_run_says_so(run, project: Project) -> None:
    # Everyone without a name shares one content group, and it divides by zero.
    _in_body(project, "{{ 100 // (subscriber.name|length) }}")
    rows = "".join(f"{n.lower()}@example.com,{n},en,Europe/Berlin\n" for n in NAMES[:3])
    run(
        "subscribers",
        "import",
        str(project.write_csv(rows + "x@example.com,,en,Europe/Berlin\ny@example.com,,en,Europe/Berlin\n")),
    )
    why = f"{_part(project)}:2: ZeroDivisionError: integer division or modulo by zero"
    said = (
        "Error: black-january 2027 reminder: 2 subscriber(s) not sent and still eligible, their message does not render"
    )

    first = run("send", "black-january", "reminder", "--year", "2027", "--yes")
    assert first.exit_code == 1
    assert [x for x in first.stderr.splitlines() if x.startswith("Error:")] == [f"{said}: {why}; the others: sent 3"]
    assert _ledger(project) == {f"{n.lower()}@example.com": "sent" for n in NAMES[:3]}, "nobody failed, nobody unknown"

    again = run("send", "black-january", "reminder", "--year", "2027", "--yes")
    assert again.exit_code == 1 and [x for x in again.stderr.splitlines() if x.startswith("Error:")] == [
        f"{said}: {why}"
    ]
    assert "not yet 2" in run("status").stdout

    _edit(project, "en/reminder.txt.j2", "{{ 100 // (subscriber.name|length) }}", "")
    fixed = run("send", "black-january", "reminder", "--year", "2027", "--yes")
    assert (fixed.exit_code, fixed.stdout) == (0, "black-january 2027 reminder: sent 2\n")
    assert len(project.emls()) == 5 and set(_ledger(project).values()) == {"sent"}


# -- limits -----------------------------------------------------------------------------

LIMITS = [
    pytest.param(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        ":2: " + re.escape(f"rendering took longer than {MAX_SECONDS:g} s, the limit for one template part"),
        id="nested-loops",
    ),
    pytest.param(
        "{% set r = range(100000)|list %}{% for i in r %}{% for j in r %}{{ '' }}{% endfor %}{% endfor %}",
        ":2: " + re.escape(f"rendering took longer than {MAX_SECONDS:g} s, the limit for one template part"),
        id="nested-loops-over-a-list",
    ),
    pytest.param(
        "{{ 'x' * 10**9 }}",
        ":2: "
        + re.escape(f"str * int would make more than {MAX_CHARS:,} characters or items, the limit for one value"),
        id="gigabyte",
    ),
    pytest.param(
        "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
        ":2: " + re.escape(f"output is longer than {MAX_CHARS:,} characters, the limit for one template part"),
        id="long-output",
    ),
    pytest.param(
        "{{ 'x'|center(10**9) }}",
        ":2: " + re.escape(f"|center would make more than {MAX_CHARS:,} characters or items, the limit for one value"),
        id="center",
    ),
    pytest.param(
        "{% for i in range(10**9) %}{% endfor %}",
        ":2: " + re.escape("range() of more than 100,000 numbers, the limit for one loop"),
        id="range",
    ),
    pytest.param("{{ 1/0 }}", ":2: ZeroDivisionError: division by zero", id="division-by-zero"),
    pytest.param(
        "{% macro down(n) %}{{ down(n + 1) }}{% endmacro %}{{ down(0) }}",
        ":2: RecursionError: maximum recursion depth exceeded.*",
        id="recursion",
    ),
    pytest.param(
        "{{ (10**10000)|string }}",
        ":2: " + re.escape("ValueError: Exceeds the limit (4300 digits) for integer string conversion") + ".*",
        id="digits",
    ),
]


@pytest.fixture
def english(project: Project) -> Project:
    """One language, so `check` renders two stage/language sets, not eight."""
    project.edit_config('languages = ["en", "az", "ru", "tr"]', 'languages = ["en"]')
    text = project.config.read_text(encoding="utf-8")
    project.config.write_text(re.sub(r"(?m)^title = .*$", 'title = "Black January"', text), encoding="utf-8")
    return project


def _timed(run, *args: str):
    started = time.monotonic()
    result = run(*args)
    assert time.monotonic() - started < A_FEW_SECONDS, f"{args[0]} took too long"
    return result


@pytest.mark.parametrize(("snippet", "why"), LIMITS)
def test_a_template_over_a_limit_is_one_line_in_check_preview_and_send(
    run, english: Project, snippet: str, why: str
) -> None:
    _in_body(english, snippet)
    part = re.escape(str(_part(english)))

    check = _timed(run, "check", "--year", "2027")
    assert check.exit_code == 1 and check.stderr == "1 problem(s)\n"
    (line,) = check.stdout.splitlines()
    where, _, what = why.partition(" ")
    assert re.fullmatch(f"{part}{where} year 2027, America/Los_Angeles: {what}", line), line

    preview = _timed(run, "preview", "black-january", "reminder", "--year", "2027")
    assert preview.exit_code == 1 and preview.stdout == ""
    assert re.fullmatch(f"Error: {part}{why}\n", preview.stderr), preview.stderr

    run(
        "subscribers",
        "import",
        str(english.write_csv("ana@example.com,Ana,en,Europe/Berlin\nbo@example.com,,en,Asia/Baku\n")),
    )
    send = _timed(run, "send", "black-january", "reminder", "--year", "2027", "--yes")
    assert send.exit_code == 1
    errors = [x for x in send.stderr.splitlines() if x.startswith("Error:")]
    assert len(errors) == 1 and re.fullmatch(f"Error: {part}{why}", errors[0]), send.stderr
    assert english.emls() == [] and _ledger(english) == {}, "nothing sent, nobody claimed"


def test_a_slow_layout_is_one_problem_and_check_does_not_wait_on_every_language(run, project: Project) -> None:
    layout = _templates(project) / "layouts" / "base.txt.j2"
    text = layout.read_text(encoding="utf-8")
    slow = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    layout.write_text(
        text.replace("{% block body %}{% endblock %}", slow + "{% block body %}{% endblock %}"), encoding="utf-8"
    )
    line = next(i for i, x in enumerate(layout.read_text(encoding="utf-8").splitlines(), 1) if slow in x)
    # Eight stage/language sets extend it; one is rendered until the limit, the rest skipped.
    check = _timed(run, "check", "--year", "2027")
    assert (check.exit_code, check.stdout) == (
        1,
        f"{layout}:{line}: year 2027, America/Los_Angeles: rendering took longer than {MAX_SECONDS:g} s,"
        " the limit for one template part\n",
    )


def test_the_limits_stop_a_long_part_and_leave_ordinary_templates_as_they_were(project: Project) -> None:
    from scheduler.config import load_config
    from scheduler.content.templates import SubscriberView, TemplateSet, build_context

    body = (
        "{% for x in ['a', 'b', 'c'] if x != 'b' %}{{ loop.index }}/{{ loop.length }}{{ x }}"
        "{% if loop.last %}.{% endif %}{% else %}none{% endfor %}"
        "|{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"
        "|{% for k, v in {'b': 2, 'a': 1}|dictsort %}{{ k }}={{ v }};{% endfor %}"
        "|{{ subscriber.name ~ '!' }}|{{ 'ab' * 3 }}|{{ 2 ** 10 }}|{{ [1, 2] + [3] }}|{{ '%s-%03d' % ('n', 7) }}"
        "|{{ '%s=%d'|format('k', 5) }}|{{ '{} {:>4}'.format('a', 'b') }}|{{ 'x'|center(5) }}|{{ range(3)|join(',') }}"
        "|{{ ('a b ' * 3)|wordwrap(4) }}|{{ range(4)|sum }}|{{ 10**40 }}"
        "{% macro twice(s) %}{{ s }}{{ s }}{% endmacro %}|{{ twice('ho') }}"
    )
    folder = _part(project, "en")
    for part, text in {"subject": "s", "txt": body, "html": "h"}.items():
        (folder / f"reminder.{part}.j2").write_text(text, encoding="utf-8")
    config = load_config(project.config)
    campaign = config.get_campaign("black-january")
    view = SubscriberView("Ana", "en", "Asia/Baku")
    ctx = build_context(config, campaign, campaign.get_stage("reminder"), 2027, view, "https://example.org/u")
    assert TemplateSet(config, campaign).render("reminder", ctx).text == (
        "1/2a2/2c.|empty|a=1;b=2;|Ana!|ababab|1024|[1, 2, 3]|n-007|k=5|a    b|  x  |0,1,2"
        "|a b\na b\na b|6|10000000000000000000000000000000000000000|hoho"
    )
    (folder / "reminder.txt.j2").write_text("{% for i in range(3) %}\n{{ 'x' * 400000 }}{% endfor %}", encoding="utf-8")
    with pytest.raises(TemplateProblem) as caught:
        TemplateSet(config, campaign).render("reminder", ctx)
    assert str(caught.value) == (
        f"{folder / 'reminder.txt.j2'}:2: output is longer than {MAX_CHARS:,} characters, the limit for one template part"
    )
