"""The report's Watch list section: per outcome the indicators whose next report would move its
forecast most (value of information with Monte Carlo error and k-hat) and the tripwires, made from
the run's cached watch list; a report built without the store says so instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.mark.fit
def test_the_report_has_a_watch_list_section_for_every_outcome(fitted_home: Path) -> None:
    from dashboard import report
    from dashboard.services.context import open_store

    store = open_store()
    try:
        content = report.build(store, "northern_territories", fmt="html")
        sections = {s["id"]: s for s in content["sections"]}
        watch = sections["sec-watch"]
        tables = [b for b in watch["blocks"] if b["kind"] == "table"]
        unresolved = [o for o in store.get_case("northern_territories").case.outcomes if o.resolved is None]
        assert [t["id"] for t in tables] == [f"watch-{o.id}" for o in unresolved]
        for t in tables:
            assert [c["label"] for c in t["columns"]][:3] == ["Rank", "Indicator", "Expected change (pts)"]
            assert 1 <= len(t["rows"]) <= 5
            ranks = [int(row[0]["text"]) for row in t["rows"]]
            assert ranks == sorted(ranks) and ranks[0] == 1
            assert all(row[2]["lines"][0].startswith("± ") for row in t["rows"])  # its Monte Carlo error
        html = report.render(content, "html").decode()
        assert "Watch list" in html and "watch-territorial_transfer" in html
    finally:
        store.close()


def test_a_report_without_the_store_says_the_watch_list_needs_it() -> None:
    from types import SimpleNamespace

    from dashboard.report.analysis import watch_section

    inputs: Any = SimpleNamespace(store=None, case=None, run={"id": "r"})
    part = watch_section(inputs)
    assert part["id"] == "sec-watch" and "needs the store" in part["blocks"][0]["text"]
