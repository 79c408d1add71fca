#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 + PostGIS 3 cluster for the store tests and
# prints its URL on stdout, so that
#
#   export ATALAYA_TEST_POSTGRES_URL=$(scripts/postgres.sh)
#
# points the tests at it. Installs Debian's postgresql-15-postgis-3 if it is
# missing (needs root and apt). The cluster lives in a temp directory, trusts
# local connections (tests only: never for data anyone needs), listens on
# 127.0.0.1 on a free port and is owned by the postgres user.
#
#   scripts/postgres.sh stop DIR   stops the cluster in DIR and removes it
#                                  (DIR is printed on stderr at start).
set -euo pipefail

if [ "${1:-}" = stop ]; then
  dir=${2:?usage: scripts/postgres.sh stop DIR}
  bin=$(ls -d /usr/lib/postgresql/15/bin)
  su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' -m immediate stop" >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

PGBIN=/usr/lib/postgresql/15/bin
if ! [ -x "$PGBIN/initdb" ] || ! [ -e /usr/share/postgresql/15/extension/postgis.control ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "postgres.sh: postgresql-15-postgis-3 is missing and installing it needs root" >&2
    exit 1
  fi
  echo "postgres.sh: installing postgresql-15-postgis-3" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      postgresql-15 postgresql-15-postgis-3 >&2; then
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      postgresql-15 postgresql-15-postgis-3 >&2
  fi
fi

# A free port: bind to port 0 and read back what the kernel chose.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)))

dir=$(mktemp -d /tmp/atalaya-pg.XXXXXX)
chown postgres: "$dir"
chmod 700 "$dir"
run() { su postgres -s /bin/sh -c "$*"; }
run "$PGBIN/initdb -A trust -U postgres -E UTF8 --locale=C -D '$dir/data'" >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
# Tests only: no fsync, sockets in the cluster's own directory.
run "$PGBIN/pg_ctl -D '$dir/data' -l '$dir/server.log' -w -t 30 \
  -o \"-c listen_addresses=127.0.0.1 -p $port -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\" start" >&2 ||
  { cat "$dir/server.log" >&2; exit 1; }
echo "postgres.sh: cluster in $dir (stop: scripts/postgres.sh stop $dir)" >&2
echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
