"""`anniversary check --year`: the years run from the one after the event to 9999."""

from __future__ import annotations

import pytest
from conftest import Project
from test_check import add_computed_numbers

from scheduler.content.check import years_text


def test_the_last_years_are_checked_up_to_9999(run, project: Project) -> None:
    # 9995..9999 are the 8005th..8009th: "eight thousand fifth" is one number, not "fifth".
    add_computed_numbers(project)
    result = run("check", "--year", "9995")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: 8 stage/language template sets render cleanly")
    assert result.stderr == ""


@pytest.mark.parametrize("year", ["10000", "20277"])
def test_a_first_year_past_9999_is_one_error_line(run, year: str) -> None:
    result = run("check", "--year", year)
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"Error: year {year} is out of range: years run from 1991 to 9999\n",
    )


def test_a_window_before_the_first_anniversary_is_one_error_line(run) -> None:
    result = run("check", "--year", "1970")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        "Error: year 1970 has no anniversary of an event on 1990-01-20; the first is 1991\n",
    )


def test_a_window_that_starts_before_the_first_anniversary_checks_from_it(run, project: Project) -> None:
    (project.root / "templates/black-january/en/reminder.subject.j2").write_text("The 3rd anniversary")
    result = run("check", "--year", "1985")
    assert result.exit_code == 1
    assert result.stdout.endswith(
        ": subject: hand-written number '3rd' is wrong in 1991–1992, 1994–1995"
        " (write {{ anniversary.number|ordinal }})\n"
    )


@pytest.mark.parametrize(
    ("years", "text"),
    [({2013}, "2013"), ({2027, 2028}, "2027–2028"), ({2027, 2029, 2030, 2031}, "2027, 2029–2031")],
)
def test_years_are_listed_as_ranges(years: set[int], text: str) -> None:
    assert years_text(years) == text
