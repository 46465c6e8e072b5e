"""scripts/setup.sh and what `serve --help` tells a newcomer (issue 20, item 15).

setup.sh runs here in a copy of the project whose .venv holds stand-ins for Python and the
``harbinger`` command: a pip that succeeds with the setuptools chatter a real install prints, or
fails as pip does, so the script's own behaviour is tested without installing anything.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHATTER = "\n".join(f"SetuptoolsDeprecationWarning: warning line {i} of a noisy build" for i in range(130))


def project_copy(tmp_path: Path, pip_exit: int) -> Path:
    """A project folder with scripts/setup.sh and a .venv whose python runs a fake pip."""
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup.sh", root / "scripts" / "setup.sh")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    failure = "ERROR: Could not find a version that satisfies the requirement pymc>=99 (from harbinger)"
    python = f"""#!/usr/bin/env bash
echo "$@" >> "{root}/pip-calls"
cat >&2 <<'CHATTER'
{CHATTER}
CHATTER
case "$*" in
  *"-e .[test,report,team]"*) if [ {pip_exit} -ne 0 ]; then echo "{failure}" >&2; exit {pip_exit}; fi ;;
esac
exit 0
"""
    harbinger = """#!/usr/bin/env bash
echo "store sqlite:///somewhere/harbinger.db: schema created (revision 0002)"
echo "case 'northern_territories': inserted"
"""
    for name, text in (("python", python), ("harbinger", harbinger)):
        path = bin_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return root


def run_setup(root: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"TMPDIR": str(tmp_path)}
    return subprocess.run(
        ["bash", str(root / "scripts" / "setup.sh")], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_setup_is_quiet_when_the_install_works(tmp_path: Path) -> None:
    root = project_copy(tmp_path, pip_exit=0)
    res = run_setup(root, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout.splitlines() == [
        "store sqlite:///somewhere/harbinger.db: schema created (revision 0002)",
        "case 'northern_territories': inserted",
    ]
    assert "-m pip install -q -e .[test,report,team]" in (root / "pip-calls").read_text()
    assert not list(tmp_path.glob("harbinger-setup.*")), "the log of a good install is left behind"


def test_setup_fails_loudly_in_one_line_when_pip_fails(tmp_path: Path) -> None:
    root = project_copy(tmp_path, pip_exit=1)
    res = run_setup(root, tmp_path)
    assert res.returncode != 0
    assert res.stdout == ""  # init never ran
    (line,) = res.stderr.splitlines()
    assert line.startswith("setup.sh: installing Harbinger and its dependencies")
    assert "failed (exit 1): ERROR: Could not find a version that satisfies the requirement pymc>=99" in line
    log = Path(line.rsplit("the full output is in ", 1)[1])
    assert log.exists() and "SetuptoolsDeprecationWarning" in log.read_text()


def test_serve_help_lists_all_six_pages(cli: Any) -> None:
    result = cli("serve", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for page in ("Overview", "Indicators", "Scenarios", "Model", "Backtest", "Reports"):
        assert page in text, page
    assert "Overview, Indicators, Scenarios, Model, Backtest, Reports" in text
