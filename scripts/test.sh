#!/usr/bin/env bash
# Every test, twice: on SQLite, then on a throwaway PostgreSQL cluster this script starts on a
# private port and removes on exit. Extra arguments go to pytest (e.g. scripts/test.sh -k login).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv/bin

echo "== lint (ruff) =="
$VENV/ruff check --quiet .
$VENV/ruff format --check --quiet .
echo "ruff: clean"

echo
echo "== tests on SQLite =="
DATABASE_URL="sqlite:///$PWD/var/test-sqlite.sqlite3" $VENV/pytest "$@"

echo
echo "== tests on PostgreSQL =="
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL server binaries not found (scripts/setup.sh --test installs them)"; exit 1; }
PG_DIR="$(mktemp -d /tmp/referloop-pg.XXXXXX)"
PG_PORT="$($VENV/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_pg() {
    # PostgreSQL refuses to run as root: use the postgres account there, ourselves otherwise.
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
cleanup() {
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
}
trap cleanup EXIT
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -o \
    "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/referloop" $VENV/pytest "$@"
