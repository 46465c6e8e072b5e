"""Where ``harbinger report`` writes: never over an existing file without ``--force``, never onto
the store's own files (database, its WAL and shared-memory files, runs, the signing key) with or
without it, and with the mode the user's umask gives new files.

A fake run (``tests.dashboard_support.register_fake_run``) of the shipped case gives the report
something to write; the CSV and JSON exports take well under a second.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_support import register_fake_run

CASE = "northern_territories"


@pytest.fixture
def home(cli: Any, harbinger_home: Path) -> Path:
    """The shipped case with one fake run; the server's signing key made as the dashboard makes it."""
    from indicators.store import SECRET_KEY_FILE, Store

    assert cli("init").exit_code == 0
    store = Store.from_env()
    register_fake_run(store, CASE)
    store.close()
    (harbinger_home / SECRET_KEY_FILE).write_bytes(os.urandom(32))
    return harbinger_home


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(result: Any, *words: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("harbinger: --output: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_an_existing_file_is_replaced_only_with_force(home: Path, cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "forecast.csv"
    out.write_text("my own notes\n")
    _refused(cli("report", "--format", "csv", "--output", out), str(out), "already exists", "--force")
    assert out.read_text() == "my own notes\n"
    res = cli("report", "--format", "csv", "--output", out, "--force")
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("case,run_id,")


def test_an_existing_file_in_an_output_directory_is_kept_without_force(home: Path, cli: Any, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    assert cli("report", "--format", "json", "--output", reports).exit_code == 0
    (written,) = reports.iterdir()
    written.write_text("edited by hand")
    _refused(cli("report", "--format", "json", "--output", reports), written.name, "already exists")
    assert written.read_text() == "edited by hand"
    assert cli("report", "--format", "json", "--output", reports, "--force").exit_code == 0
    assert written.read_text().startswith("{")


def test_a_link_to_an_existing_file_counts_as_existing(home: Path, cli: Any, tmp_path: Path) -> None:
    keep = tmp_path / "keep.txt"
    keep.write_text("keep")
    link = tmp_path / "forecast.csv"
    link.symlink_to(keep)
    _refused(cli("report", "--format", "csv", "--output", link), "already exists")
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere.csv")
    _refused(cli("report", "--format", "csv", "--output", dangling), "already exists")
    assert keep.read_text() == "keep" and not (tmp_path / "nowhere.csv").exists()


def test_the_store_s_own_files_are_never_written(home: Path, cli: Any, tmp_path: Path) -> None:
    from indicators.store import SECRET_KEY_FILE, Store

    store = Store.from_env()
    run_dir = next((home / "runs").iterdir())
    db = home / "harbinger.db"
    live = store.engine.connect()  # an open connection: the WAL and shared-memory files exist
    live.exec_driver_sql("SELECT count(*) FROM observations").scalar()
    assert (home / "harbinger.db-wal").exists() and (home / "harbinger.db-shm").exists()
    link = tmp_path / "innocent.csv"
    link.symlink_to(db)
    hard = tmp_path / "hard.csv"
    os.link(db, hard)
    dir_link = tmp_path / "runs-link"
    dir_link.symlink_to(home / "runs")
    targets = [
        db,
        home / "harbinger.db-wal",
        home / "harbinger.db-shm",
        home / "harbinger.db-journal",
        home / SECRET_KEY_FILE,
        run_dir / "forecast.json",
        run_dir / "new.csv",
        link,
        hard,
        dir_link / run_dir.name / "forecast.json",
        tmp_path / ".." / tmp_path.name / "innocent.csv",
    ]
    watched = [db, home / SECRET_KEY_FILE, run_dir / "forecast.json"]
    digests = {p: _digest(p) for p in watched}
    before = store.snapshot()
    for target in targets:
        for extra in ([], ["--force"]):
            _refused(
                cli("report", "--format", "csv", "--output", target, *extra), "store's own file", "never written there"
            )
    assert {p: _digest(p) for p in watched} == digests
    assert not (run_dir / "new.csv").exists() and not (home / "harbinger.db-journal").exists()
    assert link.is_symlink() and store.snapshot() == before
    res = cli("observe", "list", "--format", "json")
    assert res.exit_code == 0 and res.stdout.startswith("[")
    live.close()
    store.close()


def test_a_database_named_by_url_is_protected_too(
    home: Path, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    monkeypatch.setenv("HARBINGER_DATABASE_URL", f"sqlite:///{elsewhere}")
    assert cli("init").exit_code == 0
    _refused(cli("report", "--format", "csv", "--output", elsewhere, "--force"), "store's own file")
    assert cli("observe", "list").exit_code == 0


@pytest.mark.parametrize(
    "umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600), (0o002, 0o664)], ids=["022", "027", "077", "002"]
)
def test_reports_get_the_mode_of_the_user_s_umask(home: Path, cli: Any, tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        for fmt, force in (("csv", []), ("csv", ["--force"]), ("json", [])):
            out = tmp_path / f"forecast.{fmt}"
            res = cli("report", "--format", fmt, "--output", out, *force)
            assert res.exit_code == 0, res.output
            assert out.stat().st_mode & 0o777 == mode, (fmt, force, oct(out.stat().st_mode))
        assert os.umask(umask) == umask  # the command left the process's umask as it was
    finally:
        os.umask(old)


def test_a_file_that_appears_while_the_report_is_made_is_not_replaced(tmp_path: Path) -> None:
    from dashboard.cli.report import write_atomically
    from indicators.errors import BadInput

    out = tmp_path / "late.csv"
    out.write_text("appeared meanwhile")
    with pytest.raises(BadInput, match="already exists"):
        write_atomically(out, b"report")
    assert out.read_text() == "appeared meanwhile"
    assert not list(tmp_path.glob(".harbinger-*"))  # no temporary file left behind
    write_atomically(out, b"report", force=True)
    assert out.read_bytes() == b"report"


def test_the_signing_key_file_is_the_dashboard_s() -> None:
    from dashboard.web import auth
    from indicators.store import SECRET_KEY_FILE

    assert auth.SECRET_FILE == SECRET_KEY_FILE
