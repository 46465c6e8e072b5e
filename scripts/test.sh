#!/usr/bin/env bash
# The project's test command (README Quickstart): every tier, slow included.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
exec "$PY" -m pytest "$@"
