#!/usr/bin/env bash
# The main job on a fresh machine: set up, start Kafka + Neo4j, create topics/constraints/tables,
# stream the generated Hubei world through HTTP ingest, the Kafka producer and file imports with the
# worker and live risk running, print the riskiest partners, the flood what-if and GraphQL queries
# with a key, then serve GraphQL and the console (docs/demo.md). Ctrl-C stops the API, the worker and
# live risk; `.venv/bin/supplynet stack down` stops the servers. `--no-serve` stops after the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
exec .venv/bin/supplynet demo "$@"
