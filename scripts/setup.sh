#!/usr/bin/env bash
# Install Harbinger into .venv and load the shipped case (idempotent; safe to run again).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -m pip install -q -e ".[test,report,team]" 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/harbinger init
