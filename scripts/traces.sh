#!/usr/bin/env bash
# A local trace viewer: Jaeger v2 on loopback with in-memory storage.
#
#   scripts/traces.sh [up|down|status]      (default: up)
#
# Then start the hub with OTEL_TRACES_EXPORTER=otlp (the services' default OTLP endpoint,
# http://127.0.0.1:4318, is this Jaeger) and open http://127.0.0.1:16686.
#
# Jaeger is built from the Go module proxy on first use, pinned by deploy/jaeger/go.mod and
# go.sum; `go install github.com/jaegertracing/jaeger/cmd/jaeger@VERSION` cannot be used
# because Jaeger's own go.mod carries a replace directive, which `go install pkg@version`
# refuses. Binary, log and pid live under .data/ (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOL_MODULE="$ROOT/deploy/jaeger"
CONFIG="$TOOL_MODULE/config.yaml"
BIN="$ROOT/.data/bin/jaeger"
STAMP="$ROOT/.data/bin/jaeger.source-sha256"
LOG="$ROOT/.data/logs/jaeger.log"
PID_FILE="$ROOT/.data/run/jaeger.pid"
HOST=127.0.0.1
UI_PORT=16686
OTLP_HTTP_PORT=4318
PORTS=(4317 "$OTLP_HTTP_PORT" 16685 "$UI_PORT")
START_TIMEOUT_SECONDS=60

say() { printf '[traces] %s\n' "$*"; }
die() { printf '[traces] %s\n' "$*" >&2; exit 1; }

jaeger_version() {
  awk '$1 == "github.com/jaegertracing/jaeger" { print $2 }' "$TOOL_MODULE/go.mod"
}

port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

running_pid() {
  local pid
  [[ -f $PID_FILE ]] || return 1
  pid="$(cat "$PID_FILE")"
  # The comm check keeps a recycled pid from passing for our Jaeger.
  [[ $pid =~ ^[0-9]+$ ]] && [[ "$(ps -p "$pid" -o comm= 2>/dev/null)" == jaeger ]] || return 1
  echo "$pid"
}

source_digest() {
  cat "$TOOL_MODULE/go.mod" "$TOOL_MODULE/go.sum" | sha256sum | cut -d' ' -f1
}

build() {
  local version wanted started
  version="$(jaeger_version)"
  wanted="$(source_digest)"
  if [[ -x $BIN && -f $STAMP && "$(cat "$STAMP")" == "$wanted" ]]; then
    return
  fi
  command -v go >/dev/null || die "Go is needed to build Jaeger $version (see scripts/bootstrap.sh)"
  say "building Jaeger $version from the Go module proxy (first build takes about 10 minutes)"
  mkdir -p "$(dirname "$BIN")"
  started=$SECONDS
  # -buildvcs=false: the enclosing checkout's git state says nothing about Jaeger's version.
  (cd "$TOOL_MODULE" && go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$version" \
    -o "$BIN.partial" github.com/jaegertracing/jaeger/cmd/jaeger)
  mv "$BIN.partial" "$BIN"
  echo "$wanted" >"$STAMP"
  say "built $BIN in $((SECONDS - started))s"
}

cmd_up() {
  local pid port waited=0
  if pid="$(running_pid)"; then
    say "Jaeger already running (pid $pid): UI http://$HOST:$UI_PORT, OTLP http://$HOST:$OTLP_HTTP_PORT"
    return
  fi
  for port in "${PORTS[@]}"; do
    if port_open "$port"; then
      die "$HOST:$port is taken by another process; free it before starting Jaeger"
    fi
  done
  build
  mkdir -p "$(dirname "$LOG")" "$(dirname "$PID_FILE")"
  # Own session: Ctrl-C in the terminal that ran `make traces` must not stop the viewer.
  if command -v setsid >/dev/null; then
    setsid "$BIN" --config "file:$CONFIG" >>"$LOG" 2>&1 </dev/null &
  else
    nohup "$BIN" --config "file:$CONFIG" >>"$LOG" 2>&1 </dev/null &
  fi
  pid=$!
  echo "$pid" >"$PID_FILE"
  until port_open "$UI_PORT" && port_open "$OTLP_HTTP_PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      tail -n 20 "$LOG" >&2
      die "Jaeger exited during start-up; full log: $LOG"
    fi
    if ((waited >= START_TIMEOUT_SECONDS * 4)); then
      die "Jaeger (pid $pid) did not open its ports within ${START_TIMEOUT_SECONDS}s; log: $LOG"
    fi
    sleep 0.25
    waited=$((waited + 1))
  done
  say "Jaeger $(jaeger_version) running (pid $pid), log $LOG"
  say "  UI:   http://$HOST:$UI_PORT"
  say "  OTLP: http://$HOST:$OTLP_HTTP_PORT (HTTP), $HOST:4317 (gRPC)"
  say "  send the hub's traces: OTEL_TRACES_EXPORTER=otlp make up"
}

cmd_down() {
  local pid tries=0
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    say "Jaeger is not running"
    return
  fi
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    if ((tries >= 40)); then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.25
    tries=$((tries + 1))
  done
  rm -f "$PID_FILE"
  say "stopped Jaeger (pid $pid)"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    say "Jaeger running (pid $pid): UI http://$HOST:$UI_PORT, OTLP http://$HOST:$OTLP_HTTP_PORT"
  else
    say "Jaeger is not running"
    return 3
  fi
}

case "${1:-up}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) die "usage: scripts/traces.sh [up|down|status]" ;;
esac
