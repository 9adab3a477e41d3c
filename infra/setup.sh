#!/usr/bin/env bash
# Idempotent setup of a fresh machine: Java 17, Maven and PostgreSQL (Debian packages) if missing, and
# the Python virtualenv at .venv with supplynet and its dev tools. Jars are resolved later, on first
# `stack up`.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
# The production record store (`supplynet stack up postgres`); the tests run the SQL store against it.
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
  echo "installing ${need_apt[*]} from Debian packages"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: supplynet needs Python >= 3.11 ($PY is $("$PY" -V 2>&1))" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,postgres]"
echo "setup done: $(.venv/bin/supplynet --help >/dev/null && echo 'supplynet command ready in .venv/bin')"
