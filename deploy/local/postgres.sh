#!/usr/bin/env bash
# A project-owned PostgreSQL cluster from Debian's packages, on its own port, under $CACHE_DIR/postgres
# (git-ignored), so it never collides with a server the user already runs.
# Usage: deploy/local/postgres.sh start|stop|status
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE_DIR="${CACHE_DIR:-$ROOT/.cache}"
P="$CACHE_DIR/postgres"
PG_PORT="${PG_PORT:-55432}"
PG_DATABASE="${PG_DATABASE:-tripletex_sync}"

log() { echo "[postgres] $*" >&2; }

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; fi
  done | sort -V | tail -n 1
}

ensure_installed() {
  if [ -n "$(pg_bindir)" ]; then return; fi
  if [ "$(id -u)" -ne 0 ]; then
    log "PostgreSQL server binaries not found; install Debian's 'postgresql' package (needs root)"; exit 1
  fi
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  [ -n "$(pg_bindir)" ] || { log "apt-get installed no initdb"; exit 1; }
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the 'postgres' system user.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

BIN=""
pgctl() { as_owner "$BIN/pg_ctl" -D "$P/data" "$@"; }

start() {
  ensure_installed
  BIN="$(pg_bindir)"
  mkdir -p "$P"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown postgres "$P"
  fi
  if [ ! -f "$P/data/PG_VERSION" ]; then
    log "initialising a cluster in $P/data"
    as_owner "$BIN/initdb" -D "$P/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 > "$P/initdb.log" 2>&1 \
      || { tail -n 20 "$P/initdb.log" >&2; exit 1; }
  fi
  if pgctl status >/dev/null 2>&1; then
    log "already running on 127.0.0.1:$PG_PORT"
  else
    log "starting on 127.0.0.1:$PG_PORT (log: $P/server.log)"
    pgctl -w -t 60 -l "$P/server.log" \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$P -c fsync=off -c max_connections=200" \
      start > /dev/null || { tail -n 30 "$P/server.log" >&2; exit 1; }
  fi
  if ! as_owner "$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -Atqc \
      "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'" postgres | grep -q 1; then
    as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DATABASE"
  fi
  log "ready: postgresql://postgres@127.0.0.1:$PG_PORT/$PG_DATABASE"
}

stop() {
  BIN="$(pg_bindir)"
  if [ -z "$BIN" ] || [ ! -f "$P/data/PG_VERSION" ] || ! pgctl status >/dev/null 2>&1; then
    log "not running"; return
  fi
  log "stopping"
  pgctl -m fast -w stop > /dev/null
}

status() {
  BIN="$(pg_bindir)"
  if [ -n "$BIN" ] && [ -f "$P/data/PG_VERSION" ] && pgctl status >/dev/null 2>&1; then
    echo "postgres: running on 127.0.0.1:$PG_PORT"
  else
    echo "postgres: stopped"; return 1
  fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
