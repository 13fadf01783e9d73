#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries a binary links against, one per
# line: what the Dockerfile's runtime stage installs next to the shardgate binary. Deriving the
# list from the binary keeps the image right when the build gains or drops a library.
#   bash docker/runtime-packages.sh build/proxy/shardgate
set -euo pipefail
binary=${1:?usage: runtime-packages.sh BINARY}
libs=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
if ldd "$binary" | grep -q 'not found'; then
  echo "runtime-packages: $binary has unresolved libraries:" >&2
  ldd "$binary" | grep 'not found' >&2
  exit 1
fi
for lib in $libs; do
  # dpkg knows a library by the path it installed; /lib is a symlink to /usr/lib on Debian 12.
  owner=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null) || {
    echo "runtime-packages: no Debian package owns $lib" >&2
    exit 1
  }
  # "pkg:arch: /path" (or "pkg1, pkg2: /path" for a diverted file): keep the first package.
  echo "${owner%%: /*}" | cut -d, -f1 | cut -d: -f1
done | sort -u
