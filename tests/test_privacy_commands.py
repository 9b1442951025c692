"""``anniversary subscribers show`` and ``forget``: exact output, exit codes."""

from __future__ import annotations

import json

from conftest import Project


def test_show_prints_the_profile_and_ledger_as_json_and_forget_erases_it(project: Project, run) -> None:
    assert run("subscribers", "add", "Ana@Example.com", "--name", "Ana", "--timezone", "Europe/Lisbon").exit_code == 0
    shown = run("subscribers", "show", "ana@example.com")
    assert shown.exit_code == 0
    data = json.loads(shown.stdout)
    assert (data["profile"]["email"], data["profile"]["name"], data["ledger"]) == ("Ana@example.com", "Ana", [])
    forgot = run("subscribers", "forget", "ana@example.com")
    assert (forgot.exit_code, forgot.stdout) == (0, "ana@example.com: forgotten\n")
    again = run("subscribers", "show", "ana@example.com")
    assert (again.exit_code, again.stderr) == (2, "Error: no subscriber 'ana@example.com'\n")
    counted = run("subscribers", "count")
    assert "forgotten\t1" in counted.stdout


def test_a_forgotten_address_is_not_added_back_by_import(project: Project, run, tmp_path) -> None:
    assert run("subscribers", "add", "ana@example.com", "--timezone", "Europe/Lisbon").exit_code == 0
    assert run("subscribers", "forget", "ana@example.com").exit_code == 0
    csv = tmp_path / "list.csv"
    csv.write_text("email,name,language,timezone\nana@example.com,Ana,en,Europe/Lisbon\n", encoding="utf-8")
    imported = run("subscribers", "import", str(csv))
    assert (imported.exit_code, imported.stdout) == (
        0,
        "0 added, 0 updated, 0 unchanged, 0 rejected, 1 left out (on the suppression list)\n",
    )
    assert run("subscribers", "show", "ana@example.com").exit_code == 2
    added = run("subscribers", "add", "ANA@example.com", "--timezone", "Europe/Lisbon")
    assert (added.exit_code, added.stderr) == (
        2,
        "Error: ANA@example.com is on the suppression list (forgotten or suppressed): not added\n",
    )


def test_an_import_with_nobody_suppressed_needs_no_signing_key(project: Project, run, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("ANNIVERSARY_SIGNING_KEY")
    csv = tmp_path / "list.csv"
    csv.write_text("email,name,language,timezone\nana@example.com,Ana,en,Europe/Lisbon\n", encoding="utf-8")
    imported = run("subscribers", "import", str(csv))
    assert (imported.exit_code, imported.stdout) == (0, "1 added, 0 updated, 0 unchanged, 0 rejected\n")


def test_show_refuses_what_is_not_an_address_in_one_line(project: Project, run) -> None:
    got = run("subscribers", "show", "not an address")
    assert got.exit_code == 2 and got.stderr.startswith("Error: EMAIL must be an email address (got 'not an address'")
    assert len(got.stderr.splitlines()) == 1
