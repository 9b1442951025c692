"""``anniversary check`` and the statement for the record: the letter templates render in
every language, every targets row is valid (or named by file and line with what is
allowed), and a region whose subscribers have no target is named in a warning."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Project

from scheduler.content.targets import TargetsError, read_targets
from scheduler.store import Store

HEADER = "name,title,email,region,district,language\n"


def _targets(project: Project, rows: str) -> Path:
    path = project.root / "examples" / "targets.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def test_the_shipped_action_checks_clean(run, project: Project) -> None:  # type: ignore[no-untyped-def]
    result = run("check", "--year", "2027")
    assert result.exit_code == 0, result.stdout
    assert result.stdout == "ok: 8 stage/language template sets render cleanly for 11 years\n"


def test_bad_target_rows_are_named_by_file_and_line(run, project: Project) -> None:  # type: ignore[no-untyped-def]
    path = _targets(
        project,
        "Good One,Senator,good@example.org,US-TX,,en\n"
        "No Address,Senator,not-an-address,US-TX,,en\n"
        "Bad Region,Senator,bad@example.org,Texas,,en\n"
        "Twice,Senator,GOOD@example.org,US-TX,,en\n"
        ",Senator,anon@example.org,US-NY,,en\n",
    )
    result = run("check", "--year", "2027")
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if "targets.csv" in line]
    assert lines == [
        f"{path}:3: invalid email 'not-an-address': An email address must have an @-sign.",
        f"{path}:4: region 'Texas' is not an ISO 3166-2 code like US-TX, DE-BE or AZ-BA, nor * for every region",
        f"{path}:5: GOOD@example.org is listed for US-TX already, on 2",
        f"{path}:6: name is empty; every row needs a name",
    ]


def test_a_wrong_header_says_which_columns(project: Project) -> None:
    path = project.root / "t.csv"
    path.write_text("name,email,state\nA,a@example.org,US-TX\n", encoding="utf-8")
    with pytest.raises(TargetsError) as refused:
        read_targets(path)
    assert str(refused.value) == (
        f"{path}:1: the header must be name,title,email,region,district,language"
        " (missing: title, region, district, language; unknown: state)"
    )


def test_a_star_target_serves_every_region_once(project: Project) -> None:
    path = _targets(
        project, "Desk,,desk@example.org,*,,\nRep,,rep@example.org,us-tx,,en\nDesk,,DESK@example.org,US-TX,,\n"
    )
    targets = read_targets(path)
    assert [t.email for t in targets.for_region("US-TX")] == ["desk@example.org", "rep@example.org"]
    assert [t.email for t in targets.for_region("FR-75")] == ["desk@example.org"]
    assert targets.regions == ["US-TX"]


def test_a_region_without_a_target_is_a_warning_naming_it(run, project: Project) -> None:  # type: ignore[no-untyped-def]
    rows = "a@example.com,Ana,en,UTC\nb@example.com,Bo,en,UTC\nc@example.com,Cy,en,UTC\n"
    assert run("subscribers", "import", str(project.write_csv(rows))).exit_code == 0
    store = Store(f"sqlite:///{project.root / 'subscribers.db'}")
    now = datetime(2027, 1, 1, tzinfo=UTC)
    for sid, region in ((1, "FR-75"), (2, "FR-75"), (3, "US-TX")):
        assert store.set_preferences(sid, {"region": region}, now)
    store.close()
    result = run("check", "--year", "2027")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        f"{project.root / 'examples' / 'targets.csv'}: warning: 2 subscriber(s) live in FR-75, which has no target:"
        " they cannot send the letter"
    )


def test_a_missing_or_broken_letter_template_is_a_problem(run, project: Project) -> None:  # type: ignore[no-untyped-def]
    folder = project.root / "templates" / "black-january"
    (folder / "tr" / "action.subject.j2").unlink()
    (folder / "ru" / "action.txt.j2").write_text("Уважаемый депутат,\n{{ anniversary.numbr }}\n", encoding="utf-8")
    result = run("check", "--year", "2027")
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if "action." in line]
    assert lines == [
        f"{folder / 'ru' / 'action.txt.j2'}:2: 'dict object' has no attribute 'numbr' (letter, 2027)",
        f"{folder / 'tr' / 'action.subject.j2'}: the letter has no tr template"
        " (the letter needs action.subject.j2 and action.txt.j2)",
    ]
