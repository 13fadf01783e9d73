#!/usr/bin/env bash
# Installs every system package shardgate needs to build, test, benchmark and run its demo,
# from Debian 12's archive only. Safe to run again: it skips packages already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libpq-dev libabsl-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
  libyaml-cpp-dev libjemalloc-dev libgtest-dev libgmock-dev libbenchmark-dev libpg-query-dev libprotobuf-c-dev libssl-dev
  postgresql-15 postgresql-client-15 pgbouncer python3 python3-psycopg python3-pytest python3-asyncpg
  clang clang-format libclang-rt-14-dev procps iproute2 prometheus python3-yaml
  python3-django python3-psycopg2 python3-sqlalchemy python3-alembic
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node-postgres runs in the integration suite: Debian's Node.js and npm, unless a node is here.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian postgresql package starts a cluster on 5432; shardgate's tests and demo run their own.
