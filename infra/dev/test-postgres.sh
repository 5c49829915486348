#!/usr/bin/env bash
# Start (idempotently) a throw-away PostgreSQL server on 127.0.0.1 for the test suite and print
# the URL to export as RANGE_TEST_POSTGRES_URL. Uses Debian's packaged server binaries.
#   eval "$(infra/dev/test-postgres.sh)"
set -euo pipefail
PORT="${RANGE_TEST_PG_PORT:-55432}"
BASE="${RANGE_TEST_PG_DIR:-/tmp/range-test-pg}"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$PGBIN" ]; then
  echo "PostgreSQL server binaries not found: apt-get install -y postgresql" >&2
  exit 1
fi
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  mkdir -p "$BASE"
  [ "$(id -u)" = 0 ] && chown postgres: "$BASE"
  if [ ! -f "$BASE/data/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$BASE/data" -A trust -U postgres --no-sync >/dev/null
  fi
  as_pg "$PGBIN/pg_ctl" -D "$BASE/data" -l "$BASE/server.log" -w -t 60 \
    -o "-p $PORT -k $BASE -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
fi
echo "export RANGE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
