"""Validation of observations and parsing of observation CSV files.

Every way in (the command line, the browser form, a CSV upload) goes through
:func:`validate_rows`, so the same input gets the same answer everywhere.

CSV format
----------
UTF-8 text (a byte-order mark is tolerated), comma-separated, first line a header::

    indicator,date,end,value,source,reliability,credibility,note[,recorded_at]

Required columns: ``indicator``, ``date``, ``value``, ``source``. Optional: ``end`` (empty: a
single day, ``end = date``), ``reliability`` (Admiralty source grade ``A``–``F``, default
``C`` "fairly reliable"), ``credibility`` (information grade ``1``–``6``, default ``3``
"possibly true"), ``note`` and ``recorded_at``. Columns may come in any order. ``recorded_at``
(ISO 8601; a time without zone is read as UTC, a bare date as 00:00 UTC) back-fills *when the
fact became known* for historical data; it may not lie in the future, nor before the case starts
(nothing about the case's period can be known before it begins). Without it, the time of the
import is used.

Rules (each broken rule is reported with its line and column; one bad row stores nothing):

- the indicator is one of the case's indicators;
- ``date`` and ``end`` are real calendar dates ``YYYY-MM-DD`` (2023-02-30 is refused), ``end`` is
  not before ``date``, and neither lies in the future (today is judged generously: the later of
  the local and the UTC calendar day), because an observation describes a period that happened;
- ``date`` is not before the case's ``start`` (the model reads nothing earlier), nor before
  :data:`EARLIEST_DATE` (1900-01-01) whatever the case says: every reader of the store holds
  times as pandas nanosecond timestamps, which end before 1677-09-22;
- ``value`` is a finite number inside the indicator's valid range
  (:attr:`indicators.case.Indicator.value_range`) and a whole number for count, binary and
  ordinal indicators;
- ``source`` is not empty;
- ``source`` (one line, at most :data:`MAX_SOURCE_CHARS` = 2,000 characters) and ``note`` (tabs
  and line breaks allowed, at most :data:`MAX_NOTE_CHARS` = 10,000 characters) follow the text
  rules of :mod:`indicators.text`: no NUL byte, no control character, no bidirectional-text
  override, not only invisible characters; the other fields hold no such characters either;
- values have the right type, for callers that pass typed values (the HTTP API's JSON): a
  boolean is not a number, an object or a list is not text, a number is not text;
- the same observation (indicator, date, end, value, source) does not appear twice in one batch,
  nor duplicate an observation already stored and in effect.

A file above :data:`MAX_IMPORT_BYTES`, an empty file, a file that is not UTF-8 text and a wrong
header are refused as a whole, with one sentence naming the file.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from indicators import text as texts
from indicators.case import CREDIBILITY_GRADES, RELIABILITY_GRADES, Case
from indicators.errors import BadInput, RowErrors

MAX_IMPORT_BYTES = 5 * 1024 * 1024
"""Largest observation file accepted for import (5 MB)."""

EARLIEST_DATE = date(1900, 1, 1)
"""No observation is dated earlier, whatever the case's start (see the module's rules)."""

MAX_SOURCE_CHARS = 2000
"""Longest source accepted (a citation or a few URLs)."""

MAX_NOTE_CHARS = 10_000
"""Longest note accepted."""

MAX_REASON_CHARS = 2000
"""Longest reason accepted for a correction or a retraction."""

DEFAULT_RELIABILITY = "C"
"""Admiralty source grade used when none is given: C, "fairly reliable"."""

DEFAULT_CREDIBILITY = 3
"""Admiralty information grade used when none is given: 3, "possibly true"."""

REQUIRED_COLUMNS = ("indicator", "date", "value", "source")
OPTIONAL_COLUMNS = ("end", "reliability", "credibility", "note", "recorded_at")
COLUMNS = ("indicator", "date", "end", "value", "source", "reliability", "credibility", "note", "recorded_at")

# The fields that identify "the same observation" (duplicates in a batch or against the store).
IDENTITY = ("indicator", "date", "end", "value", "source")


@dataclass(frozen=True)
class Observation:
    """One validated observation, ready to store. ``end`` is always set (``date`` for a day)."""

    indicator: str
    date: date
    end: date
    value: float
    source: str
    reliability: str = DEFAULT_RELIABILITY
    credibility: int = DEFAULT_CREDIBILITY
    note: str = ""
    recorded_at: datetime | None = None  # naive UTC; None: "now", set by the store

    @property
    def identity(self) -> tuple[Any, ...]:
        return (self.indicator, self.date, self.end, float(self.value), self.source)

    def values(self) -> dict[str, Any]:
        """The fields as a plain dict (without ``recorded_at``)."""
        return {
            "indicator": self.indicator,
            "date": self.date,
            "end": self.end,
            "value": self.value,
            "source": self.source,
            "reliability": self.reliability,
            "credibility": self.credibility,
            "note": self.note,
        }


def today() -> date:
    """The latest calendar day it can be now: the later of the local and the UTC date."""
    return max(date.today(), datetime.now(UTC).date())


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (how the store keeps times)."""
    return datetime.now(UTC).replace(tzinfo=None)


# --------------------------------------------------------------------------- single values


def _shown(text: Any, limit: int = 60) -> str:
    """Input text as quoted in a message: cut to ``limit`` characters, so a huge cell cannot flood
    it, with control characters written as escapes, so it cannot drive the reader's terminal."""
    text = str(text)
    cut = text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"
    return texts.printable(cut)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def parse_date(value: Any) -> date:
    """A calendar date from ``YYYY-MM-DD`` text or a date; ValueError with the reason otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text, re.ASCII):
        raise ValueError(f"'{_shown(text)}' is not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a real calendar date") from None


def parse_timestamp(value: Any) -> datetime:
    """A UTC instant (returned naive) from ISO 8601 text, a datetime or a date."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time())
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise ValueError(f"'{_shown(text)}' is not an ISO 8601 time such as 2021-03-04T09:00:00Z") from None
    if dt.tzinfo is not None:
        try:
            dt = dt.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # e.g. 0001-01-01T00:00+05:00, which is before year 1 in UTC
            raise ValueError(f"'{_shown(value)}' is outside the years 1-9999 in UTC") from None
    return dt


def first_day(case: Case) -> date:
    """The earliest date an observation of ``case`` may have: its start, but not before 1900."""
    return max(case.start, EARLIEST_DATE)


def before_first_day(case: Case) -> str:
    if case.start >= EARLIEST_DATE:
        return f"before the case starts ({case.start.isoformat()})"
    return f"before {EARLIEST_DATE.isoformat()}, the earliest date the store accepts"


def _number(raw: Any) -> bool:
    """A number, and not a boolean (which Python counts as one)."""
    return isinstance(raw, numbers.Real) and type(raw).__name__ not in ("bool", "bool_")


def _parse_value(raw: Any, case: Case, indicator: str | None) -> float:
    if not isinstance(raw, str) and not _number(raw):
        raise ValueError(f"{texts.kind_of(raw)} is not a number")
    if _number(raw):
        value = float(raw)
    else:
        text = str(raw).strip()
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"'{_shown(text)}' is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    if indicator is None:
        return value
    ind = case.indicator(indicator)
    shown = f"{value:g}"
    if ind.integer_valued and value != int(value):
        raise ValueError(f"{shown} is not a whole number, and '{indicator}' ({ind.family}) takes whole numbers")
    lo, hi = ind.value_range
    if not lo <= value <= hi:
        raise ValueError(f"{shown} is outside the valid range {_range_text(lo, hi)} of '{indicator}' ({ind.family})")
    return value


def _range_text(lo: float, hi: float) -> str:
    def fmt(x: float) -> str:
        return "∞" if x == float("inf") else "-∞" if x == float("-inf") else f"{x:g}"

    return f"{fmt(lo)}..{fmt(hi)}"


def _parse_reliability(raw: Any) -> str:
    if _blank(raw):
        return DEFAULT_RELIABILITY
    text = str(raw).strip().upper()
    if text not in RELIABILITY_GRADES:
        raise ValueError(f"'{_shown(str(raw).strip())}' is not a reliability grade; use one letter A-F")
    return text


def _parse_credibility(raw: Any) -> int:
    if _blank(raw):
        return DEFAULT_CREDIBILITY
    if not isinstance(raw, str) and not _number(raw):
        raise ValueError(f"{texts.kind_of(raw)} is not a credibility grade; use a whole number 1-6")
    if _number(raw) and float(raw).is_integer() and int(raw) in CREDIBILITY_GRADES:
        return int(raw)
    text = str(raw).strip()
    if text.isdigit() and int(text) in CREDIBILITY_GRADES:
        return int(text)
    raise ValueError(f"'{_shown(text)}' is not a credibility grade; use a whole number 1-6")


# --------------------------------------------------------------------------- rows

_EXPECTED = {
    "indicator": "an indicator id",
    "date": "a date (YYYY-MM-DD)",
    "end": "a date (YYYY-MM-DD)",
    "value": "a number",
    "source": "text",
    "reliability": "a reliability grade (one letter A-F)",
    "credibility": "a credibility grade (a whole number 1-6)",
    "note": "text",
    "recorded_at": "a time (ISO 8601)",
}


def _field_problem(column: str, raw: Any) -> str | None:
    """What is wrong with a field's type or characters, before its value is read (or ``None``).

    Source and note are left to their own text checks, which also know their length limits."""
    if _blank(raw):
        return None
    if isinstance(raw, str):
        if column in ("source", "note"):
            return None
        reason = texts.problem(raw)
        return None if reason is None else f"the {column} {reason}"
    if column in ("value", "credibility") and _number(raw):
        return None
    if column in ("date", "end", "recorded_at") and isinstance(raw, date):
        return None
    return f"{texts.kind_of(raw)} is not {_EXPECTED[column]}"


def validate_row(
    case: Case, raw: Mapping[str, Any], *, now: datetime | None = None, allow_recorded_at: bool = True
) -> tuple[Observation | None, list[tuple[str, str]]]:
    """Check one row (a mapping of column to text or value).

    Returns the observation, or ``None`` and every problem found as ``(column, reason)``.
    """
    errors: list[tuple[str, str]] = []
    now = now or utcnow()
    latest_day = today()
    first = first_day(case)
    known = set(COLUMNS) if allow_recorded_at else set(COLUMNS) - {"recorded_at"}
    for key in raw:
        if key not in known:
            errors.append((_shown(key), f"'{_shown(key)}' is not an observation field"))
    # a field of the wrong type or with forbidden characters is reported once, and not read further
    typed = [(col, _field_problem(col, raw[col])) for col in COLUMNS if col in known and col in raw]
    errors += [(col, reason) for col, reason in typed if reason is not None]
    skip = {col for col, reason in typed if reason is not None}

    def given(col: str) -> bool:
        return col not in skip and not _blank(raw.get(col))

    def missing(col: str) -> bool:
        return col not in skip and _blank(raw.get(col))

    indicator = str(raw["indicator"]).strip() if given("indicator") else None
    if missing("indicator"):
        errors.append(("indicator", "the indicator is missing"))
    elif indicator is not None and indicator not in case.indicator_ids:
        errors.append(("indicator", f"'{_shown(indicator)}' is not an indicator of case '{case.id}'"))
        indicator = None
    ind_ok = indicator is not None

    day = end = None
    early = False  # the date is before the first day (then an end before it too goes unsaid)
    if missing("date"):
        errors.append(("date", "the date is missing"))
    elif given("date"):
        try:
            day = parse_date(raw["date"])
            if day > latest_day:
                errors.append(("date", f"{day.isoformat()} is in the future"))
                day = None
            elif day < first:
                errors.append(("date", f"{day.isoformat()} is {before_first_day(case)}"))
                day, early = None, True
        except ValueError as exc:
            errors.append(("date", str(exc)))
    if given("end"):
        try:
            end = parse_date(raw["end"])
            if day is not None and end < day:
                errors.append(("end", f"the end {end.isoformat()} is before the date {day.isoformat()}"))
            elif end > latest_day:
                errors.append(("end", f"{end.isoformat()} is in the future; record a period once it has ended"))
            elif end < first and not early:
                errors.append(("end", f"{end.isoformat()} is {before_first_day(case)}"))
        except ValueError as exc:
            errors.append(("end", str(exc)))

    value = None
    if missing("value"):
        errors.append(("value", "the value is missing"))
    elif given("value"):
        try:
            value = _parse_value(raw["value"], case, indicator if ind_ok else None)
        except ValueError as exc:
            errors.append(("value", str(exc)))

    source = note = ""
    try:
        source = texts.clean(raw["source"] if given("source") else None, limit=MAX_SOURCE_CHARS)
    except ValueError as exc:
        errors.append(("source", f"the source {exc}"))
    else:
        if not source and "source" not in skip:
            errors.append(("source", "the source is missing; every observation needs one"))
    try:
        note = texts.clean(raw["note"] if given("note") else None, multiline=True, limit=MAX_NOTE_CHARS)
    except ValueError as exc:
        errors.append(("note", f"the note {exc}"))

    reliability = credibility = None
    if "reliability" not in skip:
        try:
            reliability = _parse_reliability(raw.get("reliability"))
        except ValueError as exc:
            errors.append(("reliability", str(exc)))
    if "credibility" not in skip:
        try:
            credibility = _parse_credibility(raw.get("credibility"))
        except ValueError as exc:
            errors.append(("credibility", str(exc)))

    recorded_at = None
    if allow_recorded_at and given("recorded_at"):
        try:
            recorded_at = parse_timestamp(raw["recorded_at"])
            if recorded_at > now + timedelta(seconds=1):
                errors.append(("recorded_at", f"{recorded_at.isoformat()}Z is in the future"))
            elif recorded_at < datetime.combine(first, time()):
                errors.append(
                    (
                        "recorded_at",
                        f"{recorded_at.isoformat()}Z is {before_first_day(case)}; "
                        "nothing about the case can have been known earlier",
                    )
                )
        except ValueError as exc:
            errors.append(("recorded_at", str(exc)))

    if errors:
        order = {col: k for k, col in enumerate(COLUMNS)}
        return None, sorted(errors, key=lambda e: order.get(e[0], -1))
    assert indicator is not None and day is not None and value is not None
    assert reliability is not None and credibility is not None
    return Observation(
        indicator=indicator,
        date=day,
        end=end or day,
        value=value,
        source=source,
        reliability=reliability,
        credibility=credibility,
        note=note,
        recorded_at=recorded_at,
    ), []


def validate_rows(
    case: Case,
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    *,
    where: str,
    existing: Mapping[tuple[Any, ...], int] | None = None,
    now: datetime | None = None,
    allow_recorded_at: bool = True,
) -> list[Observation]:
    """Validate numbered rows all-or-nothing.

    Parameters
    ----------
    rows
        ``(line number, row)`` pairs; the number is what error messages show.
    where
        The name of the input in messages (a file name, "observation").
    existing
        Identity (see :data:`IDENTITY`) of each observation already stored and in effect,
        mapped to its id; a row repeating one is refused.

    Raises
    ------
    RowErrors
        Listing every bad row; nothing is returned in that case.
    """
    existing = existing or {}
    errors: list[tuple[int, str, str]] = []
    seen: dict[tuple[Any, ...], int] = {}
    out: list[Observation] = []
    for line, raw in rows:
        obs, problems = validate_row(case, raw, now=now, allow_recorded_at=allow_recorded_at)
        if obs is None:
            errors.extend((line, col, reason) for col, reason in problems)
            continue
        key = obs.identity
        if key in seen:
            errors.append(
                (
                    line,
                    "value",
                    f"the same observation (indicator, date, end, value, source) is already on line {seen[key]}",
                )
            )
            continue
        if key in existing:
            errors.append((line, "value", f"the same observation is already stored as id {existing[key]}"))
            continue
        seen[key] = line
        out.append(obs)
    if errors:
        raise RowErrors(where, errors)
    return out


def _quarter(d: date) -> tuple[int, int]:
    return d.year, (d.month - 1) // 3


def coverage_problem(case: Case, obs: Observation) -> str | None:
    """Why the model will not count ``obs``, when it lies outside its indicator's coverage; else None.

    Only ``events`` indicators have a coverage window that the model uses: it counts an event in
    the calendar quarter holding the middle of its period, for the quarters from the one holding
    ``coverage_start`` through the one holding ``coverage_end`` (or the as-of date). An event in
    another quarter is stored and listed like any other, but no fit counts it."""
    try:
        ind = case.indicator(obs.indicator)
    except KeyError:
        return None
    if ind.aggregation != "events" or ind.coverage_start is None:
        return None
    mid = obs.date + (obs.end - obs.date) / 2
    window = f"{ind.coverage_start.isoformat()} to {ind.coverage_end.isoformat() if ind.coverage_end else 'now'}"
    if _quarter(mid) < _quarter(ind.coverage_start):
        side = "before"
    elif ind.coverage_end is not None and _quarter(mid) > _quarter(ind.coverage_end):
        side = "after"
    else:
        return None
    when = obs.date.isoformat() + (f" to {obs.end.isoformat()}" if obs.end != obs.date else "")
    return f"{obs.indicator} on {when} is {side} its coverage ({window})"


def outside_coverage(case: Case, rows: Iterable[tuple[int, Mapping[str, Any]]]) -> list[tuple[int, str]]:
    """``(line, reason)`` for each row the model will not count because it lies outside its
    indicator's coverage (:func:`coverage_problem`); rows that do not validate are skipped (the
    import reports them)."""
    out = []
    for line, raw in rows:
        obs, _problems = validate_row(case, raw, allow_recorded_at=True)
        reason = coverage_problem(case, obs) if obs is not None else None
        if reason is not None:
            out.append((line, reason))
    return out


def coverage_summary(
    outside: list[tuple[int, str]], ids: Mapping[int, int] | None = None, *, limit: int = 20
) -> list[str]:
    """The lines that tell an importer which rows the model will not count: a headline, then one
    line per row (``line N (id M): reason``), at most ``limit`` of them. Empty when none."""
    if not outside:
        return []
    n = len(outside)
    head = (
        f"{n} row(s) lie outside their indicator's coverage: they are stored, but the model does not "
        "count them (widen coverage_start or coverage_end in the case file to count them)."
    )
    lines = [head]
    for line, reason in outside[:limit]:
        ident = f" (id {ids[line]})" if ids and line in ids else ""
        lines.append(f"line {line}{ident}: {reason}")
    if n > limit:
        lines.append(f"… and {n - limit} more.")
    return lines


def apply_changes(current: Observation, changes: Mapping[str, Any], case: Case) -> Observation:
    """The observation ``current`` with ``changes`` applied and re-validated (for corrections)."""
    allowed = set(COLUMNS) - {"recorded_at"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise BadInput(
            f"cannot change {', '.join(repr(u) for u in unknown)}; the fields that can be "
            f"corrected are {', '.join(sorted(allowed))}."
        )
    raw: dict[str, Any] = current.values()
    for key, val in changes.items():
        raw[key] = val
    if "date" in changes and "end" not in changes and current.end == current.date:
        raw["end"] = None  # a single-day observation moved to another day stays a single day
    obs, problems = validate_row(case, raw, allow_recorded_at=False)
    if obs is None:
        col, reason = problems[0]
        raise BadInput(f"correction, column '{col}': {reason}.")
    return replace(obs, recorded_at=None)


# --------------------------------------------------------------------------- CSV files


def read_csv_file(path: str | Path, *, max_bytes: int = MAX_IMPORT_BYTES) -> list[tuple[int, dict[str, str]]]:
    """Read an observation CSV file into ``(line number, row)`` pairs.

    File-level problems (missing, too large, empty, not UTF-8 text, bad header) raise
    :class:`BadInput` with one sentence naming the file. Rows are not validated here.
    """
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BadInput(f"{name}: the file does not exist.") from None
    if path.is_dir():
        raise BadInput(f"{name}: is a directory, not a CSV file.")
    if size > max_bytes:
        raise BadInput(
            f"{name}: the file is {size / 1e6:.1f} MB, above the import limit of "
            f"{max_bytes / 1024 / 1024:g} MB; split it into smaller files."
        )
    data = path.read_bytes()
    return parse_csv_bytes(data, where=name, max_bytes=max_bytes)


def parse_csv_bytes(data: bytes, *, where: str, max_bytes: int = MAX_IMPORT_BYTES) -> list[tuple[int, dict[str, str]]]:
    """Like :func:`read_csv_file` for content already in memory (e.g. a browser upload)."""
    if len(data) > max_bytes:
        raise BadInput(
            f"{where}: the file is {len(data) / 1e6:.1f} MB, above the import limit of "
            f"{max_bytes / 1024 / 1024:g} MB; split it into smaller files."
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise BadInput(
            f"{where}: the file is not UTF-8 text (it is UTF-16, as spreadsheets' 'Unicode text' "
            "export writes); save it as UTF-8 CSV."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(
            f"{where}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line} is not "
            "UTF-8; Latin-1 or Windows-1252 perhaps); save it as UTF-8 CSV."
        ) from None
    if "\x00" in text:
        raise BadInput(f"{where}: the file is not text (it contains NUL bytes); expected a UTF-8 CSV file.")
    if not text.strip():
        raise BadInput(f"{where}: the file is empty; expected a header line '{','.join(COLUMNS[:-1])}' and rows.")
    return parse_csv_text(text, where=where)


def parse_csv_text(text: str, *, where: str) -> list[tuple[int, dict[str, str]]]:
    # strict: a stray or unclosed quote is an error, never a field silently swallowing later rows
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, dict[str, str]]] = []
    bad_shape: list[tuple[int, str, str]] = []
    last = 0
    try:
        for fields in reader:
            start, last = last + 1, reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            if header is None:
                header, header_line = [f.strip() for f in fields], start
                _check_header(header, where, header_line)
                continue
            if len(fields) != len(header):
                bad_shape.append(
                    (start, "(row)", f"expected {len(header)} fields as in the header, found {len(fields)}")
                )
                continue
            rows.append((start, dict(zip(header, fields))))
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise BadInput(
                f"{where}:{last + 1}: a quoted field that starts on this line is never closed "
                "(a missing '\"'), so the rest of the file would be read as one field."
            ) from None
        raise BadInput(f"{where}:{reader.line_num}: not valid CSV ({exc}).") from None
    if header is None:
        raise BadInput(f"{where}: the file is empty; expected a header line and rows.")
    if bad_shape:
        raise RowErrors(where, bad_shape)
    if not rows:
        raise BadInput(f"{where}: the file has a header but no observations.")
    return rows


def _check_header(header: list[str], where: str, line: int) -> None:
    dupes = sorted({h for h in header if header.count(h) > 1})
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(
            f"unknown column(s) {', '.join(repr(_shown(u)) for u in unknown[:8])}"
            f"{' and more' if len(unknown) > 8 else ''}"
        )
    if dupes:
        problems.append(f"repeated column(s) {', '.join(dupes)}")
    if problems:
        raise BadInput(
            f"{where}:{line}: wrong header: {'; '.join(problems)} (expected "
            f"{','.join(COLUMNS[:-1])}, with end, reliability, credibility, note and "
            "recorded_at optional)."
        )
