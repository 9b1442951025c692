"""Reading and validating subscriber input: CSV files and single entries. No SQL here:
rows that pass go to :meth:`scheduler.store.Store.upsert_subscribers`.

A file may also carry the export's ``status``, ``consent_at`` and ``consent_source``
columns, so that an export restores exactly; an empty cell, like an absent column,
means the default (active, now, the import).

Cells that a spreadsheet would run as a formula are written with a ``'`` in front and
read back without it (:func:`escape_cell`, :func:`unescape_cell`). The file is read a
line at a time, never whole; a field is at most :data:`FIELD_LIMIT` characters."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import TextIO

from scheduler.core.outcomes import Status
from scheduler.core.values import EmailNormalizer, check_zone, normalize_email, one_line
from scheduler.errors import UsageError
from scheduler.store import SubscriberRow
from scheduler.store.subscribers import ImportRow
from scheduler.subscribers.seen import SeenAddresses

REQUIRED_COLUMNS = ("email", "name", "language", "timezone")
#: honored for new subscribers only: an import never changes an existing one's status
CONSENT_COLUMNS = ("status", "consent_at", "consent_source")
_COLUMNS = REQUIRED_COLUMNS + CONSENT_COLUMNS

#: (status, consent_at, consent_source), each None where the file leaves it to the default
Consent = tuple[Status | None, datetime | None, str | None]

#: the longest field a file may hold, in characters: a subscriber's value is far shorter,
#: and a longer one is a damaged file or a quote left open
FIELD_LIMIT = 65_536
#: characters read at a time, so a line of any length is never held whole
_PIECE = 1 << 20
_AFTER = "; the rows after it were not read"
_NO_CONSENT: Consent = (None, None, None)

# OWASP, "CSV Injection": a cell that starts with one of these is a formula to a
# spreadsheet. A leading ' makes it text; cells that already start with ' before one of
# them get one more, so that removing exactly one ' on import restores every value.
_FORMULA = frozenset("=+-@\t\r")
_RISKY_FIRST = _FORMULA | {"'"}

# C0 and C1 control characters other than whitespace: dropped from names (a NUL, an
# ESC starting a terminal sequence, a BEL). The whitespace ones (TAB, CR, LF, NEL...)
# fold to a space with the rest of the whitespace (``one_line``), so a name stays one line.
_CONTROLS = [c for c in (*range(0x20), *range(0x7F, 0xA0)) if not chr(c).isspace()]
_DROP_CONTROLS = dict.fromkeys(_CONTROLS)


def escape_cell(value: str) -> str:
    """The cell as the export writes it: ``'`` in front of a value that starts with
    ``= + - @``, TAB or CR, or with one or more ``'`` followed by one of them."""
    if value and value[0] in _RISKY_FIRST and (value[0] != "'" or value.lstrip("'")[:1] in _FORMULA):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """The inverse of :func:`escape_cell`, applied to every cell an import reads: one
    leading ``'`` goes from a value that is one or more ``'`` then ``= + - @``, TAB or CR."""
    if value[:1] == "'" and value.lstrip("'")[:1] in _FORMULA:
        return value[1:]
    return value


def clean_text(value: str) -> str:
    """One line of text as given, less its control characters (see ``_CONTROLS``)."""
    if not value.isprintable():
        value = value.translate(_DROP_CONTROLS)
    return one_line(value)


@dataclass
class ImportReport:
    """What an import found wrong, a line each; the good rows are not held here but
    streamed to the store (BENCHMARKS.md, import)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: the file's size and about how many of its bytes were read so far, for progress
    size: int = 0
    position: int = 0


def validate_row(
    email: str,
    name: str,
    language: str,
    timezone: str,
    languages: list[str],
    check_email: Callable[[str], str] = normalize_email,
) -> tuple[SubscriberRow, str | None]:
    """One subscriber, or ValueError naming what is wrong. Returns (row, warning).
    ``check_email`` is :func:`normalize_email` or an import's :class:`EmailNormalizer`,
    which answers the same."""
    address = check_email(email)
    try:
        zone = check_zone(timezone.strip())
    except ValueError as exc:
        raise ValueError(f"timezone {exc}") from None
    lang = language.strip()
    warning = None
    if lang not in languages:
        warning = f"language {lang!r} is not one of {', '.join(languages)}; using {languages[0]!r}"
        lang = languages[0]
    return SubscriberRow(address, clean_text(name), lang, zone), warning


def validate_consent(status: str, consent_at: str, consent_source: str) -> Consent:
    """A file's status, consent time and source, each None when empty; ValueError
    naming the column and what it allows."""
    state = None
    if status := status.strip():
        # "forgotten" names an erased row, which no file can describe (README: Privacy).
        allowed_states = [s for s in Status if s is not Status.FORGOTTEN]
        if status.lower() not in allowed_states:
            allowed = ", ".join(s.value for s in allowed_states)
            raise ValueError(f"status must be one of {allowed} (got {status!r})")
        state = Status(status.lower())
    at = None
    if consent_at := consent_at.strip():
        try:
            at = datetime.fromisoformat(consent_at)
        except ValueError:
            at = None
        # A time without an offset names no instant: guessing a zone would move the
        # record of when someone agreed, so it is refused like any other bad value.
        if at is None or at.tzinfo is None:
            raise ValueError(
                "consent_at must be an ISO 8601 time with a UTC offset such as 2024-05-01T09:30:00+00:00"
                f" (got {consent_at!r})"
            )
    return state, at, clean_text(consent_source) or None


def read_rows(path: Path, languages: list[str], report: ImportReport) -> Iterator[ImportRow]:
    """The file's good rows, read a line at a time as they are taken. Every bad row is
    added to ``report`` with the line it starts on and the reason, as is a repeat of an
    earlier row's address. Where the file cannot be split into records any further (a
    quote never closed, a field over :data:`FIELD_LIMIT`), that is reported and the
    rows before it stand. The header is read, and a bad one refused (UsageError), here,
    before any row is taken; ``report.position`` follows the bytes read."""
    fh = _open(path)
    try:
        report.size = os.fstat(fh.fileno()).st_size
        source = _Source(fh)
        header = _header(path, source)
    except BaseException:
        fh.close()
        raise
    return _rows(fh, source, header, path, languages, report)


def _rows(
    fh: TextIO, source: _Source, header: list[str], path: Path, languages: list[str], report: ImportReport
) -> Iterator[ImportRow]:
    check_email = EmailNormalizer()
    with fh:
        # The last of two columns with one name counts, as with csv.DictReader.
        where = {name: i for i, name in enumerate(header)}
        consent = any(c in where for c in CONSENT_COLUMNS)
        wanted = _COLUMNS if consent else REQUIRED_COLUMNS
        # An absent column reads the empty cell each short row is padded with.
        pick = itemgetter(*(where.get(c, len(header)) for c in wanted))
        width = len(header) + 1 if any(c not in where for c in wanted) else max(where[c] for c in wanted) + 1
        seen = SeenAddresses()
        for line, row in source.records(path, report):
            if not line & 0xFFF:
                report.position = fh.buffer.tell()
                if line == 0x1000 and report.position:
                    # The rows to come, from the bytes a row took so far.
                    seen.reserve(int(len(seen) * report.size / report.position * 1.05))
            if len(row) < width:
                row += [""] * (width - len(row))
            values = pick(row)
            if "'" in "".join(values):
                values = [unescape_cell(v) for v in values]
            try:
                base, warning = validate_row(values[0], values[1], values[2], values[3], languages, check_email)
                status, at, by = validate_consent(values[4], values[5], values[6]) if consent else _NO_CONSENT
            except ValueError as exc:
                report.errors.append(f"{path}:{line}: {exc}")
                continue
            first = seen.first_line(base.email.lower(), line)
            if first is not None:
                report.errors.append(f"{path}:{line}: {base.email} repeats line {first}")
                continue
            if warning:
                report.warnings.append(f"{path}:{line}: {warning}")
            yield ImportRow(base.email, base.name, base.language, base.timezone, status, at, by)
        report.position = report.size


def _header(path: Path, source: _Source) -> list[str]:
    """The header's column names, lower-cased; UsageError unless it has every required one."""
    try:
        first = source.next_record()
    except _Unreadable as exc:
        raise UsageError(f"{path}:1: {exc}") from None
    if first is not None and source.eof:
        raise UsageError(f"{path}:1: unclosed quote in the header")
    if source.bad:
        raise UsageError(f"{path}:{source.bad[0]}")
    header = [h.strip().lower() for h in first or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise UsageError(
            f"{path}:1: header must have the columns {','.join(REQUIRED_COLUMNS)} (missing: {', '.join(missing)})"
        )
    return header


def _open(path: Path) -> TextIO:
    # newline="" hands csv the line ends as written, so a quoted field keeps its own
    # (Python's csv docs); undecodable bytes are kept as surrogates and reported per row.
    try:
        return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


class _Unreadable(Exception):
    """The reader cannot tell where the next record starts."""


class _Source:
    """The file's records. csv.reader reads the file a piece of at most ``_PIECE``
    characters at a time, a line per piece unless the line is longer; its ``line_num``
    counts the pieces, so physical lines are that less the pieces that continue a line."""

    def __init__(self, fh: TextIO) -> None:
        self._reader = csv.reader(self._pieces(fh))
        #: pieces so far that continue a line rather than start one
        self._continued = 0
        #: the last piece stopped short of its line's end
        self.cut = False
        #: "<line>: <what>" for each line of the current record with a byte that is not UTF-8
        self.bad: list[str] = []
        self.eof = False
        #: the line the last record read ends on
        self.line = 0

    def _pieces(self, fh: TextIO) -> Iterator[str]:
        column = 0  # characters of the line before this piece, when it continues one
        for piece in iter(partial(fh.readline, _PIECE), ""):
            if self.cut:
                self._continued += 1
            if not piece.isascii():
                try:
                    piece.encode("utf-8")
                except UnicodeEncodeError as exc:
                    self._note_bad(piece, exc, column)
            if len(piece) == _PIECE and piece[-1] not in "\r\n":
                self.cut = True
                column += len(piece)
            elif self.cut:
                self.cut = False
                column = 0
            yield piece
        self.eof = True

    def _note_bad(self, piece: str, exc: UnicodeEncodeError, column: int) -> None:
        # Only surrogateescape makes lone surrogates here: each stands for one raw byte.
        # The reader has not yet counted this piece.
        line = self._reader.line_num + 1 - self._continued
        byte = ord(piece[exc.start]) - 0xDC00
        at = column + exc.start + 1
        self.bad.append(f"{line}: byte 0x{byte:02X} at column {at} is not UTF-8; save the file as UTF-8")

    def next_record(self) -> list[str] | None:
        """The next record (an empty list for a blank line), None at the end, or
        _Unreadable. csv's field limit is process-wide, so it is set only while csv
        reads one record and put back before the caller sees it."""
        previous = csv.field_size_limit(FIELD_LIMIT)
        try:
            row = next(self._reader, None)
        except csv.Error as exc:
            if "field limit" not in str(exc):
                raise _Unreadable(str(exc)) from None
            now = self._reader.line_num - self._continued
            if now > self.line + 1:
                raise _Unreadable(
                    f"field longer than {FIELD_LIMIT:,} characters, in a quote still open at line {now}"
                ) from None
            raise _Unreadable(f"field longer than {FIELD_LIMIT:,} characters") from None
        finally:
            csv.field_size_limit(previous)
        self.line = self._reader.line_num - self._continued
        return row

    def records(self, path: Path, report: ImportReport) -> Iterator[tuple[int, list[str]]]:
        """(line the record starts on, its fields) for each record that can be read; bad
        bytes, and the place where reading had to stop, go to ``report.errors``."""
        while True:
            start = self.line + 1
            try:
                row = self.next_record()
            except _Unreadable as exc:
                report.errors.append(f"{path}:{start}: {exc}{_AFTER}")
                return
            if row is None:
                return
            if self.eof:
                # A record ends at a line end unless a quoted field is open; this one needed
                # the end of the file, so its quote never closed and swallowed what followed.
                after = _AFTER if self.line > start else ""
                report.errors.append(f"{path}:{start}: unclosed quote in this record{after}")
                return
            if self.cut:
                # Only a line of more than _PIECE characters ends mid-line; its rest
                # cannot be told from a new record.
                report.errors.append(f"{path}:{start}: line longer than {_PIECE:,} characters{_AFTER}")
                return
            if self.bad:
                report.errors.append(f"{path}:{self.bad[0]}")
                self.bad.clear()
            elif row:
                yield start, row
