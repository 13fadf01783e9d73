#!/usr/bin/env bash
# User-space instructions per request of a shardgate binary, counted by valgrind's callgrind
# while bench/compare.sh drives it: a measure of the proxy's own work that does not move with
# the machine's load the way CPU time does (on a shared 2-core machine CPU per transaction
# moves by 10-15 % between rounds; this count moves by about 2 %). Kernel time is not in it:
# compare.sh's CPU figures remain the measure against PgBouncer.
#
#   bash bench/instructions.sh BIN [BASELINE_BIN] [-- compare.sh args]
#   bash bench/instructions.sh build/proxy/shardgate /tmp/old-shardgate -- --modes simple --clients 1
#
# compare.sh args default to `--modes simple --clients 1` (one client: every request takes the
# same path, so the count is stable; with 50 clients the mix of pipelined and sequential
# requests changes with timing). After the warm-up the counters are zeroed, WINDOW seconds
# (default 8) are counted, then the count is divided by the requests begun in that window
# (ClientSession::begin_request calls: one per Query, or per Sync of an extended batch).
# Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed: apt-get install valgrind" >&2; exit 2; }
bins=()
while [[ $# -gt 0 && $1 != -- ]]; do bins+=("$(realpath "$1")"); shift; done
[[ ${1:-} == -- ]] && shift
args=("$@")
[[ ${#args[@]} -eq 0 ]] && args=(--modes simple --clients 1)
[[ ${#bins[@]} -ge 1 ]] || { echo "usage: $0 BIN [BASELINE_BIN] [-- compare.sh args]" >&2; exit 2; }
work=$(mktemp -d /tmp/sg-instr-XXXXXX)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$work"' EXIT

count() {  # count BIN TAG
  local bin=$1 dir=$work/$2
  mkdir -p "$dir"
  # compare.sh runs `BIN --check-config` itself, then the proxy: only the proxy runs under
  # callgrind. The wrapper's name is what compare.sh looks for in the process list.
  cat >"$dir/shardgate" <<EOF
#!/bin/bash
for a in "\$@"; do [[ \$a == --check-config ]] && exec "$bin" "\$@"; done
exec valgrind --tool=callgrind --callgrind-out-file="$dir/cg.%p.out" "$bin" "\$@"
EOF
  chmod +x "$dir/shardgate"
  timeout 600 bash bench/compare.sh --bin "$dir/shardgate" --targets shardgate \
    --seconds $((${WINDOW:-8} + 12)) --rounds 1 --warmup 2 "${args[@]}" >"$dir/compare.log" 2>&1 &
  local runner=$! pid=""
  for _ in $(seq 240); do
    sleep 0.5
    grep -q " round 1 \|warm-up" "$dir/compare.log" 2>/dev/null && break
  done
  sleep 3
  pid=$(callgrind_control 2>/dev/null | awk -v b="$bin" '$1 == "PID" && index($0, b) {sub(":", "", $2); print $2; exit}')
  [[ -n $pid ]] || { echo "no callgrind process found; compare.sh log:" >&2; cat "$dir/compare.log" >&2; return 1; }
  callgrind_control -z "$pid" >/dev/null 2>&1
  sleep "${WINDOW:-8}"
  callgrind_control -d "$pid" >/dev/null 2>&1
  wait "$runner" || true
  local dump
  dump=$(ls "$dir"/cg.*.out.1 2>/dev/null | head -1)
  [[ -n $dump ]] || { echo "callgrind wrote no dump; compare.sh log:" >&2; cat "$dir/compare.log" >&2; return 1; }
  callgrind_annotate --auto=no --threshold=100 --tree=caller "$dump" 2>/dev/null |
    python3 -c '
import re, sys
total = requests = 0
for line in sys.stdin:
    if "PROGRAM TOTALS" in line:
        total = int(line.split()[0].replace(",", ""))
    m = re.search(r"ClientSession::begin_request\(char, [^)]*\) \(([\d,]+)x\)", line)
    if m:
        requests = max(requests, int(m.group(1).replace(",", "")))
if not requests:
    sys.exit("no requests counted in the window")
print(f"{sys.argv[1]}: {total / requests:,.0f} instructions per request "
      f"({requests:,} requests, {total / 1e6:,.1f} M instructions in the window)")
' "$bin"
}

count "${bins[0]}" a
[[ ${#bins[@]} -ge 2 ]] && count "${bins[1]}" b
exit 0
