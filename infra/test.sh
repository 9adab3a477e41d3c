#!/usr/bin/env bash
# Set up and run every check: ruff, mypy, then pytest (unit + integration + end-to-end against the real
# local stack). The stack is started here (outside the per-test timeouts, since the first start
# downloads jars) and stopped again at the end if this script started it, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
sn=.venv/bin/supplynet

# Separate commands, not `a && b`: errexit ignores a failure on the left of `&&`.
echo "== ruff"; .venv/bin/ruff check .; .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy

echo "== stack"
if $sn stack status >/dev/null 2>&1; then started_here=no; else started_here=yes; fi
if [ "$started_here" = yes ]; then trap '$sn stack down' EXIT; fi
$sn stack up

echo "== pytest"
.venv/bin/pytest "$@"
