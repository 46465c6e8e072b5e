"""A new case is a file: its documentation, `harbinger case validate`, loading it safely with `init`
and `case load`, and the rows an import stores but the model does not count (issue 20, items 11-14)."""

from __future__ import annotations

import base64
import os
import pty
import re
import select
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MINI_CASE, MINI_HEADER, MINI_OBSERVATIONS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "case-file.md"
MINI_TEXT = MINI_CASE.read_text(encoding="utf-8")


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line of the ``nth`` occurrence of ``needle`` in ``text``."""
    pos = -1
    for _ in range(nth):
        pos = text.index(needle, pos + 1)
    return text.count("\n", 0, pos) + 1


def write(tmp_path: Path, text: str, name: str = "case.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def documented_example() -> str:
    """The YAML of the section "A complete example"."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"^## A complete example\n.*?```yaml\n(.*?)```", text, flags=re.DOTALL | re.MULTILINE)
    assert match, "docs/case-file.md has no complete example"
    return match.group(1)


# ---------------------------------------------------------------------------- item 11: the documentation


def test_every_field_the_validator_accepts_is_documented() -> None:
    from indicators.case import AGGREGATIONS, FAMILIES, schema_fields

    text = DOC.read_text(encoding="utf-8")
    fields = [path for path, _info in schema_fields()]
    assert len(fields) > 40 and "indicators.coverage_end" in fields and "scenarios.observations.span_months" in fields
    missing = [path for path in fields if f"`{path}`" not in text]
    assert not missing, f"fields of the case schema not documented in {DOC.name}: {missing}"
    for value in (*FAMILIES, *AGGREGATIONS, "positive", "negative", "free", "raises", "lowers"):
        assert f"`{value}`" in text, value
    for fact in ("standardised", "0..1", "0 to 120", "0 to 24", "coverage_start", "`free`"):
        assert fact in text, fact


def test_the_documented_example_is_a_valid_case_using_every_family() -> None:
    from indicators.case import FAMILIES, parse_case

    case = parse_case(documented_example(), where="docs/case-file.md").case
    assert {i.family for i in case.indicators} == set(FAMILIES)
    assert {i.aggregation for i in case.indicators} == {"events", "total", "level"}
    assert case.scenarios and any(o.resolved for o in case.outcomes)
    assert any("free" in i.loadings.values() for i in case.indicators)
    assert any(o.base_rate.range for o in case.outcomes) and any(o.effect_sizes for o in case.outcomes)


# ---------------------------------------------------------------------------- item 12: case validate

BROKEN = (
    MINI_TEXT.replace(
        "    aggregation: total\n    loadings: {pressure: positive}",
        "    aggregation: total\n    loading: {pressure: positive}",
    )
    .replace("    anchor: summit_held", "    anchor: summit_hold")
    .replace("effects: {engagement: raises, pressure: lowers}", "effects: {engagement: raises, presure: lowers}")
    .replace("    family: binary\n", "    family: binary\n    coverage_end: 2020-01-01\n")
    .replace("horizons: [1, 5]", "horizons: [1, 5]\n    horizons: [2]")
)


def test_case_validate_reports_every_problem_at_once_each_with_its_line(cli: Any, tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    result = cli("case", "validate", path)
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert f"{path}: 5 problems:" in err
    expected = {
        line_of(BROKEN, "loading: {pressure"): "unknown key 'loading'; did you mean 'loadings'?",
        line_of(BROKEN, "anchor: summit_hold"): "factor 'engagement' has unknown anchor indicator 'summit_hold'",
        line_of(BROKEN, "presure: lowers"): "outcome 'treaty' names unknown factor 'presure' in effects",
        line_of(BROKEN, "coverage_end: 2020"): "'coverage_end' is only for 'events' indicators",
        line_of(BROKEN, "horizons: [2]"): "field 'horizons': this key is given twice",
    }
    lines = [line.strip() for line in err.splitlines()[1:]]
    assert len(lines) == len(expected), err
    for number, words in expected.items():
        assert any(line.startswith(f"line {number}:") and words in line for line in lines), (number, words, err)
    assert "Field required" not in err and "(top level)" not in err
    assert "field 'indicators[scrambles].loading'" in err


def test_case_validate_of_a_valid_file_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "never-made"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")} | {"HARBINGER_HOME": str(home)}
    res = subprocess.run(
        [sys.executable, "-m", "dashboard.cli.main", "case", "validate", str(MINI_CASE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    from indicators.case import load_case

    summary = (
        f"{MINI_CASE}: valid case 'mini': 2 factor(s), 6 indicator(s), 1 outcome(s), 0 scenario(s) "
        f"(hash {load_case(MINI_CASE).hash})."
    )
    assert res.stdout.strip().splitlines() == [summary]
    assert not home.exists(), "case validate created the store"


def test_cross_reference_errors_name_the_line_of_what_they_name() -> None:
    from indicators.case import CaseErrors, parse_case

    text = MINI_TEXT.replace(
        "loadings: {engagement: positive, pressure: negative}", "loadings: {engagement: positive, pressur: negative}"
    )
    with pytest.raises(CaseErrors) as caught:
        parse_case(text, where="mini")
    (problem,) = caught.value.problems
    assert problem.line == line_of(text, "pressur: negative")
    assert problem.field == "indicators[tone].loadings.pressur"
    assert str(caught.value) == (
        f"mini: line {problem.line}: field 'indicators[tone].loadings.pressur': indicator "
        "'tone' loads on unknown factor 'pressur'."
    )


def test_a_case_built_in_code_obeys_the_same_rules() -> None:
    from pydantic import ValidationError

    from indicators.case import Case, load_case

    data = load_case(MINI_CASE).case.model_dump()
    data["factors"][0]["anchor"] = "nowhere"
    with pytest.raises(ValidationError, match="unknown anchor indicator 'nowhere'"):
        Case.model_validate(data)
    data = load_case(MINI_CASE).case.model_dump()
    data["indicators"][2]["aggregation"] = "events"
    with pytest.raises(ValidationError, match="a binary indicator aggregates as 'level', not 'events'"):
        Case.model_validate(data)


# ---------------------------------------------------------------------------- item 13: init and case load


def test_init_with_bad_observations_stores_no_case(cli: Any, tmp_path: Path) -> None:
    from indicators.store import Store

    bad = write(
        tmp_path,
        MINI_HEADER + "\nexercises,2016-05-01,,1,Asahi,B,2,\nexercises,2016-06-01,,one,Asahi,B,2,\n",
        "bad.csv",
    )
    result = cli("init", "--case-file", MINI_CASE, "--observations", bad)
    assert result.exit_code == 2, result.output
    assert "line 3, column 'value'" in result.stderr
    store = Store.from_env()
    assert store.case_ids() == [] and store.snapshot()["observations"] == []
    assert not [a for a in store.audit_log() if a["action"].startswith("case.")]
    store.close()
    assert cli("init", "--case-file", MINI_CASE, "--observations", MINI_OBSERVATIONS).exit_code == 0


def _edited_shipped_case() -> str:
    from indicators.case import shipped_case_path

    text = shipped_case_path().read_text(encoding="utf-8")
    extra = (
        "  - id: kuril_fishing_incident\n    name: Fishing-boat incident\n    description: A Japanese fishing boat "
        "detained near the islands.\n    family: count\n    unit: incidents\n    aggregation: events\n"
        "    coverage_start: 2020-01-01\n    loadings: {military_pressure: positive}\n\noutcomes:\n"
    )
    text = text.replace("\noutcomes:\n", "\n" + extra, 1)
    return text.replace("      annual: 0.003\n", "      annual: 0.004\n", 1)


def test_plain_init_never_reverts_a_case_edited_under_the_shipped_id(cli: Any, tmp_path: Path) -> None:
    from indicators.store import Store

    assert cli("init").exit_code == 0
    edited = write(tmp_path, _edited_shipped_case(), "northern_territories.yaml")
    loaded = cli("case", "load", edited, "--yes")
    assert loaded.exit_code == 0, loaded.output
    assert "indicators added: kuril_fishing_incident" in loaded.stdout
    assert "outcome 'territorial_transfer': base_rate 0.003 a year → 0.004 a year" in loaded.stdout
    added = cli(
        "observe",
        "add",
        "--indicator",
        "kuril_fishing_incident",
        "--date",
        "2024-05-02",
        "--value",
        "1",
        "--source",
        "NHK 2024-05-02",
    )
    assert added.exit_code == 0, added.output
    store = Store.from_env()
    edited_hash = store.get_case("northern_territories").hash
    again = cli("init")
    assert again.exit_code == 0, again.output
    assert store.get_case("northern_territories").hash == edited_hash
    assert "kept the version in the store" in again.stdout and "harbinger case load" in again.stdout
    assert store.n_records("northern_territories") == 175
    store.close()


def test_a_changed_case_file_lists_its_changes_and_waits_for_confirmation(cli: Any, tmp_path: Path) -> None:
    from indicators.store import Store

    assert cli("init", "--case-file", MINI_CASE, "--observations", MINI_OBSERVATIONS).exit_code == 0
    store = Store.from_env()
    before = store.snapshot()
    changed = (
        MINI_TEXT.replace("annual: 0.01", "annual: 0.02")
        .replace("  - id: budget\n", "  - id: budget_share\n")
        .replace("    max: 0.2\n", "    max: 0.3\n")
    )
    path = write(tmp_path, changed, "mini.yaml")
    for args in (("case", "load", path), ("init", "--case-file", path)):
        refused = cli(*args)
        assert refused.exit_code == 2, refused.output
        out = refused.stdout
        assert "differs from the version in the store" in out
        for change in (
            "indicators added: budget_share",
            "indicators removed: budget",
            "indicator 'trade_share': max 0.2 → 0.3",
            "outcome 'treaty': base_rate 0.01 a year → 0.02 a year",
        ):
            assert f"  - {change}" in out, (change, out)
        assert "Run again with --yes" in refused.stderr
        assert store.snapshot() == before
    applied = cli("case", "load", path, "--yes")
    assert applied.exit_code == 0, applied.output
    assert "case 'mini': updated" in applied.stdout
    assert store.get_case("mini").case.indicator("trade_share").max == 0.3
    assert "case 'mini': unchanged" in cli("case", "load", path).stdout  # the same file: nothing to confirm
    store.close()


def _run_in_terminal(args: list[str], answer: str, home: Path) -> tuple[int, str]:
    """``harbinger ARGS`` with a terminal as its standard input and output, answering ``answer``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    env |= {"HARBINGER_HOME": str(home), "HARBINGER_USER": "tester"}
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli.main", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        close_fds=True,
    )
    os.close(slave)
    seen, answered, deadline = b"", False, time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(master, answer.encode() + b"\n")
            answered = True
        if proc.poll() is not None and not ready:
            break
    code = proc.wait(timeout=30)
    os.close(master)
    return code, seen.decode("utf-8", "replace")


def test_the_prompt_applies_a_changed_case_only_on_yes(cli: Any, harbinger_home: Path, tmp_path: Path) -> None:
    from indicators.store import Store

    assert cli("init", "--case-file", MINI_CASE).exit_code == 0
    path = write(tmp_path, MINI_TEXT.replace("annual: 0.01", "annual: 0.03"), "mini.yaml")
    store = Store.from_env()
    original = store.get_case("mini").hash
    code, screen = _run_in_terminal(["case", "load", str(path)], "n", harbinger_home)
    assert code == 1 and "Apply these changes to the stored case? [y/N]" in screen, screen
    assert "base_rate 0.01 a year → 0.03 a year" in screen and "not applied; nothing was changed" in screen
    assert store.get_case("mini").hash == original
    code, screen = _run_in_terminal(["case", "load", str(path)], "y", harbinger_home)
    assert code == 0 and "case 'mini': updated" in screen, screen
    assert store.get_case("mini").case.outcome("treaty").base_rate.annual == 0.03
    store.close()


def test_case_changes_name_what_the_model_reads() -> None:
    from indicators.case import case_changes, load_case, parse_case

    old = load_case(MINI_CASE).case
    assert case_changes(old, old) == []
    new = parse_case(
        MINI_TEXT.replace("horizons: [1, 5]", "horizons: [1, 3, 5]")
        .replace("loadings: {pressure: free}", "loadings: {pressure: positive}")
        .replace("reasoning: Nothing for decades.", "reasoning: Nothing at all for decades.")
    ).case
    assert case_changes(old, new) == [
        "indicator 'budget': loadings {pressure: free} → {pressure: positive}",
        "outcome 'treaty': horizons [1, 5] → [1, 3, 5]; base_rate reworded",
    ]


# ---------------------------------------------------------------------------- item 14: rows outside the coverage

COVERED = MINI_TEXT.replace(
    "    coverage_start: 2015-01-01\n", "    coverage_start: 2016-01-01\n    coverage_end: 2019-12-31\n"
)


def _covered_store() -> Any:
    from indicators.case import parse_case
    from indicators.store import Store

    store = Store.from_env()
    store.upgrade()
    store.load_case(parse_case(COVERED, where="mini"))
    return store


def test_observe_import_names_the_rows_the_model_will_not_count(cli: Any, write_csv: Any) -> None:
    from models.design import build_design

    store = _covered_store()
    path = write_csv(
        MINI_HEADER + "\n"
        "exercises,2017-03-01,,1,Asahi,B,2,inside\n"
        "exercises,2015-06-01,,1,Asahi,B,2,before\n"
        "scrambles,2015-04-01,2016-03-31,40,MOD,A,1,a total: coverage means nothing to it\n"
        "exercises,2020-02-01,2020-02-03,1,Asahi,B,2,after\n"
    )
    result = cli("observe", "import", path)
    assert result.exit_code == 0, result.output
    ids = {
        note: int(i)
        for i, note in zip(store.observations("mini")["id"], store.observations("mini")["note"], strict=True)
    }
    out = result.stdout
    assert "2 row(s) lie outside their indicator's coverage: they are stored, but the model does not count them" in out
    assert (
        f"line 3 (id {ids['before']}): exercises on 2015-06-01 is before its coverage (2016-01-01 to 2019-12-31)"
    ) in out
    assert (
        f"line 5 (id {ids['after']}): exercises on 2020-02-01 to 2020-02-03 is after its coverage "
        "(2016-01-01 to 2019-12-31)"
    ) in out
    assert "line 2 " not in out and "line 4 " not in out
    # the rows named are exactly those the model leaves out
    design = build_design(store.get_case("mini").case, store.observations("mini"), as_of=date(2024, 1, 1))
    used = {int(i) for ids_ in design.rows["observation_ids"] for i in ids_}
    assert ids["inside"] in used and ids["a total: coverage means nothing to it"] in used
    assert ids["before"] not in used and ids["after"] not in used
    added = cli("observe", "add", "--indicator", "exercises", "--date", "2021-05-05", "--value", "1", "--source", "x")
    assert added.exit_code == 0 and "exercises on 2021-05-05 is after its coverage" in added.stdout
    store.close()


def test_the_dashboard_upload_names_the_rows_the_model_will_not_count(harbinger_home: Path) -> None:
    from dashboard.services import views
    from dashboard.web import app as shell
    from tests.dashboard_support import plain, text_of

    views.forget_stores()
    store = _covered_store()
    shell.create_app("mini")
    ind = sys.modules["dashboard.web.pages.indicators"]
    csv = (MINI_HEADER + "\nexercises,2017-03-01,,1,Asahi,B,2,\nexercises,2021-02-01,,1,Asahi,B,2,\n").encode()
    contents = "data:text/csv;base64," + base64.b64encode(csv).decode()
    message, version, _ = plain(ind.upload_csv)(contents, "new.csv", "mini", 0)
    text = text_of(message)
    new_id = int(store.observations("mini")["id"].max())
    assert version == 1 and "Imported 2 observation(s) from new.csv" in text
    assert "1 row(s) lie outside their indicator's coverage" in text
    assert f"line 3 (id {new_id}): exercises on 2021-02-01 is after its coverage (2016-01-01 to 2019-12-31)" in text
    assert "line 2" not in text
    views.forget_stores()
    store.close()
