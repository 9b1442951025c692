"""CSV files in and out are safe and exact: formula cells are escaped on export and
unescaped on import, a broken file is reported at the line where it breaks with the
rows before it kept, the file is streamed with a cap on each field, and control
characters neither reach the database through a name nor the terminal through `list`.
Driven as a user does, against real SQLite files and, for memory, a real process."""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import REPO, Project

HEADER = "email,name,language,timezone\n"
EXPORT_HEADER = "email,name,language,timezone,status,consent_at,consent_source\n"


def _names(project: Project, db: str = "subscribers.db") -> dict[str, str]:
    with sqlite3.connect(project.root / db) as conn:
        return dict(conn.execute("select email, name from subscriber order by id").fetchall())


def _write(project: Project, data: str | bytes, name: str = "subs.csv") -> Path:
    path = project.root / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


# -- 1. formula cells (OWASP, "CSV Injection") ----------------------------------------

FORMULA_NAMES = {
    "calc@example.com": "=cmd|' /C calc'!A0",
    "sum@example.com": "@SUM(1+1)",
    "plus@example.com": "+1 555 0100",
    "minus@example.com": "-x",
    # Already escaped-looking names get one more quote, so the import restores them.
    "quoted@example.com": "'=already quoted",
    "twice@example.com": "''@two",
    # A quote before anything else is left alone both ways.
    "apostrophe@example.com": "'plain",
    "irish@example.com": "O'Brien",
    "lone@example.com": "'",
}


def test_export_escapes_formula_cells_and_import_restores_them(run, project: Project) -> None:
    for email, name in FORMULA_NAMES.items():
        result = run("subscribers", "add", email, f"--name={name}", "--timezone", "UTC")
        assert (result.exit_code, result.stdout) == (0, f"{email}: added\n")
    # An address may start with a formula character too.
    assert run("subscribers", "import", str(project.write_csv("-dash@example.com,Dash,en,UTC\n"))).exit_code == 0
    assert _names(project) == {**FORMULA_NAMES, "-dash@example.com": "Dash"}

    backup = project.root / "backup.csv"
    assert run("subscribers", "export", str(backup)).exit_code == 0
    rows = list(csv.reader(backup.open(encoding="utf-8", newline="")))
    assert [(r[0], r[1]) for r in rows] == [
        ("email", "name"),
        ("calc@example.com", "'=cmd|' /C calc'!A0"),
        ("sum@example.com", "'@SUM(1+1)"),
        ("plus@example.com", "'+1 555 0100"),
        ("minus@example.com", "'-x"),
        ("quoted@example.com", "''=already quoted"),
        ("twice@example.com", "'''@two"),
        ("apostrophe@example.com", "'plain"),
        ("irish@example.com", "O'Brien"),
        ("lone@example.com", "'"),
        ("'-dash@example.com", "Dash"),
    ]
    assert "\ncalc@example.com,'=cmd|' /C calc'!A0,en,UTC,active," in backup.read_text(encoding="utf-8")

    restored = project.root / "restored.toml"
    restored.write_text(
        project.config.read_text(encoding="utf-8").replace("sqlite:///subscribers.db", "sqlite:///restored.db", 1),
        encoding="utf-8",
    )
    result = run("subscribers", "import", str(backup), config=restored)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "10 added, 0 updated, 0 unchanged, 0 rejected\n", "")
    assert _names(project, "restored.db") == _names(project)
    assert run("subscribers", "export", config=restored).stdout == backup.read_text(encoding="utf-8")
    result = run("subscribers", "import", str(backup), config=restored)
    assert result.stdout == "0 added, 0 updated, 10 unchanged, 0 rejected\n"


def test_import_takes_one_quote_off_an_escaped_cell_only(run, project: Project) -> None:
    path = project.write_csv(
        "a@example.com,'=1+1,en,UTC\n"
        "b@example.com,''=1+1,en,UTC\n"
        "c@example.com,'Quote,en,UTC\n"
        "d@example.com,=1+1,en,UTC\n"
        "'-e@example.com,E,en,UTC\n"
    )
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "5 added, 0 updated, 0 unchanged, 0 rejected\n", "")
    assert _names(project) == {
        "a@example.com": "=1+1",
        "b@example.com": "'=1+1",
        "c@example.com": "'Quote",
        "d@example.com": "=1+1",
        "-e@example.com": "E",
    }


# -- 2. an unclosed quote -------------------------------------------------------------


def test_unclosed_quote_is_reported_where_its_record_starts(run, project: Project) -> None:
    path = project.write_csv(
        'a@example.com,A,en,UTC\nb@example.com,B,en,UTC\nc@example.com,"Cee,en,UTC\nd@example.com,D,en,UTC\n'
        "e@example.com,E,en,Europe/Berlin\n"
    )
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout) == (1, "2 added, 0 updated, 0 unchanged, 1 rejected\n")
    assert result.stderr == f"Error: {path}:4: unclosed quote in this record; the rows after it were not read\n"
    assert _names(project) == {"a@example.com": "A", "b@example.com": "B"}
    # Once the quote is closed, the same import completes the list and touches nothing twice.
    path.write_text(path.read_text(encoding="utf-8").replace('"Cee', '"Cee"'), encoding="utf-8")
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout) == (0, "3 added, 0 updated, 2 unchanged, 0 rejected\n")


def test_unclosed_quote_on_the_last_line(run, project: Project) -> None:
    path = project.write_csv('a@example.com,A,en,UTC\nb@example.com,"B,en,UTC\n')
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stderr) == (1, f"Error: {path}:3: unclosed quote in this record\n")
    assert _names(project) == {"a@example.com": "A"}


def test_unclosed_quote_in_the_header_refuses_the_file(run, project: Project) -> None:
    path = _write(project, 'email,"name,language,timezone\na@example.com,A,en,UTC\n')
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"Error: {path}:1: unclosed quote in the header\n",
    )


def test_unclosed_quote_before_a_long_rest_is_named_at_the_field_limit(run, project: Project) -> None:
    rest = "".join(f"user{i}@example.com,User {i},en,UTC\n" for i in range(3000))
    path = project.write_csv(f'a@example.com,A,en,UTC\nb@example.com,"Bee,en,UTC\n{rest}')
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout) == (1, "1 added, 0 updated, 0 unchanged, 1 rejected\n")
    # 65,536 characters of ~30-character lines: the quote is still open some 1,800 lines on.
    assert result.stderr == (
        f"Error: {path}:3: field longer than 65,536 characters, in a quote still open at line 1786;"
        " the rows after it were not read\n"
    )


def test_a_quoted_field_over_several_lines_still_counts_lines(run, project: Project) -> None:
    path = project.write_csv(
        'a@example.com,"Ana\nMaria",en,UTC\nbroken,B,en,UTC\nc@example.com,"C\r\n\r\nC",en,Mars/Base\n'
    )
    result = run("subscribers", "import", str(path))
    assert result.stderr.splitlines()[0].startswith(f"Error: {path}:4: invalid email 'broken'")
    assert result.stderr.splitlines()[1] == (
        f"Error: {path}:5: timezone must be an IANA time zone such as Asia/Baku or America/Los_Angeles"
        " (got 'Mars/Base')"
    )
    assert _names(project) == {"a@example.com": "Ana Maria"}


# -- 3. bytes that are not UTF-8 --------------------------------------------------------


def test_a_latin1_byte_rejects_its_row_only(run, project: Project) -> None:
    path = _write(
        project,
        b"email,name,language,timezone\n"
        b"a@example.com,Ana,az,Asia/Baku\n"
        b"jose@example.com,Jos\xe9,en,UTC\n"
        b'b@example.com,"B\n\xfcber",en,UTC\n'
        b"c@example.com,\xc3\xa7i\xc3\xa7ek,tr,Europe/Istanbul\n",
    )
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout) == (1, "2 added, 0 updated, 0 unchanged, 2 rejected\n")
    assert result.stderr.splitlines() == [
        f"Error: {path}:3: byte 0xE9 at column 21 is not UTF-8; save the file as UTF-8",
        f"Error: {path}:5: byte 0xFC at column 1 is not UTF-8; save the file as UTF-8",
    ]
    assert _names(project) == {"a@example.com": "Ana", "c@example.com": "çiçek"}


def test_a_byte_order_mark_is_read_and_a_bad_header_refused(run, project: Project) -> None:
    path = _write(project, b"\xef\xbb\xbf" + HEADER.encode() + b"a@example.com,A,en,UTC\n")
    assert run("subscribers", "import", str(path)).stdout == "1 added, 0 updated, 0 unchanged, 0 rejected\n"
    bad = _write(project, b"email,n\xe4me,language,timezone\na@example.com,A,en,UTC\n", "bad.csv")
    result = run("subscribers", "import", str(bad))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {bad}:1: byte 0xE4 at column 8 is not UTF-8; save the file as UTF-8\n",
    )


# -- 4. the field cap, streamed ----------------------------------------------------------


def test_field_is_capped_at_65536_characters_with_the_right_line(run, project: Project) -> None:
    path = project.write_csv(
        f"a@example.com,{'a' * 65_536},en,UTC\n"
        'b@example.com,"Bea\nBlue",en,UTC\n'
        f"c@example.com,{'c' * 65_537},en,UTC\n"
        "d@example.com,D,en,UTC\n"
    )
    limit = csv.field_size_limit()
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stdout) == (1, "2 added, 0 updated, 0 unchanged, 1 rejected\n")
    assert result.stderr == f"Error: {path}:5: field longer than 65,536 characters; the rows after it were not read\n"
    assert {k: len(v) for k, v in _names(project).items()} == {"a@example.com": 65_536, "b@example.com": 8}
    # The cap is the import's own: the process-wide csv limit is as it was.
    assert csv.field_size_limit() == limit


_PEAK = """
import resource, sys
from scheduler.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "code", code, file=sys.stderr)
"""


def _peak_kib(project: Project, *args: str) -> tuple[int, str]:
    """Peak RSS of a real `anniversary ...` process, and what it said on stderr."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *args, "--config", str(project.config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    *said, last = done.stderr.splitlines()
    assert last.startswith("peak "), done.stderr
    return int(last.split()[1]), "\n".join(said)


def test_a_50_mb_field_is_streamed_and_reported(project: Project) -> None:
    path = project.root / "huge.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER + 'a@example.com,A,en,UTC\nb@example.com,"B\nB",en,UTC\nc@example.com,')
        for _ in range(50):
            fh.write("x" * 1_000_000)
        fh.write(",en,UTC\nd@example.com,D,en,UTC\n")
    baseline, _ = _peak_kib(project, "subscribers", "count")
    peak, said = _peak_kib(project, "subscribers", "import", str(path))
    assert said == f"Error: {path}:5: field longer than 65,536 characters; the rows after it were not read"
    # Only a piece of the line is ever held; the whole file would be 50 MB more (300+ read whole).
    assert peak - baseline < 20 * 1024, (baseline, peak)


# -- 5. control characters ----------------------------------------------------------------


def test_control_characters_are_dropped_from_names(run, project: Project) -> None:
    path = _write(
        project,
        EXPORT_HEADER + "a@example.com,Ana\x00 \x1b[31mRed\x1b[0m\x07,en,UTC,,,web\x00\x9bform\n"
        'b@example.com,"Bo\tb\x85Lee\x7f",en,UTC,,,\n',
    )
    result = run("subscribers", "import", str(path))
    assert (result.exit_code, result.stderr) == (0, "")
    result = run("subscribers", "add", "c@example.com", "--name", "Cy\x1b]0;owned\x07 \x00", "--timezone", "UTC")
    assert result.exit_code == 0
    with sqlite3.connect(project.root / "subscribers.db") as conn:
        assert conn.execute("select email, name, consent_source from subscriber order by id").fetchall() == [
            ("a@example.com", "Ana [31mRed[0m", "webform"),
            ("b@example.com", "Bo b Lee", "import"),
            ("c@example.com", "Cy]0;owned", "cli"),
        ]


def test_list_shows_control_characters_escaped(run, project: Project) -> None:
    run("subscribers", "import", str(project.write_csv("a@example.com,Ana,en,UTC\nb@example.com,Bo,en,UTC\n")))
    # As a release before this one could have stored them.
    with sqlite3.connect(project.root / "subscribers.db") as conn:
        conn.execute("update subscriber set name = ? where email = 'a@example.com'", ("\x1b[2J\x1b[31mAna\x00\tx\x9b",))
    assert run("subscribers", "list").stdout == (
        "a@example.com\t\\x1b[2J\\x1b[31mAna\\x00\\x09x\\x9b\ten\tUTC\tactive\nb@example.com\tBo\ten\tUTC\tactive\n"
    )
