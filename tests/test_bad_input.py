"""A corpus of bad inputs: each one refused with one clear message naming the place and the reason,
and the store's full contents (every table) unchanged.

The corpus is generated here, in code, so every case says what it is:

- observation CSV files (wrong encodings, a spreadsheet's formula cells, huge values, NaN and
  infinity, 5,000 good rows with one bad row at the end, an oversize file, wrong columns, an empty
  file, binary junk, ...), each through ``harbinger observe import`` and through the dashboard's
  upload callback;
- form entries, each through ``harbinger observe add``, the dashboard's add form callback and
  ``POST /api/observations``;
- case files through ``harbinger init --case-file``;
- command-line arguments (text that would drive a terminal, bytes that are not UTF-8);
- JSON values of the wrong type, NUL bytes, lone surrogates and huge notes through
  ``POST /api/observations``.

No message may carry a control character of the input back to the terminal.

Each test starts from the same store: the mini case with its five observations (ids 1-5).
"""

from __future__ import annotations

import base64
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from indicators.text import unsafe
from tests.conftest import MINI_CASE, MINI_OBSERVATIONS
from tests.dashboard_support import plain, text_of

HEADER = "indicator,date,value,source\n"
TOMORROW = (date.today() + timedelta(days=2)).isoformat()
MAX_LINES = 8  # a message, or an import's headline and one line per bad row; never a traceback


def _rows(*lines: str) -> bytes:
    return (HEADER + "".join(line + "\n" for line in lines)).encode("utf-8")


def _good_rows(n: int) -> list[str]:
    return [f"budget,2020-01-{1 + i % 28:02d},{i / 10:.1f},bulk source {i}" for i in range(n)]


def _binary_junk() -> bytes:
    rng = random.Random(8)
    return bytes(rng.randrange(256) for _ in range(4096))


def _oversize() -> bytes:
    line = "budget,2020-01-01,1.5,a source long enough to fill the file quickly " + "x" * 60 + "\n"
    return (HEADER + line * (5 * 1024 * 1024 // len(line) + 10)).encode("utf-8")


@dataclass
class Bad:
    """One bad input: what it is, and what its message must name (place and reason)."""

    name: str
    content: bytes | str | Callable[[], bytes] = b""
    place: list[str] = field(default_factory=list)
    reason: str = ""

    def data(self) -> bytes:
        c = self.content() if callable(self.content) else self.content
        return c.encode("utf-8") if isinstance(c, str) else c


# ---------------------------------------------------------------------------- CSV files

CSV_FILES = [
    Bad("empty_file", b"", [], "the file is empty"),
    Bad("only_blank_lines", b"\n  \n\r\n", [], "the file is empty"),
    Bad("header_only", HEADER, [], "has a header but no observations"),
    Bad("utf16_with_bom", (HEADER + "budget,2020-01-01,1.5,Kommersant\n").encode("utf-16"), [], "it is UTF-16"),
    Bad("utf16_without_bom", (HEADER + "budget,2020-01-01,1.5,Asahi\n").encode("utf-16-le"), [], "not text"),
    Bad(
        "latin1_accents",
        (HEADER + "budget,2020-01-01,1.5,Le Monde diplomatique, édition\n").encode("latin-1"),
        ["line 2"],
        "byte 0xe9 on line 2 is not UTF-8",
    ),
    Bad(
        "cp1252_smart_quotes",
        (HEADER + "budget,2020-01-01,1.5,“Izvestia”\n").encode("cp1252"),
        ["line 2"],
        "not UTF-8 text",
    ),
    Bad("binary_junk", _binary_junk, [], "not UTF-8 text"),
    Bad(
        "xlsx_workbook",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(128, 256)) * 8,
        [],
        "not UTF-8 text",
    ),
    Bad("nul_bytes_in_text", _rows("budget,2020-01-01,1.5,Asahi\x00Shimbun"), [], "NUL bytes"),
    Bad("oversize_file", _oversize, [], "above the import limit of 5 MB"),
    Bad(
        "wrong_columns",
        "name,when,amount,reference\nscrambles,2020-01-01,3,MoD\n",
        ["wrong header"],
        "missing column(s) indicator, date, value, source",
    ),
    Bad(
        "missing_source_column",
        "indicator,date,value\nbudget,2020-01-01,1.5\n",
        ["wrong header"],
        "missing column(s) source",
    ),
    Bad(
        "repeated_column",
        "indicator,date,value,source,value\nbudget,2020-01-01,1.5,x,2\n",
        ["wrong header"],
        "repeated column(s) value",
    ),
    Bad(
        "semicolon_separated",
        "indicator;date;value;source\nbudget;2020-01-01;1,5;Asahi\n",
        ["wrong header"],
        "unknown column(s)",
    ),
    Bad(
        "html_page",
        "<!DOCTYPE html>\n<html><body><table><tr><td>budget</td></tr></table></body></html>\n",
        ["wrong header"],
        "missing column(s)",
    ),
    Bad("case_file_instead_of_csv", lambda: MINI_CASE.read_bytes(), ["wrong header"], "missing column(s)"),
    Bad(
        "formula_in_value",
        _rows('exercises,2021-06-01,"=SUM(C2:C9)",MoD'),
        ["line 2", "column 'value'"],
        "'=SUM(C2:C9)' is not a number",
    ),
    Bad(
        "formula_in_date",
        _rows('exercises,"=DATE(2021,6,1)",1,MoD'),
        ["line 2", "column 'date'"],
        "is not a date in the form YYYY-MM-DD",
    ),
    Bad(
        "formula_in_indicator",
        _rows('"=HYPERLINK(""http://x.example"",""go"")",2021-06-01,1,MoD'),
        ["line 2", "column 'indicator'"],
        "is not an indicator of case 'mini'",
    ),
    Bad(
        "formula_in_credibility",
        "indicator,date,value,source,credibility\nexercises,2021-06-01,1,MoD,=1+2\n",
        ["line 2", "column 'credibility'"],
        "is not a credibility grade",
    ),
    Bad(
        "huge_value_overflows",
        _rows("budget,2020-01-01,1e400,MoD"),
        ["line 2", "column 'value'"],
        "is not a finite number",
    ),
    Bad(
        "huge_value_400_digits",
        _rows("budget,2020-01-01," + "9" * 400 + ",MoD"),
        ["line 2", "column 'value'"],
        "is not a finite number",
    ),
    Bad(
        "huge_value_out_of_range",
        _rows("trade_share,2020-01-01,1e12,MoD"),
        ["line 2", "column 'value'"],
        "outside the valid range",
    ),
    Bad(
        "huge_text_as_indicator",
        _rows("x" * 20000 + ",2020-01-01,1,MoD"),
        ["line 2", "column 'indicator'"],
        "is not an indicator",
    ),
    Bad("nan_value", _rows("budget,2020-01-01,NaN,MoD"), ["line 2", "column 'value'"], "nan is not a finite number"),
    Bad(
        "infinite_value",
        _rows("budget,2020-01-01,-inf,MoD"),
        ["line 2", "column 'value'"],
        "-inf is not a finite number",
    ),
    Bad(
        "thousands_of_rows_one_bad_at_the_end",
        lambda: _rows(*_good_rows(5000), "budget,2021-02-30,1.0,MoD"),
        ["line 5002", "column 'date'"],
        "'2021-02-30' is not a real calendar date",
    ),
    Bad(
        "ragged_row",
        _rows("budget,2020-01-01,1.5,MoD", "budget,2020-01-02,1.5,MoD,extra"),
        ["line 3"],
        "expected 4 fields",
    ),
    Bad("unclosed_quote", _rows('budget,2020-01-01,1.5,"Asahi', "budget,2020-01-02,1.5,MoD"), ["2"], "never closed"),
    Bad("stray_quote", _rows('budget,2020-01-01,1.5,"Asahi"Shimbun'), ["2"], "not valid CSV"),
    Bad("future_date", _rows(f"exercises,{TOMORROW},1,MoD"), ["line 2", "column 'date'"], "is in the future"),
    Bad(
        "end_before_date",
        "indicator,date,end,value,source\nscrambles,2021-03-31,2020-04-01,5,MoD\n",
        ["line 2", "column 'end'"],
        "is before the date",
    ),
    Bad(
        "bad_grades",
        "indicator,date,value,source,reliability,credibility\nexercises,2021-06-01,1,MoD,Z,9\n",
        ["line 2", "column 'reliability'"],
        "is not a reliability grade",
    ),
    Bad(
        "duplicate_rows",
        _rows("budget,2020-01-01,1.5,MoD", "budget,2020-01-01,1.5,MoD"),
        ["line 3"],
        "already on line 2",
    ),
    Bad(
        "duplicate_of_a_stored_observation", lambda: MINI_OBSERVATIONS.read_bytes(), ["line 2"], "already stored as id"
    ),
    Bad(
        "negative_count", _rows("exercises,2021-06-01,-3,MoD"), ["line 2", "column 'value'"], "outside the valid range"
    ),
    Bad(
        "fractional_count", _rows("exercises,2021-06-01,2.5,MoD"), ["line 2", "column 'value'"], "is not a whole number"
    ),
    Bad(
        "day_month_year_dates",
        _rows("exercises,10/06/2021,1,MoD"),
        ["line 2", "column 'date'"],
        "'10/06/2021' is not a date in the form YYYY-MM-DD",
    ),
    Bad(
        "thousands_separator",
        _rows('scrambles,2021-01-01,"1,000",MoD'),
        ["line 2", "column 'value'"],
        "'1,000' is not a number",
    ),
    Bad("empty_source", _rows("exercises,2021-06-01,1,  "), ["line 2", "column 'source'"], "the source is missing"),
    Bad(
        "recorded_in_the_future",
        "indicator,date,value,source,recorded_at\nexercises,2021-06-01,1,MoD,2999-01-01\n",
        ["line 2", "column 'recorded_at'"],
        "is in the future",
    ),
    Bad(
        "date_in_year_1",
        _rows("exercises,0001-01-01,1,MoD"),
        ["line 2", "column 'date'"],
        "0001-01-01 is before the case starts (2015-01-01)",
    ),
    Bad(
        "date_before_the_case_starts",
        _rows("exercises,2014-12-31,1,MoD"),
        ["line 2", "column 'date'"],
        "2014-12-31 is before the case starts (2015-01-01)",
    ),
    Bad(
        "end_in_year_1_date_bad",
        "indicator,date,end,value,source\nexercises,soon,0001-01-01,1,MoD\n",
        ["line 2", "column 'end'"],
        "0001-01-01 is before the case starts",
    ),
    Bad(
        "recorded_in_year_1",
        "indicator,date,value,source,recorded_at\nexercises,2021-06-01,1,MoD,0001-01-01\n",
        ["line 2", "column 'recorded_at'"],
        "0001-01-01T00:00:00Z is before the case starts",
    ),
    Bad(
        "recorded_before_year_1_in_utc",
        "indicator,date,value,source,recorded_at\nexercises,2021-06-01,1,MoD,0001-01-01T00:00:00+05:00\n",
        ["line 2", "column 'recorded_at'"],
        "is outside the years 1-9999 in UTC",
    ),
    Bad(
        "terminal_escapes_in_source",
        _rows('exercises,2021-06-01,1,"ctl\x1b]0;pwned\x07\x1b[2J"'),
        ["line 2", "column 'source'"],
        "the source contains the control character U+001B (ESCAPE)",
    ),
    Bad(
        "c1_control_in_note",
        "indicator,date,value,source,note\nexercises,2021-06-01,1,MoD,a\x9b2Jb\n",
        ["line 2", "column 'note'"],
        "the note contains the control character U+009B",
    ),
    Bad(
        "bidi_override_in_source",
        _rows("exercises,2021-06-01,1,Mo\u202eD fo\u202c"),
        ["line 2", "column 'source'"],
        "contains the bidirectional-text control U+202E (RIGHT-TO-LEFT OVERRIDE)",
    ),
    Bad(
        "bidi_isolate_in_note",
        "indicator,date,value,source,note\nexercises,2021-06-01,1,MoD,\u2067x\u2069\n",
        ["line 2", "column 'note'"],
        "U+2067",
    ),
    Bad(
        "invisible_source",
        _rows("exercises,2021-06-01,1,\u200b\u2060\ufeff\u3164"),
        ["line 2", "column 'source'"],
        "has no visible characters",
    ),
    Bad(
        "line_break_in_source",
        _rows('exercises,2021-06-01,1,"Mo\nD"'),
        ["line 2", "column 'source'"],
        "line separator U+000A",
    ),
    Bad(
        "overlong_source",
        _rows("exercises,2021-06-01,1," + "s" * 2001),
        ["line 2", "column 'source'"],
        "is 2,001 characters long, above the limit of 2,000",
    ),
    Bad(
        "overlong_note",
        "indicator,date,value,source,note\nexercises,2021-06-01,1,MoD," + "n" * 10_001 + "\n",
        ["line 2", "column 'note'"],
        "above the limit of 10,000",
    ),
    Bad(
        "escape_in_indicator",
        _rows("exer\x1b[2Jcises,2021-06-01,1,MoD"),
        ["line 2", "column 'indicator'"],
        "the indicator contains the control character U+001B",
    ),
]

# ---------------------------------------------------------------------------- form entries

GOOD_FORM = {
    "indicator": "exercises",
    "date": "2021-06-01",
    "end": None,
    "value": "1",
    "source": "MoD",
    "reliability": None,
    "credibility": None,
    "note": None,
}


@dataclass
class BadForm:
    name: str
    changes: dict[str, Any]
    column: str
    reason: str


FORM_ENTRIES = [
    BadForm("unknown_indicator", {"indicator": "nope"}, "indicator", "'nope' is not an indicator of case 'mini'"),
    BadForm("impossible_date", {"date": "2021-13-01"}, "date", "is not a real calendar date"),
    BadForm("word_as_value", {"value": "three"}, "value", "'three' is not a number"),
    BadForm("formula_as_value", {"value": "=1+1"}, "value", "'=1+1' is not a number"),
    BadForm("nan_as_value", {"value": "nan"}, "value", "is not a finite number"),
    BadForm("huge_value", {"value": "1e999"}, "value", "is not a finite number"),
    BadForm("huge_out_of_range", {"indicator": "tone", "value": "1e300"}, "value", "outside the valid range"),
    BadForm("blank_source", {"source": "   "}, "source", "the source is missing"),
    BadForm("bad_reliability", {"reliability": "G"}, "reliability", "is not a reliability grade"),
    BadForm("bad_credibility", {"credibility": "0"}, "credibility", "is not a credibility grade"),
    BadForm("end_before_date", {"end": "2021-05-01"}, "end", "is before the date"),
    BadForm("future_date", {"date": TOMORROW}, "date", "is in the future"),
    BadForm("thousands_separator", {"value": "1,000"}, "value", "'1,000' is not a number"),
    BadForm("date_in_year_1", {"date": "0001-01-01"}, "date", "0001-01-01 is before the case starts (2015-01-01)"),
    BadForm("end_in_year_1", {"date": "0001-01-01", "end": "0001-01-02"}, "date", "is before the case starts"),
    BadForm(
        "terminal_escapes_in_source",
        {"source": "ctl\x1b]0;pwned\x07\x1b[2J"},
        "source",
        "contains the control character U+001B (ESCAPE)",
    ),
    BadForm("nul_in_source", {"source": "Asahi\x00Shimbun"}, "source", "contains a NUL byte"),
    BadForm("tab_in_source", {"source": "Asahi\tShimbun"}, "source", "control character U+0009"),
    BadForm("c1_in_note", {"note": "see \x9d0;x\x9c"}, "note", "control character U+009D"),
    BadForm("bell_in_note", {"note": "ding\x07"}, "note", "control character U+0007"),
    BadForm("bidi_in_note", {"note": "price \u202e0001\u202c"}, "note", "bidirectional-text control U+202E"),
    BadForm("zero_width_source", {"source": "\u200b\u200c\u200d"}, "source", "has no visible characters"),
    BadForm("zero_width_note", {"note": "\u2060\u00a0\u200b"}, "note", "has no visible characters"),
    BadForm("overlong_note", {"note": "n" * 10_001}, "note", "above the limit of 10,000"),
    BadForm("overlong_source", {"source": "s" * 2_001}, "source", "above the limit of 2,000"),
]

FORM_OPTION = {
    "indicator": "--indicator",
    "date": "--date",
    "end": "--end",
    "value": "--value",
    "source": "--source",
    "reliability": "--reliability",
    "credibility": "--credibility",
    "note": "--note",
}
FORM_LABEL = {
    "indicator": "Indicator",
    "date": "Date",
    "end": "End date",
    "value": "Value",
    "source": "Source",
    "reliability": "Reliability",
    "credibility": "Credibility",
    "note": "Note",
}

# ---------------------------------------------------------------------------- case files

CASE_TEXT = MINI_CASE.read_text(encoding="utf-8")
CASE_FILES = [
    Bad("yaml_syntax_error", "id: broken\nname: [unclosed\n", [], "not valid YAML"),
    Bad("empty_case_file", "", [], "expected a mapping of case fields"),
    Bad("list_instead_of_mapping", "- id: x\n- name: y\n", [], "expected a mapping of case fields"),
    Bad(
        "unknown_factor_in_loadings",
        CASE_TEXT.replace(
            "loadings: {pressure: positive}\n  - id: exercises", "loadings: {presure: positive}\n  - id: exercises"
        ),
        ["field"],
        "presure",
    ),
    Bad("wrong_type_for_horizons", CASE_TEXT.replace("horizons: [1, 5]", "horizons: soon"), ["horizons"], ""),
    Bad("python_object_tag", "!!python/object/apply:os.system ['echo owned > owned.txt']\n", [], "not valid YAML"),
    Bad("utf16_case_file", CASE_TEXT.encode("utf-16"), [], "is not UTF-8 text"),
    Bad("csv_as_case_file", lambda: MINI_OBSERVATIONS.read_bytes(), [], "expected a mapping of case fields"),
    Bad("binary_case_file", _binary_junk, [], "is not UTF-8 text"),
]

# ---------------------------------------------------------------------------- command-line arguments

CLI_ARGUMENTS = [
    ("as_of_not_a_date", ["observe", "list", "--as-of", "2021-13-01"], "--as-of", "not a real calendar date"),
    ("as_of_in_words", ["observe", "list", "--as-of", "yesterday"], "--as-of", "is not a date in the form"),
    (
        "unknown_indicator_filter",
        ["observe", "list", "--indicator", "nope"],
        "--indicator",
        "'nope' is not an indicator",
    ),
    (
        "retract_unknown_id",
        ["observe", "retract", "999999", "--reason", "typo"],
        "999999",
        "there is no observation with id",
    ),
    ("retract_without_reason", ["observe", "retract", "3", "--reason", "  "], "retraction", "needs a reason"),
    ("retract_non_numeric_id", ["observe", "retract", "three", "--reason", "typo"], "ID", "is not a valid integer"),
    ("unknown_case", ["--case", "nope", "observe", "list"], "--case", "unknown case 'nope'"),
    (
        "correct_without_changes",
        ["observe", "correct", "3", "--reason", "r"],
        "observe correct",
        "give at least one new value",
    ),
    (
        "correct_out_of_range",
        ["observe", "correct", "3", "--value", "-5", "--reason", "r"],
        "column 'value'",
        "outside the valid range",
    ),
    ("unknown_output_format", ["observe", "list", "--format", "xml"], "--format", "'xml' is not one of"),
    ("zero_draws", ["fit", "--draws", "0"], "--draws", "is not in the range"),
    (
        "missing_required_option",
        ["observe", "add", "--indicator", "exercises", "--value", "1", "--source", "x"],
        "--date",
        "Missing option",
    ),
    ("missing_import_file_argument", ["observe", "import"], "FILE", "Missing argument"),
    ("import_missing_file", ["observe", "import", "/nonexistent/obs.csv"], "/nonexistent/obs.csv", "does not exist"),
    ("import_a_directory", ["observe", "import", "/tmp"], "/tmp", "is a directory"),
    (
        "user_name_with_spaces",
        ["user", "add", "bad name!", "--role", "editor", "--password-stdin"],
        "user name 'bad name!'",
        "is not allowed",
    ),
    ("user_unknown_role", ["user", "add", "ann", "--role", "admin"], "--role", "'admin' is not one of"),
    ("user_short_password", ["user", "add", "ann", "--role", "editor", "--password-stdin"], "password", "too short"),
    ("user_remove_unknown", ["user", "remove", "nobody"], "'nobody'", "there is no active user"),
    (
        "serve_exposed_without_editor",
        ["serve", "--host", "0.0.0.0", "--port", "1"],
        "--host",
        "no editor account exists",
    ),
    # bytes that are not UTF-8 reach Python as lone surrogates ('\udcff' for the byte 0xff)
    (
        "non_utf8_source",
        ["observe", "add", "--indicator", "exercises", "--date", "2021-06-01", "--value", "1", "--source", "\udcff"],
        "--source",
        "is not UTF-8 text (byte 0xff",
    ),
    (
        "non_utf8_in_option_equals",
        ["observe", "add", "--indicator", "exercises", "--date", "2021-06-01", "--value", "1", "--source=Asahi\udce9"],
        "--source",
        "byte 0xe9",
    ),
    ("non_utf8_file_name", ["observe", "import", "caf\udce9.csv"], "argument 3", "is not UTF-8 text"),
    ("non_utf8_case", ["--case", "\udcc3\udca9", "observe", "list"], "--case", "byte 0xc3"),
    (
        "retract_reason_with_escapes",
        ["observe", "retract", "3", "--reason", "typo\x1b[2J\x1b]0;x\x07"],
        "retraction's reason",
        "control character U+001B",
    ),
    (
        "retract_reason_invisible",
        ["observe", "retract", "3", "--reason", "\u200b\u200b"],
        "retraction's reason",
        "has no visible characters",
    ),
    (
        "correct_reason_too_long",
        ["observe", "correct", "3", "--value", "2", "--reason", "r" * 2001],
        "correction's reason",
        "above the limit of 2,000",
    ),
    (
        "correct_note_with_bidi",
        ["observe", "correct", "3", "--note", "\u202eevil", "--reason", "r"],
        "column 'note'",
        "U+202E",
    ),
    (
        "correct_date_in_year_1",
        ["observe", "correct", "3", "--date", "0001-01-01", "--reason", "r"],
        "column 'date'",
        "before the case starts",
    ),
]
CLI_STDIN = {"user_name_with_spaces": "a long enough password\n", "user_short_password": "short\n"}


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file with the mini case and its five observations, copied into each test's home."""
    from indicators.case import load_case
    from indicators.store import Store

    path = tmp_path_factory.mktemp("template") / "harbinger.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.load_case(load_case(MINI_CASE))
    store.import_csv("mini", MINI_OBSERVATIONS, actor="harbinger init")
    store.close()
    return path


@pytest.fixture(scope="module")
def app_pages(tmp_path_factory: pytest.TempPathFactory, template: Path) -> Any:
    """The dashboard (pages registered, API on its Flask server), built once for the module."""
    from dashboard.services import views
    from dashboard.web import app as shell

    home = tmp_path_factory.mktemp("app") / "home"
    home.mkdir()
    shutil.copy(template, home / "harbinger.db")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARBINGER_HOME", str(home))
        mp.delenv("HARBINGER_DATABASE_URL", raising=False)
        views.forget_stores()
        app = shell.create_app("mini", host="127.0.0.1")
        views.forget_stores()
    return SimpleNamespace(app=app, ind=sys.modules["dashboard.web.pages.indicators"])


@pytest.fixture
def store(harbinger_home: Path, template: Path) -> Any:
    """This test's store (a copy of the template), and its contents before the test."""
    from dashboard.services import views

    harbinger_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, harbinger_home / "harbinger.db")
    views.forget_stores()
    s = views.get_store()
    yield s
    views.forget_stores()


def check_cli_refusal(result: Any, *names: str) -> str:
    """Exit 2, a short message on stderr naming every string in ``names``; returns stderr."""
    err = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.stdout, err)
    assert "Traceback" not in err and "unexpected error" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert 1 <= len(lines) <= MAX_LINES, err
    assert not any(unsafe(ch, multiline=True) for ch in err), f"a control character reached the terminal: {err!r}"
    assert len(err) < 1500, f"message of {len(err)} characters"
    for name in names:
        assert name in err, f"{name!r} not in {err!r}"
    return err


# ---------------------------------------------------------------------------- tests


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CSV_FILES) + len(FORM_ENTRIES) + len(CASE_FILES) + len(CLI_ARGUMENTS) >= 30
    assert len({b.name for b in CSV_FILES}) == len(CSV_FILES)
    assert len(_oversize()) > 5 * 1024 * 1024


@pytest.mark.parametrize("bad", CSV_FILES, ids=lambda b: b.name)
def test_bad_csv_through_the_command_line(bad: Bad, store: Any, cli: Any, tmp_path: Path) -> None:
    path = tmp_path / f"{bad.name}.csv"
    path.write_bytes(bad.data())
    before = store.snapshot()
    result = cli("observe", "import", path)
    check_cli_refusal(result, f"{bad.name}.csv", *bad.place, bad.reason)
    assert store.snapshot() == before


@pytest.mark.parametrize("bad", CSV_FILES, ids=lambda b: b.name)
def test_bad_csv_through_the_dashboard_upload(bad: Bad, store: Any, app_pages: Any) -> None:
    contents = "data:text/csv;base64," + base64.b64encode(bad.data()).decode("ascii")
    filename = f"{bad.name}.csv"
    before = store.snapshot()
    with app_pages.app.server.test_request_context(
        "/_dash-update-component", method="POST", base_url="http://127.0.0.1:8050"
    ):
        message, _version, cleared = plain(app_pages.ind.upload_csv)(contents, filename, "mini", 3)
    text = text_of(message)
    assert "notice-alert" in message.className
    assert "Nothing was imported" in text or "nothing was imported" in text
    for name in (filename, *bad.place, bad.reason):
        assert name in text, f"{name!r} not in {text[:500]!r}"
    assert len(text) < 1500
    assert cleared is None
    assert store.snapshot() == before


@pytest.mark.parametrize("bad", FORM_ENTRIES, ids=lambda b: b.name)
def test_bad_form_entry_through_the_command_line(bad: BadForm, store: Any, cli: Any) -> None:
    fields = {**GOOD_FORM, **bad.changes}
    args = ["observe", "add"]
    for key, value in fields.items():
        if value is not None:
            args += [FORM_OPTION[key], value]
    before = store.snapshot()
    check_cli_refusal(cli(*args), "observation not added", FORM_OPTION[bad.column], bad.reason)
    assert store.snapshot() == before


@pytest.mark.parametrize("bad", FORM_ENTRIES, ids=lambda b: b.name)
def test_bad_form_entry_through_the_dashboard_form(bad: BadForm, store: Any, app_pages: Any) -> None:
    fields = {**GOOD_FORM, **bad.changes}
    keys = ["indicator", "date", "end", "value", "source", "reliability", "credibility", "note"]
    before = store.snapshot()
    with app_pages.app.server.test_request_context(
        "/_dash-update-component", method="POST", base_url="http://127.0.0.1:8050"
    ):
        message, _version = plain(app_pages.ind.add_observation)(1, *[fields[k] for k in keys], "mini", 3)
    text = text_of(message)
    assert "Observation not added" in text
    assert f"{FORM_LABEL[bad.column]}: " in text and bad.reason in text, text
    assert store.snapshot() == before


@pytest.mark.parametrize("bad", FORM_ENTRIES, ids=lambda b: b.name)
def test_bad_form_entry_through_the_http_api(bad: BadForm, store: Any, app_pages: Any) -> None:
    row = {k: v for k, v in {**GOOD_FORM, **bad.changes}.items() if v is not None}
    before = store.snapshot()
    resp = app_pages.app.server.test_client().post("/api/observations", json=row, base_url="http://127.0.0.1:8050")
    assert resp.status_code == 400, resp.get_data(as_text=True)
    body = resp.get_json()
    assert "request: 1 bad row(s); nothing was imported." in body["error"]
    assert any(e["row"] == 1 and e["column"] == bad.column and bad.reason in e["reason"] for e in body["errors"]), body
    assert store.snapshot() == before


def test_bad_json_bodies_through_the_http_api(store: Any, app_pages: Any) -> None:
    client = app_pages.app.server.test_client()
    before = store.snapshot()
    cases = [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b'"just a string"', "application/json", 400, "must be an observation object"),
        (b"[1, 2]", "application/json", 400, "item 1 of the request is not an object"),
        (b"[]", "application/json", 400, "there are no observations to add"),
        (HEADER.encode() + b"budget,2020-01-01,1,x\n", "text/csv", 415, "send the observations as JSON"),
        (
            b'{"indicator": "budget", "date": "2020-01-01", "value": NaN, "source": "x"}',
            "application/json",
            400,
            "NaN is not a JSON number",
        ),
        (
            b'{"indicator": "budget", "date": "2020-01-01", "value": 1e999, "source": "x"}',
            "application/json",
            400,
            "inf is not a finite number",
        ),
        (b"\xff\xfe{\x00", "application/json", 400, "not valid JSON"),
    ]
    for body, ctype, status, reason in cases:
        resp = client.post("/api/observations", data=body, content_type=ctype, base_url="http://127.0.0.1:8050")
        assert resp.status_code == status, (body[:40], resp.get_data(as_text=True))
        data = resp.get_json()
        assert reason in data["error"] or any(reason in e["reason"] for e in data.get("errors", [])), data
    big = (
        b"["
        + b",".join([b'{"indicator":"budget","date":"2020-01-01","value":1,"source":"%d"}' % i for i in range(90000)])
        + b"]"
    )
    resp = client.post("/api/observations", data=big, content_type="application/json", base_url="http://127.0.0.1:8050")
    assert resp.status_code == 413 and "above the limit of 5 MB" in resp.get_json()["error"]
    assert store.snapshot() == before


API_VALUES = [  # (JSON fields over a good row, column, reason)
    ('"value": true', "value", "a boolean (true) is not a number"),
    ('"value": false', "value", "a boolean (false) is not a number"),
    ('"value": [1]', "value", "a list is not a number"),
    ('"value": {"n": 1}', "value", "an object is not a number"),
    ('"source": {"a": 1}', "source", "an object is not text"),
    ('"source": ["MoD"]', "source", "a list is not text"),
    ('"source": 42', "source", "a number (42) is not text"),
    ('"source": true', "source", "a boolean (true) is not text"),
    ('"note": {"a": 1}', "note", "an object is not text"),
    ('"indicator": ["exercises"]', "indicator", "a list is not an indicator id"),
    ('"date": 20210601', "date", "a number (20210601) is not a date"),
    ('"date": "0001-01-01"', "date", "before the case starts (2015-01-01)"),
    ('"recorded_at": "0001-01-01T00:00:00Z"', "recorded_at", "before the case starts"),
    ('"credibility": true', "credibility", "a boolean (true) is not a credibility grade"),
    ('"reliability": 1', "reliability", "a number (1) is not a reliability grade"),
    ('"source": "Asahi\\u0000Shimbun"', "source", "contains a NUL byte"),
    ('"note": "a\\u0000b"', "note", "contains a NUL byte"),
    ('"indicator": "exer\\u0000cises"', "indicator", "contains a NUL byte"),
    ('"source": "\\udcff"', "source", "is not valid UTF-8 text"),
    ('"source": "ctl\\u001b]0;pwned\\u0007\\u001b[2J"', "source", "control character U+001B"),
    ('"source": "\\u202eDoM"', "source", "U+202E"),
    ('"source": "\\u200b"', "source", "has no visible characters"),
    ('"note": "' + "n" * 1_000_000 + '"', "note", "1,000,000 characters long, above the limit of 10,000"),
]


@pytest.mark.parametrize("fields,column,reason", API_VALUES, ids=[v[0][:40] for v in API_VALUES])
def test_wrong_json_values_through_the_http_api(
    fields: str, column: str, reason: str, store: Any, app_pages: Any
) -> None:
    good = '"indicator": "exercises", "date": "2021-06-01", "value": 1, "source": "MoD"'
    key = fields.split(":", 1)[0]
    body = "{" + ", ".join([f for f in good.split(", ") if not f.startswith(key)] + [fields]) + "}"
    before = store.snapshot()
    resp = app_pages.app.server.test_client().post(
        "/api/observations",
        data=body.encode("utf-8"),
        content_type="application/json",
        base_url="http://127.0.0.1:8050",
    )
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    data = resp.get_json()
    assert any(e["row"] == 1 and e["column"] == column and reason in e["reason"] for e in data["errors"]), data
    assert len(data["errors"]) == 1 and len(resp.get_data()) < 1500
    assert store.snapshot() == before


@pytest.mark.parametrize("bad", CASE_FILES, ids=lambda b: b.name)
def test_bad_case_file_through_the_command_line(bad: Bad, store: Any, cli: Any, tmp_path: Path) -> None:
    path = tmp_path / f"{bad.name}.yaml"
    path.write_bytes(bad.data())
    before = store.snapshot()
    result = cli("init", "--case-file", path)
    check_cli_refusal(result, f"{bad.name}.yaml", *bad.place, bad.reason)
    assert store.snapshot() == before
    assert not (tmp_path / "owned.txt").exists() and not Path("owned.txt").exists()


@pytest.mark.parametrize("name,args,place,reason", CLI_ARGUMENTS, ids=[c[0] for c in CLI_ARGUMENTS])
def test_bad_command_line_arguments(name: str, args: list[str], place: str, reason: str, store: Any, cli: Any) -> None:
    before = store.snapshot()
    result = cli(*args, input=CLI_STDIN.get(name))
    check_cli_refusal(result, place, reason)
    assert store.snapshot() == before
