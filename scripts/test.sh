#!/usr/bin/env bash
# The project's test command. Tiers (markers in pyproject.toml, details in docs/testing.md):
#
#   bash scripts/test.sh              full: ruff check and format --check, lint-imports, then every test (what CI runs,
#                                     through .ci/run, with PostgreSQL and Redis)
#   bash scripts/test.sh --fast       fast: the same lints, then the tests marked none of fit,
#                                     browser and slow: no sampler, no model compile, no Chromium
#                                     (a few minutes on two cores; see docs/testing.md for times)
#   bash scripts/test.sh [--fast] ARGS...
#                                     pytest ARGS in that tier, in one process and without the
#                                     lints, e.g. bash scripts/test.sh --fast tests/test_cli.py -k retract
#   bash scripts/test.sh --lint       only ruff check, ruff format --check and lint-imports
#
# Without ARGS the tests run on TEST_WORKERS pytest-xdist workers (default 2, one a core; 0 runs
# them in one process), a file's tests on one worker; the shared fitted run and the synthetic fits
# are made once for all workers (tests/fits.py built_once).
#
# Markers: fit (samples or compiles a model, in process or in a `harbinger` it starts; the session
# shares one tiny fitted run, tests/fits.py), browser (headless Chromium), slow (long even for its
# tier), postgres (skipped unless HARBINGER_TEST_POSTGRES_URL is set). The fast tier passes
# --forbid-fits, so a test that samples in-process without the fit marker fails there.
#
# pytest's exit code 5 ("no tests collected") fails the full tier: CI must never pass having run
# nothing. In the fast tier with ARGS it means every selected test belongs to a slower tier; that
# is said and counts as success.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV_BIN:-.venv/bin}
PY=${PYTHON:-$BIN/python}

tier=full
case "${1:-}" in
  --fast) tier=fast; shift ;;
  --lint) tier=lint; shift ;;
esac

lint() {
  local rc=0
  echo "== ruff check"
  "$BIN/ruff" check . || rc=1
  echo "== ruff format --check"
  "$BIN/ruff" format --check . || { rc=1; echo "scripts/test.sh: run '$BIN/ruff format .' to format" >&2; }
  echo "== lint-imports"
  "$BIN/lint-imports" || rc=1
  return $rc
}

lint_rc=0
if [ "$tier" = lint ]; then
  lint
  exit $?
fi
if [ $# -eq 0 ]; then
  lint || lint_rc=1
fi

pytest_args=()
if [ "$tier" = fast ]; then
  pytest_args=(-m "not slow and not fit and not browser" --forbid-fits)
fi
workers=${TEST_WORKERS:-2}
if [ $# -eq 0 ] && [ "$workers" != 0 ]; then
  pytest_args+=(-n "$workers" --dist loadfile)
fi
echo "== pytest (${tier} tier)"
"$PY" -m pytest "${pytest_args[@]}" "$@"
rc=$?
if [ $rc -eq 5 ] && [ "$tier" = fast ] && [ $# -gt 0 ]; then
  echo "scripts/test.sh: no fast-tier test in this selection (all are marked fit, browser or slow);" \
       "run it without --fast" >&2
  rc=0
fi
if [ $rc -eq 0 ] && [ $lint_rc -ne 0 ]; then
  echo "scripts/test.sh: the tests passed but a lint failed (above)" >&2
  rc=1
fi
exit $rc
