#!/usr/bin/env bash
# Runs bench/compare.py (PostgreSQL direct vs PgBouncer vs shardgate) with Debian's python3,
# building shardgate first if there is no binary yet. Arguments go to compare.py, e.g.
#   bash bench/compare.sh --seconds 5 --rounds 1
#   bash bench/compare.sh --clients 1000 --modes simple --json /tmp/c1000.json
#   bash bench/compare.sh --scripts plain,orm,qualified   # ORM-shaped and schema-qualified too
# A pgbench run whose output has any ERROR: line counts as failed (pgbench 15 logs a failed
# prepare and carries on, exiting 0 with a tps that means nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SHARDGATE_BIN:-$PWD/build/proxy/shardgate}
if [[ ! -x $bin ]]; then
  echo "compare.sh: no shardgate binary at $bin; building with scripts/build.sh" >&2
  bin=$(bash scripts/build.sh | tail -n 1)
fi
for tool in pgbench pgbouncer; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool not found" >&2; exit 2; }
done
export SHARDGATE_BIN=$bin
exec /usr/bin/python3 bench/compare.py "$@"
