#!/usr/bin/env bash
# The main job on a fresh machine: set up, start Kafka + Neo4j, create topics/constraints/tables,
# push sample events, run the worker, serve GraphQL and print a sample query. Ctrl-C stops the API
# and the worker; `.venv/bin/supplynet stack down` stops the servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
exec .venv/bin/supplynet demo "$@"
