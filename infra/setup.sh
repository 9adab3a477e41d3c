#!/usr/bin/env bash
# Idempotent setup of a fresh machine: Java 17, Maven, PostgreSQL and chromium (Debian packages) if
# missing, the Python virtualenv at .venv with supplynet and its dev tools, and the web console's build
# (console/dist) when npm is present. Jars are resolved later, on first `stack up`.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
# The production record store (`supplynet stack up postgres`); the tests run the SQL store against it.
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need_apt+=(postgresql)
# The console's browser tests drive Debian's chromium headless (tests/integration/test_console.py).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# ... and a CJK font, so that its screenshots show Chinese text (the console ships no web fonts).
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need_apt+=(fonts-wqy-microhei)
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
# uv (from PyPI) installs the same versions as pip in a third of the time (14 s against 45 s from
# nothing here: every CI run sets up a fresh clone); pip stays the fallback. UV_SYSTEM_CERTS: uv
# trusts its own bundled roots by default, and refuses a site whose TLS proxy is trusted by the
# system's store only (pip uses that store; uv without it fails with UnknownIssuer here).
if ! { .venv/bin/python -m pip install -q uv \
  && UV_SYSTEM_CERTS=1 .venv/bin/uv pip install -q --python .venv/bin/python -e ".[dev,postgres]"; }; then
  echo "uv could not install the environment; pip installs it"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev,postgres]"
fi
# The web console (console/): built into console/dist, which the API serves at /console.
if command -v npm >/dev/null 2>&1; then
  (cd console && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
else
  echo "npm not found: the web console is not built (/console will say how to build it)"
fi
echo "setup done: $(.venv/bin/supplynet --help >/dev/null && echo 'supplynet command ready in .venv/bin')"
