#!/usr/bin/env bash
# The embedded demo: installs dependencies, builds shardgate, then starts two local PostgreSQL
# shards with three sample tenants and shardgate on 127.0.0.1:6432 in the foreground.
# Ctrl-C stops everything. Extra arguments go to scripts/demo.py (e.g. --smoke).
# Environment: SHARDGATE_DEMO_DIR (default ./data/demo), SHARDGATE_DEMO_PORT (default 6432).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
binary=$(bash scripts/build.sh | tail -n 1)
exec /usr/bin/python3 scripts/demo.py --bin "$binary" "$@"
