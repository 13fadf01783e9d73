#!/usr/bin/env bash
# Runs every test: unit tests (plain and under ASan+UBSan), bounded fuzzing of every network
# parser, the demo smoke test and the integration suite against real PostgreSQL 15 shards
# (through an ASan+UBSan build of the proxy, then through the release build).
# Installs what it needs first. FUZZ_SECONDS (default 20) bounds each fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH="/usr/lib/postgresql/15/bin:$PATH"
# A leak inside libpg_query itself (see the file) must not fail the sanitizer and fuzz passes.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
PY=/usr/bin/python3
jobs=$(nproc)

step() { echo; echo "==== $*"; }

step "layout (clang-format, .clang-format at the root)"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

step "sizes (no product .cc over 520 lines, no function over 80)"
/usr/bin/python3 scripts/check_sizes.py

step "build (warnings are errors)"
CMAKE_ARGS="-DSHARDGATE_WERROR=ON" bash scripts/build.sh >/dev/null

step "unit tests"
ctest --test-dir build --output-on-failure -j "$jobs"

step "unit tests under ASan+UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSHARDGATE_SANITIZE=ON \
  -DSHARDGATE_WERROR=ON -DSHARDGATE_BENCH=OFF >/dev/null
ninja -C build-asan sg_unit_tests shardgate
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"

step "fuzzing (${FUZZ_SECONDS:-20} s per target)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSHARDGATE_FUZZ=ON -DSHARDGATE_TESTS=OFF -DSHARDGATE_BENCH=OFF -DSHARDGATE_CORE_ONLY=ON >/dev/null
ninja -C build-fuzz
for target in build-fuzz/tests/fuzz/fuzz_*; do
  name=$(basename "$target")
  corpus=$(mktemp -d)
  [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$corpus/"
  echo "-- $name"
  dict=(); [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  "$target" "${dict[@]}" -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=2048 -print_final_stats=0 \
    "$corpus" 2>&1 | tail -n 2
  rm -rf "$corpus"
done

step "demo smoke test"
$PY scripts/demo.py --smoke

step "integration tests against the ASan+UBSan proxy (memory errors end the proxy: teardown fails)"
# The 200 MB streaming test measures RSS, which ASan inflates: it runs in the plain pass below.
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 SHARDGATE_BIN="$PWD/build-asan/proxy/shardgate" \
  $PY -m pytest -q -p no:cacheprovider tests/integration --ignore=tests/integration/test_streaming.py

step "integration tests (real PostgreSQL 15 shards, real clients)"
SHARDGATE_BIN="$PWD/build/proxy/shardgate" $PY -m pytest -q tests/integration
