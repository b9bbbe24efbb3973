#!/usr/bin/env bash
# Real Apache Kafka 4.x (KRaft, one node) from Maven Central jars, run on the machine's JDK.
# Usage: deploy/local/kafka.sh fetch|start|stop|status
# Everything it makes lives under $CACHE_DIR/kafka (git-ignored). start and stop are idempotent.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE_DIR="${CACHE_DIR:-$ROOT/.cache}"
K="$CACHE_DIR/kafka"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-19094}"
# The SCRAM-SHA-512 user of the SASL_PLAINTEXT listener (a local test login, not a secret).
SASL_USER=tsync-test
SASL_PASSWORD=tsync-test-secret
PID_FILE="$K/broker.pid"
LOG_FILE="$K/broker.log"

log() { echo "[kafka] $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

fetch() {
  if [ -f "$K/lib/.complete" ]; then return; fi
  command -v java >/dev/null || { log "java (JDK >= 17) is required"; exit 1; }
  command -v mvn >/dev/null || { log "mvn (Apache Maven) is required to fetch Kafka's jars"; exit 1; }
  log "resolving Kafka's jars from Maven Central into $K/lib"
  rm -rf "$K/lib"; mkdir -p "$K/lib"
  mvn -B -q -f "$HERE/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$K/lib" -DincludeScope=runtime
  ls "$K/lib" | grep -q '^kafka_2.13-' || { log "kafka_2.13 jar missing after mvn"; exit 1; }
  touch "$K/lib/.complete"
}

java_tool() { java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "$@"; }

# Storage formatted before the SASL listener existed has no SCRAM user yet: add it once, through the
# PLAINTEXT listener (new storage gets it from the format).
cluster_id() { sed -n 's/^cluster.id=//p' "$K/data/meta.properties"; }

scram_user() {
  if [ "$(cat "$K/scram-user" 2>/dev/null)" = "$(cluster_id)" ]; then return; fi
  log "adding the SCRAM user $SASL_USER for the SASL listener"
  java_tool "-Dlog4j2.configurationFile=$HERE/kafka/log4j2.xml" -cp "$K/lib/*" kafka.admin.ConfigCommand \
    --bootstrap-server "127.0.0.1:$KAFKA_PORT" --alter --entity-type users --entity-name "$SASL_USER" \
    --add-config "SCRAM-SHA-512=[iterations=4096,password=$SASL_PASSWORD]" > "$K/scram.log" 2>&1 \
    || { log "adding the SCRAM user failed:"; tail -n 20 "$K/scram.log" >&2; exit 1; }
  cluster_id > "$K/scram-user"
}

start() {
  if running && port_open "$KAFKA_PORT"; then
    log "already running on 127.0.0.1:$KAFKA_PORT"
    if ! port_open "$KAFKA_SASL_PORT"; then
      log "it predates the SASL listener (127.0.0.1:$KAFKA_SASL_PORT); restart it to get one: $0 stop; $0 start"
    fi
    return
  fi
  if port_open "$KAFKA_PORT"; then
    log "port $KAFKA_PORT is taken by another process; set KAFKA_PORT or KAFKA_BOOTSTRAP_SERVERS"; exit 1
  fi
  fetch
  mkdir -p "$K/data" "$K/logs"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@SASL_PORT@|$KAFKA_SASL_PORT|g" \
      -e "s|@DATA_DIR@|$K/data|g" "$HERE/kafka/server.properties" > "$K/server.properties"
  local log4j="-Dlog4j2.configurationFile=$HERE/kafka/log4j2.xml"
  if [ ! -f "$K/data/meta.properties" ]; then
    local cid
    cid="$(python3 -c 'import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not s.startswith("-"):
        print(s)
        break')"
    log "formatting KRaft storage (cluster id $cid)"
    java_tool "$log4j" -cp "$K/lib/*" kafka.tools.StorageTool format -t "$cid" -c "$K/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=$SASL_USER,iterations=4096,password=$SASL_PASSWORD]" \
      > "$K/format.log" 2>&1 || { log "format failed:"; tail -n 40 "$K/format.log" >&2; exit 1; }
    echo "$cid" > "$K/scram-user"
  fi
  log "starting broker on 127.0.0.1:$KAFKA_PORT (log: $LOG_FILE)"
  : > "$LOG_FILE"
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "$log4j" "-Dkafka.logs.dir=$K/logs" -cp "$K/lib/*" kafka.Kafka "$K/server.properties" \
    >> "$LOG_FILE" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120}))
  until grep -q 'Kafka Server started' "$LOG_FILE" && port_open "$KAFKA_PORT"; do
    if ! running; then log "broker exited during start-up:"; tail -n 40 "$LOG_FILE" >&2; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then log "broker not ready in time:"; tail -n 40 "$LOG_FILE" >&2; exit 1; fi
    sleep 0.5
  done
  scram_user
  log "ready on 127.0.0.1:$KAFKA_PORT (SASL_PLAINTEXT, SCRAM-SHA-512: 127.0.0.1:$KAFKA_SASL_PORT)"
}

stop() {
  if ! running; then rm -f "$PID_FILE"; log "not running"; return; fi
  local pid; pid="$(cat "$PID_FILE")"
  log "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
}

status() {
  if running && port_open "$KAFKA_PORT"; then echo "kafka: running on 127.0.0.1:$KAFKA_PORT"; else echo "kafka: stopped"; return 1; fi
}

case "${1:-}" in
  fetch) fetch ;; start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
