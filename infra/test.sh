#!/usr/bin/env bash
# Set up and run every check: ruff, mypy, then pytest (unit + integration + end-to-end against the real
# local stack). The stack is started here (outside the per-test timeouts, since the first start
# downloads jars) and stopped again at the end if this script started it, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
sn=.venv/bin/supplynet

# The stack starts while the linters run (its JVMs wait on disk and ports, mypy on the CPU); its
# output is shown once the linters are done. A lint failure still stops what it started.
if $sn stack status >/dev/null 2>&1; then started_here=no; else started_here=yes; fi
stack_log=$(mktemp)
$sn stack up >"$stack_log" 2>&1 &
stack_pid=$!
if [ "$started_here" = yes ]; then trap 'wait $stack_pid 2>/dev/null; $sn stack down' EXIT; fi

# Separate commands, not `a && b`: errexit ignores a failure on the left of `&&`.
echo "== ruff"; .venv/bin/ruff check .; .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy

echo "== stack"
stack_rc=0
wait $stack_pid || stack_rc=$?
cat "$stack_log"; rm -f "$stack_log"
[ "$stack_rc" = 0 ] || { echo "stack up failed (exit $stack_rc)"; exit "$stack_rc"; }

echo "== pytest"
.venv/bin/pytest "$@"
