"""`anniversary check`: every campaign x stage x language, this year and the next 10."""

from __future__ import annotations

from conftest import Project


def _edit(project: Project, rel: str, old: str, new: str) -> None:
    path = project.root / "templates" / "black-january" / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_templates_pass(run) -> None:
    result = run("check", "--year", "2027")
    assert (result.exit_code, result.stdout) == (0, "ok: 8 stage/language template sets render cleanly for 11 years\n")


def test_twenty_one_years_later_on_the_23rd_is_caught(run, project: Project) -> None:
    # The mistake that started this project, on a real campaign page.
    _edit(project, "en/day-of.txt.j2", "{% block body %}", "{% block body %}Twenty one years later, we remember.\n")
    result = run("check", "--year", "2013")
    assert result.exit_code == 1
    where = project.root / "templates" / "black-january" / "en" / "day-of.*.j2"
    assert (
        f"{where}: txt, year 2013: hand-written number 'Twenty one years' is not the computed 23 years" in result.stdout
    )


def test_hand_written_ordinal_is_caught_in_the_subject(run, project: Project) -> None:
    (project.root / "templates/black-january/en/reminder.subject.j2").write_text("Black January: the 37th anniversary")
    result = run("check", "--year", "2027")
    assert result.exit_code == 1
    assert "reminder.*.j2: subject, year 2028: hand-written number '37th' is not the computed 38th" in result.stdout
    assert "year 2027" not in result.stdout, "37th is right for 2027"


def test_spelled_ordinal_in_russian_is_caught(run, project: Project) -> None:
    _edit(project, "ru/day-of.txt.j2", "{% block body %}", "{% block body %}двадцать третья годовщина\n")
    result = run("check", "--year", "2027")
    assert result.exit_code == 1
    assert "hand-written number 'двадцать третья' is not the computed 37-я" in result.stdout


def test_date_ordinals_are_not_anniversaries(run, project: Project) -> None:
    _edit(project, "en/day-of.txt.j2", "{% block body %}", "{% block body %}On January 20th and the 19th of January.\n")
    assert run("check", "--year", "2027").exit_code == 0


def test_syntax_error_is_reported_with_file_and_line(run, project: Project) -> None:
    path = project.root / "templates/black-january/az/reminder.txt.j2"
    path.write_text("line one\n{% if anniversary.number %}\nno endif\n", encoding="utf-8")
    result = run("check")
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}:2: syntax error: Unexpected end of template.")


def test_undefined_variable_is_reported(run, project: Project) -> None:
    _edit(project, "tr/day-of.html.j2", "{% block body %}", "{% block body %}{{ anniversary.nubmer }}")
    result = run("check", "--year", "2027")
    assert result.exit_code == 1
    assert "tr/day-of.html.j2:" in result.stdout and "has no attribute 'nubmer'" in result.stdout


def test_missing_footer_pieces_are_reported(run, project: Project) -> None:
    layout = project.root / "templates/layouts/base.html.j2"
    text = layout.read_text(encoding="utf-8")
    layout.write_text(
        text.replace("{{ unsubscribe_url }}", "").replace("{{ sender.postal_address }}", ""), encoding="utf-8"
    )
    result = run("check", "--year", "2027")
    assert result.exit_code == 1
    assert "html part has no unsubscribe link ({{ unsubscribe_url }})" in result.stdout
    assert "html part has no postal address ({{ sender.postal_address }})" in result.stdout
    assert "txt part has no" not in result.stdout


def test_missing_language_file_is_reported_with_the_fallback(run, project: Project) -> None:
    path = project.root / "templates/black-january/ru/reminder.html.j2"
    path.unlink()
    result = run("check", "--year", "2027")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == f"{path}: missing (black-january/reminder/ru); 'en' is sent instead"
