#!/usr/bin/env bash
# Builds shardgate into build/ (or $BUILD_DIR) with ninja and ccache; prints the binary path.
# Extra CMake flags come from $CMAKE_ARGS, e.g. CMAKE_ARGS="-DSHARDGATE_WERROR=ON".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build_dir=${BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" ${CMAKE_ARGS:-} >/dev/null
ninja -C "$build_dir" >&2
echo "$PWD/$build_dir/proxy/shardgate"
