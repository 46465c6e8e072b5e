#!/usr/bin/env bash
# Install Harbinger into .venv and load the shipped case (idempotent; safe to run again).
#
# Quiet when it works: the installer's output goes to a log, and only 'harbinger init' speaks
# (the store and the case it loaded). When a step fails, one line on stderr says which step, with
# the installer's first error and the log that keeps the whole output, and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp "${TMPDIR:-/tmp}/harbinger-setup.XXXXXX")

step() {  # step WHAT COMMAND...: run COMMAND with its output in the log; stop with one line if it fails
  local what=$1 rc=0
  shift
  "$@" >>"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    local why
    why=$(grep -m 1 -E '^(ERROR|error):' "$log" || tail -n 1 "$log" || true)
    echo "setup.sh: $what failed (exit $rc)${why:+: $why}; the full output is in $log" >&2
    exit 1
  fi
}

if [ ! -x .venv/bin/python ]; then
  step "creating the virtual environment .venv (python3 -m venv)" python3 -m venv .venv
fi
step "upgrading pip in .venv" .venv/bin/python -m pip install -q --upgrade pip
step "installing Harbinger and its dependencies (pip install -e '.[test,report,team]')" \
  .venv/bin/python -m pip install -q -e ".[test,report,team]"
rm -f "$log"
.venv/bin/harbinger init
