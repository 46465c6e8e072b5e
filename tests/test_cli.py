"""The ``harbinger`` command line: init, observe add/list/retract/correct, errors and formats."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from indicators.store import OBSERVATION_COLUMNS, Store
from tests.clock import fixed_clock

from .conftest import MINI_CASE, MINI_OBSERVATIONS

INIT_MINI = ("init", "--case-file", MINI_CASE, "--observations", MINI_OBSERVATIONS)
ADD = ("observe", "add", "--indicator", "exercises", "--date", "2021-07-01", "--value", "1", "--source", "TASS")


def _opt(args: tuple[Any, ...], name: str, value: str) -> tuple[Any, ...]:
    """``args`` with option ``name`` set to ``value`` (replaced, or appended)."""
    out = list(args)
    if name in out:
        out[out.index(name) + 1] = value
    else:
        out += [name, value]
    return tuple(out)


def _no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


# ------------------------------------------------------------------------- init


def test_init_is_idempotent(cli: Any, harbinger_home: Path) -> None:
    first = cli(*INIT_MINI)
    assert first.exit_code == 0, first.stderr
    assert "schema created" in first.stdout
    assert "case 'mini': inserted" in first.stdout
    assert "observations: loaded 5 from" in first.stdout
    store = Store.from_env()
    snap = store.snapshot()
    assert set(store.history("mini")["recorded_by"]) == {"harbinger init"}
    second = cli(*INIT_MINI)
    assert second.exit_code == 0, second.stderr
    assert "schema up to date" in second.stdout
    assert "case 'mini': unchanged" in second.stdout
    assert "already has 5 record(s)" in second.stdout
    assert store.snapshot() == snap


def test_init_does_not_reload_observations_after_retractions(cli: Any) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    store = Store.from_env()
    for oid in store.observations("mini")["id"]:
        store.retract(int(oid), reason="test", actor="t")
    assert store.observations("mini").empty
    again = cli(*INIT_MINI)
    assert again.exit_code == 0
    assert store.observations("mini").empty  # the case has records, so nothing is loaded again


def test_init_with_the_shipped_case(cli: Any) -> None:
    from indicators.case import shipped_case_path
    from indicators.resources import data_path

    case_path = shipped_case_path()
    obs_path = data_path("observations", "northern_territories.csv")
    if not case_path.exists() or not obs_path.exists():
        pytest.skip("the shipped case or observations file is not written yet")
    first = cli("init")
    assert first.exit_code == 0, first.stderr
    store = Store.from_env()
    assert store.case_ids() == ["northern_territories"]
    with obs_path.open(encoding="utf-8") as f:
        n_rows = sum(1 for _ in csv.DictReader(f))
    assert f"observations: loaded {n_rows} from" in first.stdout
    history = store.history("northern_territories")
    assert len(history) == n_rows and set(history["recorded_by"]) == {"harbinger init"}
    assert history["recorded_at"].min() < history["recorded_at"].max()  # back-filled, not "now"
    snap = store.snapshot()
    second = cli("init")
    assert second.exit_code == 0 and "already has" in second.stdout
    assert store.snapshot() == snap


# ------------------------------------------------------------------------- choosing the case


def test_no_case_loaded_is_exit_1(cli: Any) -> None:
    result = cli("observe", "list")
    assert result.exit_code == 1
    assert result.stderr.strip() == "harbinger: no case is loaded yet; run 'harbinger init' first."


def test_unknown_case_and_several_cases(cli: Any, mini_case: Any) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    unknown = cli("--case", "nope", "observe", "list")
    assert unknown.exit_code == 2 and "--case: unknown case 'nope'; loaded cases: mini." in unknown.stderr
    from indicators.case import parse_case

    other = parse_case(mini_case.text.replace("id: mini", "id: other", 1))
    Store.from_env().load_case(other)
    both = cli("observe", "list")
    assert both.exit_code == 2
    assert "several cases are loaded (mini, other); choose one with --case." in both.stderr
    chosen = cli("--case", "other", "observe", "list", "--format", "json")
    assert chosen.exit_code == 0 and json.loads(chosen.stdout) == []
    assert len(json.loads(cli("--case", "mini", "observe", "list", "--format", "json").stdout)) == 5


# ------------------------------------------------------------------------- observe add


def test_add_records_an_observation_with_the_acting_user(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    monkeypatch.setenv("HARBINGER_USER", "analyst7")
    result = cli(*ADD, "--note", "Kunashir", "--reliability", "b", "--credibility", "2")
    assert result.exit_code == 0, result.stderr
    new_id = int(result.stdout.split()[-1])
    df = Store.from_env().observations("mini").set_index("id")
    assert df.loc[new_id, "note"] == "Kunashir" and df.loc[new_id, "recorded_by"] == "analyst7"
    assert (df.loc[new_id, "reliability"], df.loc[new_id, "credibility"]) == ("B", 2)
    assert Store.from_env().audit_log(limit=1)[0]["actor"] == "analyst7"


def test_actor_defaults_to_os_user(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    assert cli(*INIT_MINI).exit_code == 0
    monkeypatch.delenv("HARBINGER_USER")
    assert cli(*ADD).exit_code == 0
    assert Store.from_env().audit_log(limit=1)[0]["actor"] == getpass.getuser()


FUTURE = (date.today() + timedelta(days=2)).isoformat()

BAD_ADDS = [
    ("unknown_indicator", _opt(ADD, "--indicator", "missiles"), "--indicator: 'missiles' is not an indicator"),
    ("bad_date", _opt(ADD, "--date", "July 1st"), "--date: 'July 1st' is not a date in the form YYYY-MM-DD"),
    ("impossible_date", _opt(ADD, "--date", "2023-02-30"), "--date: '2023-02-30' is not a real calendar date"),
    ("end_before_date", _opt(ADD, "--end", "2021-06-30"), "--end: the end 2021-06-30 is before the date 2021-07-01"),
    ("negative_count", _opt(ADD, "--value", "-1"), "--value: -1 is outside the valid range"),
    ("fractional_count", _opt(ADD, "--value", "2.5"), "--value: 2.5 is not a whole number"),
    (
        "proportion_above_one",
        _opt(_opt(ADD, "--indicator", "trade_share"), "--value", "1.2"),
        "--value: 1.2 is outside the valid range 0..0.2",
    ),
    ("text_value", _opt(ADD, "--value", "several"), "--value: 'several' is not a number"),
    ("blank_source", _opt(ADD, "--source", " "), "--source: the source is missing"),
    ("reliability", ADD + ("--reliability", "X"), "--reliability: 'X' is not a reliability grade"),
    ("credibility", ADD + ("--credibility", "0"), "--credibility: '0' is not a credibility grade"),
    ("future", _opt(ADD, "--date", FUTURE), f"--date: {FUTURE} is in the future"),
]


@pytest.mark.parametrize("args,message", [b[1:] for b in BAD_ADDS], ids=[b[0] for b in BAD_ADDS])
def test_bad_add_is_refused_and_changes_nothing(cli: Any, args: tuple[str, ...], message: str) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    store = Store.from_env()
    before = store.snapshot()
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("harbinger: observation not added: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    _no_traceback(result)
    assert store.snapshot() == before


def test_add_twice_names_the_stored_id(cli: Any) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    first = cli(*ADD)
    new_id = first.stdout.split()[-1]
    store = Store.from_env()
    before = store.snapshot()
    again = cli(*ADD, "--note", "same again")
    assert again.exit_code == 2
    assert f"the same observation is already stored as id {new_id}" in again.stderr
    assert store.snapshot() == before


def test_missing_required_option_is_a_usage_error(cli: Any) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    before = Store.from_env().snapshot()
    result = cli("observe", "add", "--indicator", "exercises", "--date", "2021-07-01", "--value", "1")
    assert result.exit_code == 2 and "Missing option '--source'" in result.stderr
    assert Store.from_env().snapshot() == before


# ------------------------------------------------------------------------- observe list


def test_list_formats(cli: Any) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    as_json = cli("observe", "list", "--format", "json")
    assert as_json.exit_code == 0
    rows = json.loads(as_json.stdout)
    assert len(rows) == 5 and all(list(r) == OBSERVATION_COLUMNS for r in rows)
    fy2020 = next(r for r in rows if r["note"] == "FY2020")
    assert fy2020["date"] == "2020-04-01" and fy2020["end"] == "2021-03-31"
    assert fy2020["recorded_at"] == "2021-04-09T06:00:00+00:00"
    assert fy2020["value"] == 725 and fy2020["credibility"] == 1 and fy2020["id"] == fy2020["original_id"]
    assert [r["indicator"] for r in rows] == sorted(r["indicator"] for r in rows)

    as_csv = cli("observe", "list", "--format", "csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(parsed[0]) == OBSERVATION_COLUMNS
    assert [r["id"] for r in parsed] == [str(r["id"]) for r in rows]
    assert next(r for r in parsed if r["note"] == "FY2020")["end"] == "2021-03-31"

    table = cli("observe", "list")
    lines = table.stdout.splitlines()
    assert lines[0].split() == OBSERVATION_COLUMNS and len(lines) == 2 + 5
    assert "2020-04-01  2021-03-31  725" in table.stdout

    only = cli("observe", "list", "--indicator", "scrambles", "--format", "json")
    assert [r["value"] for r in json.loads(only.stdout)] == [947, 725]


def test_list_as_of(cli: Any) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    early = json.loads(cli("observe", "list", "--as-of", "2021-04-08", "--format", "json").stdout)
    assert sorted(r["note"] for r in early) == ["", "FY2019"]
    assert cli("observe", "list", "--as-of", "2015-01-01").stdout.strip() == "no observations"
    bad = cli("observe", "list", "--as-of", "2021-02-29")
    assert bad.exit_code == 2 and "--as-of: '2021-02-29' is not a real calendar date." in bad.stderr
    unknown = cli("observe", "list", "--indicator", "missiles")
    assert unknown.exit_code == 2 and "--indicator: 'missiles' is not an indicator of case 'mini'" in unknown.stderr


def test_csv_output_neutralises_formulas(cli: Any) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    assert cli(*_opt(ADD, "--source", '=HYPERLINK("http://evil")'), "--note", "@SUM(A1)").exit_code == 0
    assert cli(*_opt(_opt(ADD, "--indicator", "budget"), "--value", "-2.5")).exit_code == 0
    out = list(csv.DictReader(io.StringIO(cli("observe", "list", "--format", "csv").stdout)))
    evil = next(r for r in out if "HYPERLINK" in r["source"])
    assert evil["source"].startswith("'=") and evil["note"] == "'@SUM(A1)"
    assert next(r for r in out if r["indicator"] == "budget")["value"] == "-2.5"  # numbers untouched


# ------------------------------------------------------------------------- retract / correct


def test_retract_and_correct_through_the_cli(cli: Any) -> None:
    # on a fixed clock, so the day the correction and retraction are recorded, and the day
    # before, do not hang on when the test runs (it used to break across midnight UTC)
    with fixed_clock(datetime(2024, 5, 6, 12, 0)):
        _retract_and_correct(cli, recorded=date(2024, 5, 6))


def _retract_and_correct(cli: Any, *, recorded: date) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    rows = json.loads(cli("observe", "list", "--format", "json").stdout)
    fy2019 = next(r for r in rows if r["note"] == "FY2019")
    tone = next(r for r in rows if r["indicator"] == "tone")

    corrected = cli(
        "observe", "correct", fy2019["id"], "--value", "950", "--source", "MoD revised", "--reason", "revised figure"
    )
    assert corrected.exit_code == 0, corrected.stderr
    new_id = int(corrected.stdout.split()[-1].rstrip(")"))
    retracted = cli("observe", "retract", tone["id"], "--reason", "misattributed")
    assert retracted.exit_code == 0, retracted.stderr

    now = {r["original_id"]: r for r in json.loads(cli("observe", "list", "--format", "json").stdout)}
    assert tone["id"] not in now
    assert (now[fy2019["id"]]["id"], now[fy2019["id"]]["value"], now[fy2019["id"]]["source"]) == (
        new_id,
        950,
        "MoD revised",
    )
    assert now[fy2019["id"]]["note"] == "FY2019"  # unchanged fields carried over
    history = json.loads(cli("observe", "history", "--format", "json").stdout)
    assert [h["kind"] for h in history[-2:]] == ["correction", "retraction"]
    assert history[-1]["reason"] == "misattributed"
    assert {h["recorded_at"][:10] for h in history[-2:]} == {recorded.isoformat()}
    # --as-of days end at midnight UTC: the day before, the record as it was; that day, as it is
    past = {
        r["original_id"]: r
        for r in json.loads(
            cli("observe", "list", "--as-of", (recorded - timedelta(days=1)).isoformat(), "--format", "json").stdout
        )
    }
    assert past[fy2019["id"]]["value"] == 947 and tone["id"] in past and len(past) == 5
    on_the_day = {
        r["original_id"]: r
        for r in json.loads(cli("observe", "list", "--as-of", recorded.isoformat(), "--format", "json").stdout)
    }
    assert on_the_day == now


def test_retract_and_correct_refusals(cli: Any) -> None:
    assert cli(*INIT_MINI).exit_code == 0
    store = Store.from_env()
    before = store.snapshot()
    cases = [
        (("observe", "retract", "999", "--reason", "x"), "there is no observation with id 999."),
        (("observe", "correct", "1", "--reason", "x"), "give at least one new value"),
        (("observe", "correct", "1", "--value", "-5", "--reason", "x"), "column 'value': -5 is outside"),
        (("observe", "correct", "1", "--date", "2021-02-29", "--reason", "x"), "not a real calendar date"),
        (("observe", "correct", "1", "--value", "947", "--reason", "x"), "same as the ones in effect"),
        (("observe", "retract", "1", "--reason", "  "), "a retraction needs a reason."),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        _no_traceback(result)
    not_a_number = cli("observe", "retract", "one", "--reason", "x")
    assert not_a_number.exit_code == 2 and "'one' is not a valid integer" in not_a_number.stderr
    assert store.snapshot() == before
    assert cli("observe", "retract", "1", "--reason", "hoax").exit_code == 0
    again = cli("observe", "retract", "1", "--reason", "hoax")
    assert again.exit_code == 2 and "observation 1 was retracted" in again.stderr


# ------------------------------------------------------------------------- help and errors


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("init",),
        ("observe",),
        ("observe", "add"),
        ("observe", "import"),
        ("observe", "list"),
        ("observe", "retract"),
        ("observe", "correct"),
        ("observe", "history"),
    ],
)
def test_help_everywhere(cli: Any, args: tuple[str, ...], harbinger_home: Path) -> None:
    result = cli(*args, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    assert not harbinger_home.exists()  # help never opens the store


def test_unexpected_failure_is_exit_1_without_traceback(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(*INIT_MINI).exit_code == 0

    def boom(*_a: Any, **_k: Any) -> Any:
        raise OSError("disk on fire")

    monkeypatch.setattr(Store, "observations", boom)
    result = cli("observe", "list")
    assert result.exit_code == 1
    assert "unexpected error: OSError: disk on fire" in result.stderr
    _no_traceback(result)


def test_console_script_entry_point(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("harbinger")
    if not exe.exists():
        pytest.skip("the harbinger console script is not installed in this environment")
    env = {**os.environ, "HARBINGER_HOME": str(tmp_path / "h"), "HARBINGER_USER": "sub"}
    env.pop("HARBINGER_DATABASE_URL", None)
    init = subprocess.run([str(exe), *map(str, INIT_MINI)], env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    bad = subprocess.run(
        [
            str(exe),
            "observe",
            "add",
            "--indicator",
            "exercises",
            "--date",
            "2023-02-30",
            "--value",
            "1",
            "--source",
            "x",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("harbinger: observation not added: --date: '2023-02-30' is not a real calendar date.")


# ------------------------------------------------------------------------- hostile text and bytes

HOSTILE_SOURCE = "ctl\x1b]0;pwned\x07\x1b[2J\u202eevil\x9b31m"
HOSTILE_NOTE = "first line\nsecond\tline \x1b[1;31mred\x00 \u2066isolate\u2069"


def test_stored_control_characters_are_escaped_on_output(cli: Any) -> None:
    """Text stored before the text rules (or by hand) is listed with its control characters
    written as escapes: in the table and CSV as text, in JSON as \\u escapes of the same text."""
    from indicators.store import observations
    from indicators.text import unsafe

    assert cli(*INIT_MINI).exit_code == 0
    store = Store.from_env()
    with store._write() as conn:
        conn.execute(
            observations.insert().values(
                case_id="mini",
                indicator="exercises",
                date=date(2021, 7, 1),
                value=1.0,
                source=HOSTILE_SOURCE,
                reliability="C",
                credibility=3,
                note=HOSTILE_NOTE,
                recorded_at=datetime(2021, 7, 2),
                recorded_by="by\x1b[2Jhand",
                kind="observation",
            )
        )
    store.close()
    for command in ("list", "history"):
        outputs = {fmt: cli("observe", command, "--format", fmt) for fmt in ("table", "csv", "json")}
        for fmt, res in outputs.items():
            assert res.exit_code == 0, res.output
            bad = [ch for ch in res.stdout if unsafe(ch, multiline=True)]
            assert not bad, (command, fmt, bad)
        rows = json.loads(outputs["json"].stdout)
        table = outputs["table"].stdout
        assert "ctl\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil\\x9b31m" in table and "by\\x1b[2Jhand" in table
        assert len(table.splitlines()) == len(rows) + 2  # header, rule, one line a row
        row = next(r for r in rows if r["source"] == HOSTILE_SOURCE)
        assert row["note"] == HOSTILE_NOTE and row["recorded_by"] == "by\x1b[2Jhand"
        got = next(r for r in csv.DictReader(io.StringIO(outputs["csv"].stdout)) if r["source"].startswith("ctl"))
        assert got["source"] == "ctl\\x1b]0;pwned\\x07\\x1b[2J\\u202eevil\\x9b31m"
        assert got["note"] == "first line\nsecond\tline \\x1b[1;31mred\\x00 \\u2066isolate\\u2069"


def test_an_argument_that_is_not_utf8_is_bad_input(tmp_path: Path) -> None:
    """Bytes as the shell passes them (``--source $'\\xff'``): exit 2 with one sentence naming the option."""
    exe = Path(sys.executable).with_name("harbinger")
    if not exe.exists():
        pytest.skip("the harbinger console script is not installed in this environment")
    env = {**os.environ, "HARBINGER_HOME": str(tmp_path / "h"), "HARBINGER_USER": "sub", "LC_ALL": "C.UTF-8"}
    env.pop("HARBINGER_DATABASE_URL", None)
    args = [
        b"observe",
        b"add",
        b"--indicator",
        b"exercises",
        b"--date",
        b"2021-06-01",
        b"--value",
        b"1",
        b"--source",
        b"caf\xe9 \xff",
    ]
    res = subprocess.run([str(exe).encode(), *args], env=env, capture_output=True)
    assert res.returncode == 2, res.stderr
    assert res.stderr.decode("utf-8") == (
        "harbinger: --source: the value is not UTF-8 text (byte 0xe9 is not UTF-8); give it in UTF-8.\n"
    )
    assert not (tmp_path / "h").exists()  # refused before the store was opened
