#!/usr/bin/env bash
# Jaeger v2 (OTLP in, traces in memory, query API + UI out), built from its Go module.
# Usage: deploy/local/jaeger.sh fetch|start|stop|status
# Everything it makes lives under $CACHE_DIR (git-ignored): the binary in bin/, the rest in
# jaeger/. start and stop are idempotent. Environment: JAEGER_OTLP_PORT (14318, OTLP/HTTP),
# JAEGER_QUERY_PORT (16687, API and UI), JAEGER_QUERY_GRPC_PORT (16689), JAEGER_MAX_TRACES (100000).
#
# Why not `go install …/cmd/jaeger@VERSION`: Jaeger's go.mod has a replace directive, which
# `go install pkg@version` refuses. Building inside the module's own directory (downloaded into
# the module cache and checked against sum.golang.org, as `go install` would) gives the same binary.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE_DIR="${CACHE_DIR:-$ROOT/.cache}"
J="$CACHE_DIR/jaeger"
# Module v1.76.0: its cmd/jaeger is Jaeger v2 (an OpenTelemetry Collector distribution).
JAEGER_VERSION=v1.76.0
JAEGER_BIN="$CACHE_DIR/bin/jaeger"
JAEGER_OTLP_PORT="${JAEGER_OTLP_PORT:-14318}"
JAEGER_QUERY_PORT="${JAEGER_QUERY_PORT:-16687}"
JAEGER_QUERY_GRPC_PORT="${JAEGER_QUERY_GRPC_PORT:-16689}"
JAEGER_MAX_TRACES="${JAEGER_MAX_TRACES:-100000}"
PID_FILE="$J/jaeger.pid"
LOG_FILE="$J/jaeger.log"

log() { echo "[jaeger] $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

ready() { curl -fsS -o /dev/null "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services" 2>/dev/null; }

fetch() {
  if [ -x "$JAEGER_BIN" ] && [ "$(cat "$JAEGER_BIN.version" 2>/dev/null)" = "$JAEGER_VERSION" ]; then return; fi
  command -v go >/dev/null || { log "go is required to build Jaeger"; exit 1; }
  log "building Jaeger (module $JAEGER_VERSION) from the Go module proxy into $JAEGER_BIN"
  local started=$SECONDS dir
  dir="$(go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
  mkdir -p "$CACHE_DIR/bin"
  (cd "$dir" && GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath \
    -ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$JAEGER_VERSION" \
    -o "$JAEGER_BIN.tmp" ./cmd/jaeger)
  mv "$JAEGER_BIN.tmp" "$JAEGER_BIN"
  echo "$JAEGER_VERSION" > "$JAEGER_BIN.version"
  log "built in $((SECONDS - started))s"
}

start() {
  if running && ready; then log "already running (query http://127.0.0.1:$JAEGER_QUERY_PORT)"; return; fi
  for port in "$JAEGER_OTLP_PORT" "$JAEGER_QUERY_PORT" "$JAEGER_QUERY_GRPC_PORT"; do
    if ! running && port_open "$port"; then
      log "port $port is taken by another process; set JAEGER_OTLP_PORT / JAEGER_QUERY_PORT / JAEGER_QUERY_GRPC_PORT"
      exit 1
    fi
  done
  fetch
  mkdir -p "$J"
  sed -e "s|@OTLP_PORT@|$JAEGER_OTLP_PORT|g" -e "s|@QUERY_PORT@|$JAEGER_QUERY_PORT|g" \
      -e "s|@QUERY_GRPC_PORT@|$JAEGER_QUERY_GRPC_PORT|g" -e "s|@MAX_TRACES@|$JAEGER_MAX_TRACES|g" \
      "$HERE/jaeger/config.yaml" > "$J/config.yaml"
  if ! running; then
    log "starting: OTLP/HTTP on 127.0.0.1:$JAEGER_OTLP_PORT, query on 127.0.0.1:$JAEGER_QUERY_PORT (log: $LOG_FILE)"
    : > "$LOG_FILE"
    nohup "$JAEGER_BIN" --config "$J/config.yaml" >> "$LOG_FILE" 2>&1 < /dev/null &
    echo $! > "$PID_FILE"
  fi
  local deadline=$((SECONDS + ${JAEGER_START_TIMEOUT:-60}))
  until ready && port_open "$JAEGER_OTLP_PORT"; do
    if ! running; then log "Jaeger exited during start-up:"; tail -n 40 "$LOG_FILE" >&2; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then log "Jaeger not ready in time:"; tail -n 40 "$LOG_FILE" >&2; exit 1; fi
    sleep 0.2
  done
  log "ready: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$JAEGER_OTLP_PORT, UI http://127.0.0.1:$JAEGER_QUERY_PORT"
}

stop() {
  if ! running; then rm -f "$PID_FILE"; log "not running"; return; fi
  local pid; pid="$(cat "$PID_FILE")"
  log "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

status() {
  if running && ready; then
    echo "jaeger: running (OTLP http://127.0.0.1:$JAEGER_OTLP_PORT, query http://127.0.0.1:$JAEGER_QUERY_PORT)"
  else
    echo "jaeger: stopped"; return 1
  fi
}

case "${1:-}" in
  fetch) fetch ;; start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
