"""`anniversary preview`: exactly what will go out, for any year, before it goes."""

from __future__ import annotations

from conftest import Project


def test_preview_prints_subject_and_text(run) -> None:
    result = run("preview", "black-january", "day-of", "--year", "2027", "--timezone", "America/Los_Angeles")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Subject: A minute of silence tonight at midnight: the 37th anniversary of Black January"
    assert lines[1] == ""
    assert "Your time: midnight, Wednesday, January 20, 2027 (Pacific Standard Time)" in result.stdout
    assert "join us in a minute of silence tonight at midnight, your time" in result.stdout
    assert "already passed" not in result.stdout
    assert "1 Example St, Washington, DC 20001, USA" in result.stdout


def test_preview_any_year_and_language(run) -> None:
    result = run("preview", "black-january", "reminder", "--year", "2040", "--language", "ru")
    assert result.exit_code == 0
    assert "50-я" in result.stdout.splitlines()[0]


def test_preview_as_a_subscriber_and_write_html(run, project: Project) -> None:
    run(
        "subscribers",
        "add",
        "leyla@example.com",
        "--name",
        "Leyla <b>",
        "--language",
        "az",
        "--timezone",
        "Europe/Berlin",
    )
    html = project.root / "out.html"
    result = run(
        "preview", "black-january", "reminder", "--year", "2027", "--email", "leyla@example.com", "--html", str(html)
    )
    assert result.exit_code == 0
    assert "Hörmətli Leyla <b>" in result.stdout
    assert result.stderr == f"(HTML part written to {html})\n"
    markup = html.read_text(encoding="utf-8")
    assert "Leyla &lt;b&gt;" in markup and "Leyla <b>" not in markup
    assert "/unsubscribe/v1." in markup


def test_preview_rejects_a_language_the_campaign_lacks(run) -> None:
    result = run("preview", "black-january", "reminder", "--language", "de")
    assert (result.exit_code, result.stderr) == (2, "Error: --language 'de' is not one of en, az, ru, tr\n")


def test_preview_rejects_a_year_before_the_first_anniversary(run) -> None:
    result = run("preview", "black-january", "reminder", "--year", "1989")
    assert (result.exit_code, result.stderr) == (
        2,
        "Error: year 1989 has no anniversary of an event on 1990-01-20; the first is 1991\n",
    )
