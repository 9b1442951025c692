"""The import's optional ``region`` column (README: The statement for the record)."""

from __future__ import annotations

import sqlite3

from conftest import Project


def test_the_region_column_sets_each_subscribers_region(run, project: Project) -> None:  # type: ignore[no-untyped-def]
    path = project.root / "subs.csv"
    path.write_text(
        "email,name,language,timezone,region\n"
        "a@example.com,Ana,en,UTC,us-tx\n"
        "b@example.com,Bo,en,UTC,\n"
        "c@example.com,Cy,en,UTC,Texas\n"
        "D@Example.com,Di,en,UTC,DE-BE\n",
        encoding="utf-8",
    )
    result = run("subscribers", "import", str(path))
    assert f"{path}:4: region 'Texas' is not an ISO 3166-2 code like US-TX (or empty)" in result.stdout + result.stderr
    db = sqlite3.connect(project.root / "subscribers.db")
    regions = dict(db.execute("select email, region from subscriber order by id").fetchall())
    assert regions == {"a@example.com": "US-TX", "b@example.com": None, "c@example.com": None, "D@example.com": "DE-BE"}
    # A later file without the column, or with an empty cell, leaves the regions alone.
    path.write_text("email,name,language,timezone\na@example.com,Ana,en,UTC\n", encoding="utf-8")
    run("subscribers", "import", str(path))
    assert db.execute("select region from subscriber where email = 'a@example.com'").fetchone() == ("US-TX",)
    db.close()


def test_a_file_without_the_column_imports_as_before(run, project: Project) -> None:  # type: ignore[no-untyped-def]
    result = run("subscribers", "import", str(project.write_csv("a@example.com,Ana,en,UTC\n")))
    assert result.exit_code == 0
    db = sqlite3.connect(project.root / "subscribers.db")
    assert db.execute("select region from subscriber").fetchall() == [(None,)]
    db.close()
