"""The action's targets: a CSV file the organizer maintains (README: The statement for
the record), with the header ``name,title,email,region,district,language``.

``region`` is an ISO 3166-2 subdivision code (``US-TX``, ``DE-BE``) or ``*`` for a target
every subscriber writes to; ``title``, ``district`` and ``language`` may be empty. A row
that is wrong is one line naming the file, the line and what is allowed, as the
subscriber import does: the file is read whole or not at all, so a typo never leaves a
region silently without its legislators."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from scheduler.core.values import check_language, normalize_email, printable_line
from scheduler.errors import ConfigError

COLUMNS = ("name", "title", "email", "region", "district", "language")
REQUIRED = ("name", "email", "region")
#: ISO 3166-2: the two-letter country, a hyphen, one to three letters or digits
REGION_RE = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
ALL_REGIONS = "*"
#: one cell longer than this is not a name, title or address (the import's cap too)
FIELD_MAX = 1000
#: errors shown at once; the count says how many more there are
SHOWN_ERRORS = 10


class TargetsError(ConfigError):
    """The targets file cannot be used; ``problems`` holds one ``file:line: why`` each."""

    def __init__(self, problems: list[str]) -> None:
        more = f" (and {len(problems) - SHOWN_ERRORS} more)" if len(problems) > SHOWN_ERRORS else ""
        super().__init__("; ".join(problems[:SHOWN_ERRORS]) + more)
        self.problems = problems


@dataclass(frozen=True)
class Target:
    name: str
    title: str
    email: str
    region: str
    district: str
    language: str
    #: where it was read, for messages: ``targets.csv:7``
    where: str

    @property
    def key(self) -> str:
        return self.email.lower()


class Targets:
    """Every target, and who a subscriber of a region writes to."""

    def __init__(self, rows: Iterable[Target], path: Path | None = None) -> None:
        self.rows = list(rows)
        self.path = path

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def regions(self) -> list[str]:
        """The regions that have targets of their own, sorted (``*`` aside)."""
        return sorted({t.region for t in self.rows if t.region != ALL_REGIONS})

    def covers(self, region: str | None) -> bool:
        return bool(self.for_region(region))

    def for_region(self, region: str | None) -> list[Target]:
        """The targets of ``region`` and those for every region, each address once, in
        the file's order."""
        seen: set[str] = set()
        out: list[Target] = []
        for t in self.rows:
            if (t.region == ALL_REGIONS or t.region == region) and t.key not in seen:
                seen.add(t.key)
                out.append(t)
        return out


def check_region(value: str) -> str:
    """An ISO 3166-2 code, upper-cased, or ``*``; ValueError saying what is allowed."""
    text = value.strip().upper()
    if text == ALL_REGIONS or REGION_RE.match(text):
        return text
    raise ValueError(f"region {value!r} is not an ISO 3166-2 code like US-TX, DE-BE or AZ-BA, nor * for every region")


def _cell(row: dict[str, str | None], column: str) -> str:
    value = row.get(column) or ""
    if len(value) > FIELD_MAX:
        raise ValueError(f"{column} is longer than {FIELD_MAX} characters")
    if column in REQUIRED and not value.strip():
        raise ValueError(f"{column} is empty; every row needs a {column}")
    if any(c in value for c in "\r\n<>"):
        raise ValueError(f"{column} {value[:40]!r} has a line break or < >; one line of plain text is allowed")
    return printable_line(value)


def _target(row: dict[str, str | None], where: str) -> Target:
    name, title, email, region, district, language = (_cell(row, c) for c in COLUMNS)
    email = normalize_email(email)
    region = check_region(region)
    if language:
        try:
            language = check_language(language)
        except ValueError as exc:
            raise ValueError(f"language: {exc}") from None
    return Target(name, title, email, region, district, language, where)


def read_targets(path: Path) -> Targets:
    """Every row of the file, checked; TargetsError naming each bad line."""
    problems: list[str] = []
    rows: list[Target] = []
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise TargetsError([f"{path}: cannot read the targets file ({exc.strerror})"]) from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = [h.strip() for h in (reader.fieldnames or [])]
        except (csv.Error, UnicodeDecodeError) as exc:
            raise TargetsError([f"{path}:1: {exc}"]) from None
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        if missing or extra:
            raise TargetsError(
                [
                    f"{path}:1: the header must be {','.join(COLUMNS)}"
                    f" (missing: {', '.join(missing) or 'none'}; unknown: {', '.join(extra) or 'none'})"
                ]
            )
        reader.fieldnames = header
        seen: dict[tuple[str, str], str] = {}
        start = 2
        try:
            for row in reader:
                where = f"{path}:{start}"
                start = reader.line_num + 1
                if None in row:
                    problems.append(f"{where}: more cells than the header's {len(COLUMNS)} columns")
                    continue
                try:
                    target = _target(row, where)
                except ValueError as exc:
                    problems.append(f"{where}: {exc}")
                    continue
                twice = seen.get((target.key, target.region))
                if twice:
                    problems.append(f"{where}: {target.email} is listed for {target.region} already, on {twice}")
                    continue
                seen[(target.key, target.region)] = where.rsplit(":", 1)[1]
                rows.append(target)
        except (csv.Error, UnicodeDecodeError) as exc:
            problems.append(f"{path}:{start}: {exc}")
    if problems:
        raise TargetsError(problems)
    if not rows:
        raise TargetsError([f"{path}: no targets; add at least one row under the header"])
    return Targets(rows, path)
