"""CSV import through ``harbinger observe import``: good files add rows, bad files change nothing."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from indicators.errors import BadInput, RowErrors
from indicators.observations import MAX_IMPORT_BYTES, read_csv_file
from indicators.store import Store

from .conftest import MINI_HEADER, MINI_OBSERVATIONS

TOMORROW = (date.today() + timedelta(days=2)).isoformat()  # beyond today in every time zone


def _csv(*rows: str, header: str = MINI_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


GOOD = "exercises,2021-06-10,,1,TASS,B,2,Etorofu"

# (id, file content, exit code, fragments the error must contain)
BAD_FILES: list[tuple[str, str | bytes, list[str]]] = [
    (
        "unknown_indicator",
        _csv(GOOD, "missiles,2021-06-10,,1,TASS,B,2,"),
        ["line 3, column 'indicator'", "'missiles' is not an indicator of case 'mini'"],
    ),
    (
        "unparseable_date",
        _csv("exercises,10/06/2021,,1,TASS,B,2,"),
        ["line 2, column 'date'", "'10/06/2021' is not a date in the form YYYY-MM-DD"],
    ),
    (
        "impossible_date",
        _csv("exercises,2023-02-30,,1,TASS,B,2,"),
        ["line 2, column 'date'", "'2023-02-30' is not a real calendar date"],
    ),
    (
        "impossible_end",
        _csv("scrambles,2023-01-01,2023-13-01,4,MoD,B,2,"),
        ["line 2, column 'end'", "not a real calendar date"],
    ),
    (
        "end_before_date",
        _csv("scrambles,2021-04-01,2021-03-31,5,MoD,A,1,"),
        ["line 2, column 'end'", "the end 2021-03-31 is before the date 2021-04-01"],
    ),
    (
        "negative_count",
        _csv("scrambles,2020-04-01,2021-03-31,-3,MoD,A,1,"),
        ["line 2, column 'value'", "-3 is outside the valid range 0..∞ of 'scrambles' (count)"],
    ),
    (
        "non_integer_count",
        _csv("exercises,2021-06-10,,1.5,TASS,B,2,"),
        ["line 2, column 'value'", "1.5 is not a whole number"],
    ),
    (
        "proportion_above_one",
        _csv("trade_share,2021-01-01,2021-12-31,1.4,MOF,A,1,"),
        ["line 2, column 'value'", "1.4 is outside the valid range 0..0.2 of 'trade_share' (proportion)"],
    ),
    (
        "above_case_max",
        _csv("trade_share,2021-01-01,2021-12-31,0.5,MOF,A,1,"),
        ["line 2, column 'value'", "outside the valid range 0..0.2"],
    ),
    (
        "binary_two",
        _csv("summit_held,2021-01-01,2021-12-31,2,MOFA,A,1,"),
        ["line 2, column 'value'", "outside the valid range 0..1"],
    ),
    (
        "non_integer_ordinal",
        _csv("tone,2021-01-01,,0.5,MOFA,A,1,"),
        ["line 2, column 'value'", "0.5 is not a whole number, and 'tone' (ordinal)"],
    ),
    (
        "ordinal_above_levels",
        _csv("tone,2021-01-01,,3,MOFA,A,1,"),
        ["line 2, column 'value'", "3 is outside the valid range 0..2 of 'tone'"],
    ),
    (
        "text_in_number_column",
        _csv("budget,2021-01-01,2021-12-31,about five,MOD,A,1,"),
        ["line 2, column 'value'", "'about five' is not a number"],
    ),
    ("nan_value", _csv("budget,2021-01-01,2021-12-31,nan,MOD,A,1,"), ["line 2, column 'value'", "not a finite number"]),
    (
        "missing_value",
        _csv("budget,2021-01-01,2021-12-31,,MOD,A,1,"),
        ["line 2, column 'value'", "the value is missing"],
    ),
    ("missing_source", _csv("exercises,2021-06-10,,1,  ,B,2,"), ["line 2, column 'source'", "the source is missing"]),
    (
        "bad_reliability",
        _csv("exercises,2021-06-10,,1,TASS,G,2,"),
        ["line 2, column 'reliability'", "'G' is not a reliability grade; use one letter A-F"],
    ),
    (
        "bad_credibility",
        _csv("exercises,2021-06-10,,1,TASS,B,7,"),
        ["line 2, column 'credibility'", "'7' is not a credibility grade; use a whole number 1-6"],
    ),
    (
        "credibility_text",
        _csv("exercises,2021-06-10,,1,TASS,B,high,"),
        ["line 2, column 'credibility'", "'high' is not a credibility grade"],
    ),
    (
        "future_date",
        _csv(f"exercises,{TOMORROW},,1,TASS,B,2,"),
        ["line 2, column 'date'", f"{TOMORROW} is in the future"],
    ),
    (
        "future_end",
        _csv(f"scrambles,2021-04-01,{TOMORROW},1,TASS,B,2,"),
        ["line 2, column 'end'", f"{TOMORROW} is in the future"],
    ),
    (
        "future_recorded_at",
        _csv(f"exercises,2021-06-10,,1,TASS,B,2,,{TOMORROW}T00:00:00Z", header=MINI_HEADER + ",recorded_at"),
        ["line 2, column 'recorded_at'", "is in the future"],
    ),
    (
        "bad_recorded_at",
        _csv("exercises,2021-06-10,,1,TASS,B,2,,last week", header=MINI_HEADER + ",recorded_at"),
        ["line 2, column 'recorded_at'", "'last week' is not an ISO 8601 time"],
    ),
    (
        "duplicate_in_file",
        _csv(GOOD, "exercises,2021-06-11,,1,TASS,B,2,", "exercises,2021-06-10,,1,TASS,C,3,again"),
        ["line 4, column 'value'", "is already on line 2"],
    ),
    (
        "wrong_field_count",
        _csv(GOOD, "exercises,2021-06-10,1,TASS"),
        ["line 3", "expected 8 fields as in the header, found 4"],
    ),
    (
        "missing_columns",
        _csv("exercises,2021-06-10,1", header="indicator,date,value"),
        [":1: wrong header: missing column(s) source"],
    ),
    (
        "unknown_columns",
        _csv("exercises,2021-06-10,1,TASS,x", header="indicator,date,value,source,confidence"),
        [":1: wrong header", "unknown column(s) 'confidence'"],
    ),
    (
        "misspelt_header",
        _csv(GOOD, header="indicator,day,end,value,source,reliability,credibility,note"),
        ["missing column(s) date", "unknown column(s) 'day'"],
    ),
    (
        "repeated_column",
        _csv("exercises,2021-06-10,1,TASS,TASS", header="indicator,date,value,source,source"),
        ["repeated column(s) source"],
    ),
    (
        "no_header_at_all",
        "exercises,2021-06-10,,1,TASS,B,2,\n",
        ["wrong header", "missing column(s) indicator, date, value, source"],
    ),
    ("empty_file", b"", ["the file is empty"]),
    ("blank_file", "\n  \n\n", ["the file is empty"]),
    ("header_only", MINI_HEADER + "\n", ["the file has a header but no observations"]),
    (
        "latin1_file",
        _csv("exercises,2021-06-10,,1,Asahi Shimbun — Sakhalin,B,2,Itérup").encode("cp1252"),
        ["the file is not UTF-8 text"],
    ),
    ("binary_file", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", ["not UTF-8 text"]),
    ("nul_bytes", b"indicator,date,value,source\n\x00\x00\x00\n", ["not text (it contains NUL bytes)"]),
]


def _no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


@pytest.mark.parametrize("name,content,fragments", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_is_refused_with_a_clear_message_and_changes_nothing(
    store: Store, cli: Any, write_csv: Any, name: str, content: str | bytes, fragments: list[str]
) -> None:
    store.add_observations("mini", [{"indicator": "tone", "date": "2020-01-01", "value": 1, "source": "x"}], actor="t")
    before = store.snapshot()
    path = write_csv(content)
    result = cli("observe", "import", path)
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert str(path) in result.stderr  # names the file
    assert result.stdout == ""
    _no_traceback(result)
    assert store.snapshot() == before


def test_identical_to_stored_observation_is_refused_naming_the_id(store: Store, cli: Any, write_csv: Any) -> None:
    (oid,) = store.add_observations(
        "mini", [{"indicator": "exercises", "date": "2021-06-10", "value": 1, "source": "TASS"}], actor="t"
    )
    before = store.snapshot()
    result = cli("observe", "import", write_csv(_csv("exercises,2021-06-11,,1,TASS,B,2,", GOOD)))
    assert result.exit_code == 2
    assert f"line 3, column 'value': the same observation is already stored as id {oid}" in result.stderr
    assert store.snapshot() == before


def test_every_bad_row_is_reported(store: Store, cli: Any, write_csv: Any) -> None:
    before = store.snapshot()
    path = write_csv(_csv(GOOD, "exercises,2021-06-31,,1,TASS,B,2,", "tone,2021-01-01,,9,,Z,0,", GOOD))
    result = cli("observe", "import", path)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"{path}: 6 bad row(s); nothing was imported."
    assert [ln.split(":")[0].strip() for ln in lines[1:]] == [
        "line 3, column 'date'",
        "line 4, column 'value'",
        "line 4, column 'source'",
        "line 4, column 'reliability'",
        "line 4, column 'credibility'",
        "line 5, column 'value'",
    ]
    assert store.snapshot() == before


def test_file_above_the_size_limit_is_refused(store: Store, cli: Any, write_csv: Any) -> None:
    row = GOOD + "\n"
    content = MINI_HEADER + "\n" + row * (MAX_IMPORT_BYTES // len(row) + 1)
    path = write_csv(content)
    assert path.stat().st_size > MAX_IMPORT_BYTES
    before = store.snapshot()
    result = cli("observe", "import", path)
    assert result.exit_code == 2
    assert "above the import limit of 5 MB" in result.stderr
    assert store.snapshot() == before


def test_missing_file(store: Store, cli: Any, tmp_path: Path) -> None:
    result = cli("observe", "import", tmp_path / "nope.csv")
    assert result.exit_code == 2
    assert "nope.csv: the file does not exist." in result.stderr


def test_good_import_adds_rows(store: Store, cli: Any, write_csv: Any) -> None:
    content = (
        "\ufeff" + "note,value,indicator,date,source,credibility\r\n"  # BOM, CRLF, any column order
        '"FY2020, preliminary",725,scrambles,2020-04-01,"Japan MoD, Joint Staff",1\r\n'
        ",1,exercises,2021-06-10,TASS,\r\n"
        "\r\n"
        '"multi\nline note",0,tone,2022-03-21,MOFA,2\r\n'
    )
    path = write_csv(content)
    before = store.snapshot()
    result = cli("observe", "import", path)
    assert result.exit_code == 0, result.stderr
    assert "imported 3 observation(s)" in result.stdout
    df = store.observations("mini")
    assert len(df) == 3 and len(store.snapshot()["observations"]) == len(before["observations"]) + 3
    by = df.set_index("indicator")
    assert by.loc["scrambles", "source"] == "Japan MoD, Joint Staff"
    assert by.loc["scrambles", "note"] == "FY2020, preliminary"
    assert by.loc["scrambles", "end"] == pd.Timestamp("2020-04-01")
    assert (by.loc["exercises", "reliability"], by.loc["exercises", "credibility"]) == ("C", 3)
    assert by.loc["tone", "note"] == "multi\nline note"
    assert set(df["recorded_by"]) == {"tester"}  # HARBINGER_USER
    assert store.audit_log(limit=1)[0]["detail"]["file"] == str(path)


def test_recorded_at_back_fills_knowledge(store: Store, cli: Any) -> None:
    result = cli("observe", "import", MINI_OBSERVATIONS)
    assert result.exit_code == 0, result.stderr
    df = store.observations("mini")
    assert len(df) == 5
    assert df.set_index("note").loc["FY2020", "recorded_at"] == pd.Timestamp("2021-04-09T06:00:00Z")
    assert len(store.observations("mini", as_of=date(2021, 4, 8))) == 2  # FY2019 scrambles, 2019 summit
    assert len(store.observations("mini", as_of=date(2021, 4, 9))) == 3  # + FY2020 scrambles, learned that day
    assert len(store.observations("mini", as_of=date(2021, 6, 11))) == 4  # + the June exercise


def test_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(MINI_HEADER + '\nexercises,2021-01-01,,1,"a\nb",B,2,\n\nexercises,2021-01-02,,1,c,B,2,\n')
    assert [line for line, _ in read_csv_file(path)] == [2, 5]


def test_row_errors_are_bad_input() -> None:
    err = RowErrors("f.csv", [(3, "value", "bad")])
    assert isinstance(err, BadInput)
    assert str(err).splitlines() == ["f.csv: 1 bad row(s); nothing was imported.", "  line 3, column 'value': bad"]
