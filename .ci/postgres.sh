#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the test suite and print its URL.
# Usage: eval "$(.ci/postgres.sh start)"   ...   .ci/postgres.sh stop
# Installs the Debian server package when it is missing. The server listens on 127.0.0.1 only.
set -euo pipefail
PGPORT="${P4DP_PG_PORT:-55432}"
PGDIR="${P4DP_PG_DIR:-/tmp/p4dp-ci-postgres}"

find_bin() {
  local candidate
  for candidate in /usr/lib/postgresql/*/bin; do
    if [ -x "$candidate/pg_ctl" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" = "0" ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

case "${1:-start}" in
  start)
    if ! BIN=$(find_bin); then
      echo "installing postgresql..." >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
      BIN=$(find_bin)
    fi
    as_pg "$BIN/pg_ctl -D $PGDIR stop -m immediate" >/dev/null 2>&1 || true
    rm -rf "$PGDIR"; mkdir -p "$PGDIR"
    [ "$(id -u)" = "0" ] && chown postgres "$PGDIR"
    as_pg "$BIN/initdb -D $PGDIR -U postgres --auth=trust -E UTF8" >/dev/null
    as_pg "$BIN/pg_ctl -D $PGDIR -l $PGDIR/server.log -o '-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1' -w start" >/dev/null
    as_pg "$BIN/psql -h 127.0.0.1 -p $PGPORT -U postgres -c 'CREATE DATABASE p4dp_test'" >/dev/null
    echo "export P4DP_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PGPORT/p4dp_test"
    ;;
  stop)
    BIN=$(find_bin) || exit 0
    as_pg "$BIN/pg_ctl -D $PGDIR stop -m fast" >/dev/null 2>&1 || true
    ;;
esac
