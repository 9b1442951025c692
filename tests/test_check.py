"""`anniversary check`: every campaign x stage x language, this year and the next 10."""

from __future__ import annotations

import pytest
from conftest import Project


def _edit(project: Project, rel: str, old: str, new: str) -> None:
    path = project.root / "templates" / "black-january" / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_templates_pass(run) -> None:
    result = run("check", "--year", "2027")
    assert (result.exit_code, result.stdout) == (0, "ok: 8 stage/language template sets render cleanly for 11 years\n")


def _where(project: Project, rel: str, text: str) -> str:
    """``path:line`` of the first line of the project's template ``rel`` holding ``text``."""
    path = project.root / "templates" / rel
    lines = path.read_text(encoding="utf-8").splitlines()
    return f"{path}:{next(i for i, line in enumerate(lines, 1) if text in line)}"


def test_twenty_one_years_later_on_the_23rd_is_caught(run, project: Project) -> None:
    # The mistake that started this project, on a real campaign page.
    _edit(project, "en/day-of.txt.j2", "{% block body %}", "{% block body %}Twenty one years later, we remember.\n")
    result = run("check", "--year", "2013")
    where = _where(project, "black-january/en/day-of.txt.j2", "Twenty one years later")
    assert (result.exit_code, result.stdout) == (
        1,
        f"{where}: txt: hand-written number 'Twenty one years' is wrong in 2013–2023"
        " (write {{ anniversary.number|spellout|capitalize }} years)\n",
    )


def test_a_wrong_number_is_one_problem_that_lists_its_years(run, project: Project) -> None:
    _edit(project, "en/day-of.txt.j2", "{% block body %}", "{% block body %}On our 23rd anniversary.\n")
    result = run("check", "--year", "2027")
    where = _where(project, "black-january/en/day-of.txt.j2", "our 23rd")
    assert (result.exit_code, result.stdout) == (
        1,
        f"{where}: txt: hand-written number '23rd' is wrong in 2027–2037 (write {{{{ anniversary.number|ordinal }}}})\n",
    )


def test_hand_written_ordinal_is_caught_in_the_subject(run, project: Project) -> None:
    (project.root / "templates/black-january/en/reminder.subject.j2").write_text("Black January: the 37th anniversary")
    result = run("check", "--year", "2027")
    where = _where(project, "black-january/en/reminder.subject.j2", "37th")
    # 37th is right for 2027 alone.
    assert (result.exit_code, result.stdout) == (
        1,
        f"{where}: subject: hand-written number '37th' is wrong in 2028–2037 (write {{{{ anniversary.number|ordinal }}}})\n",
    )


def test_spelled_ordinal_in_russian_is_caught(run, project: Project) -> None:
    _edit(project, "ru/day-of.txt.j2", "{% block body %}", "{% block body %}двадцать третья годовщина, 23-й год\n")
    result = run("check", "--year", "2027")
    where = _where(project, "black-january/ru/day-of.txt.j2", "двадцать третья")
    # The masculine "23-й" is written by the masculine rule set: the suggestion names it.
    assert (result.exit_code, result.stdout) == (
        1,
        f"{where}: txt: hand-written number 'двадцать третья' is wrong in 2027–2037"
        " (write {{ anniversary.number|spellout_ordinal }})\n"
        f"{where}: txt: hand-written number '23-й' is wrong in 2027–2037"
        ' (write {{ anniversary.number|ordinal("digits-ordinal-masculine") }})\n',
    )


# The computed filters in each language's day-of parts, with the year word after a count.
COMPUTED = {
    "en": "{{ anniversary.number|spellout|capitalize }} years later: the {{ anniversary.number|spellout_ordinal }}"
    " anniversary, the {{ anniversary.number|ordinal }}; {{ anniversary.number }} years.",
    "az": "{{ anniversary.number|spellout|capitalize }} il keçib: {{ anniversary.number|spellout_ordinal }}"
    " ildönümü, {{ anniversary.number|ordinal }} ildönümü; {{ anniversary.number }} il.",
    "ru": "{{ anniversary.number|spellout|capitalize }} лет спустя: {{ anniversary.number|spellout_ordinal }}"
    " годовщина, {{ anniversary.number|ordinal }} годовщина; {{ anniversary.number }} лет.",
    "tr": "{{ anniversary.number|spellout|capitalize }} yıl sonra: {{ anniversary.number|spellout_ordinal }}"
    " yıl dönümü, {{ anniversary.number|ordinal }} yıl dönümü; {{ anniversary.number }} yıl.",
}


def add_computed_numbers(project: Project) -> None:
    for language, line in COMPUTED.items():
        _edit(project, f"{language}/day-of.txt.j2", "{% block body %}", f"{{% block body %}}{line}\n")
        _edit(project, f"{language}/day-of.html.j2", "{% block body %}", f"{{% block body %}}<p>{line}</p>\n")


@pytest.mark.parametrize("year", ["2027", "2060"])
def test_numbers_the_filters_compute_pass_in_every_language(run, project: Project, year: str) -> None:
    # "Thirty-seven years later" is 37 years, never also "seven years"; 2060 reaches
    # the 70th and 80th ("70-ci", "yetmişinci").
    add_computed_numbers(project)
    result = run("check", "--year", year)
    assert (result.exit_code, result.stdout) == (0, "ok: 8 stage/language template sets render cleanly for 11 years\n")


def test_a_number_in_the_layout_is_one_problem_at_its_line(run, project: Project) -> None:
    layout = project.root / "templates/layouts/base.txt.j2"
    text = layout.read_text(encoding="utf-8")
    layout.write_text(text.replace("{{ sender.postal_address }}", "{{ sender.postal_address }}\nOur 23rd year.", 1))
    result = run("check", "--year", "2027")
    # Every stage and language renders it; it is written once, in the layout.
    assert (result.exit_code, result.stdout) == (
        1,
        f"{_where(project, 'layouts/base.txt.j2', 'Our 23rd year')}: txt: hand-written number '23rd'"
        " is wrong in 2027–2037 (write {{ anniversary.number|ordinal }})\n",
    )


def test_a_number_in_an_included_partial_is_found_in_the_campaign_folder_first(run, project: Project) -> None:
    note = "Twenty one years later, we remember.\n"
    for folder in ("templates/partials", "templates/black-january/partials"):
        (project.root / folder).mkdir()
        (project.root / folder / "note.txt.j2").write_text(note, encoding="utf-8")
    _edit(project, "en/day-of.txt.j2", "{% block body %}", '{% block body %}{% include "partials/note.txt.j2" %}')
    result = run("check", "--year", "2027")
    where = project.root / "templates/black-january/partials/note.txt.j2"
    assert (result.exit_code, result.stdout) == (
        1,
        f"{where}:1: txt: hand-written number 'Twenty one years' is wrong in 2027–2037"
        " (write {{ anniversary.number|spellout|capitalize }} years)\n",
    )


def test_a_number_no_template_text_holds_is_one_problem_for_its_part(run, project: Project) -> None:
    # Computed, but not by the filters: the part is named, with a few of the numbers.
    _edit(project, "en/day-of.txt.j2", "{% block body %}", "{% block body %}{{ anniversary.number - 14 }} years on.\n")
    result = run("check", "--year", "2027")
    where = project.root / "templates/black-january/en/day-of.txt.j2"
    assert (result.exit_code, result.stdout) == (
        1,
        f"{where}: txt: numbers '23 years', '24 years', '25 years', … are wrong in 2027–2037"
        " (write {{ anniversary.number }} years)\n",
    )


def test_date_ordinals_are_not_anniversaries(run, project: Project) -> None:
    _edit(project, "en/day-of.txt.j2", "{% block body %}", "{% block body %}On January 20th and the 19th of January.\n")
    assert run("check", "--year", "2027").exit_code == 0


def test_years_with_an_ordinal_mark_are_not_anniversaries(run, project: Project) -> None:
    _edit(project, "az/day-of.txt.j2", "{% block body %}", "{% block body %}1990-cı ilin 20 yanvarında.\n")
    _edit(project, "ru/day-of.txt.j2", "{% block body %}", "{% block body %}В январе 1990-го года, в 1990-м году.\n")
    result = run("check", "--year", "2027")
    assert (result.exit_code, result.stdout) == (0, "ok: 8 stage/language template sets render cleanly for 11 years\n")


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


def test_missing_footer_pieces_are_reported_at_the_layout(run, project: Project) -> None:
    layout = project.root / "templates/layouts/base.html.j2"
    text = layout.read_text(encoding="utf-8")
    layout.write_text(
        text.replace("{{ unsubscribe_url }}", "").replace("{{ sender.postal_address }}", ""), encoding="utf-8"
    )
    result = run("check", "--year", "2027")
    # Every stage and language extends the layout: one line per missing piece, at the layout.
    assert (result.exit_code, result.stdout) == (
        1,
        f"{layout}: html part has no unsubscribe link ({{{{ unsubscribe_url }}}})\n"
        f"{layout}: html part has no postal address ({{{{ sender.postal_address }}}})\n"
        f"{layout}: html part has no <a href> to the unsubscribe link\n",
    )


def test_missing_footer_in_a_part_without_a_layout_is_reported_at_the_part(run, project: Project) -> None:
    part = project.root / "templates/black-january/en/reminder.txt.j2"
    part.write_text("The {{ anniversary.number|ordinal }} anniversary is coming.\n", encoding="utf-8")
    result = run("check", "--year", "2027")
    assert (result.exit_code, result.stdout) == (
        1,
        f"{part}: txt part has no unsubscribe link ({{{{ unsubscribe_url }}}})\n"
        f"{part}: txt part has no postal address ({{{{ sender.postal_address }}}})\n",
    )


def test_a_rule_set_name_with_a_typo_names_the_closest_ones(run, project: Project) -> None:
    _edit(
        project,
        "ru/day-of.txt.j2",
        "{% block body %}",
        '{% block body %}{{ anniversary.number|ordinal("digits-ordinal-masc") }}\n',
    )
    result = run("preview", "black-january", "day-of", "--year", "2027", "--language", "ru")
    where = _where(project, "black-january/ru/day-of.txt.j2", "digits-ordinal-masc")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {where}: language 'ru' has no CLDR rule set 'digits-ordinal-masc';"
        " did you mean: digits-ordinal-masculine, digits-ordinal, digits-ordinal-plural?\n",
    )


def test_missing_language_file_is_reported_with_the_fallback(run, project: Project) -> None:
    path = project.root / "templates/black-january/ru/reminder.html.j2"
    path.unlink()
    result = run("check", "--year", "2027")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == f"{path}: missing (black-january/reminder/ru); 'en' is sent instead"
