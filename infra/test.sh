#!/usr/bin/env bash
# Set up and run every check: ruff, mypy, then pytest (unit + integration against the real local
# stack, which the test session starts if it is not running and stops again afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/pytest "$@"
