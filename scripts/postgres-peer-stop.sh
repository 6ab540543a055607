#!/bin/bash
# postgres-peer-stop.sh - stop a cluster started by postgres-peer-start.sh and remove its directory.
# Usage: postgres-peer-stop.sh [DIR]        (default: $PEERS_DIR)
# Refuses a directory without the .hsv-postgres-peer marker the start script writes. Stops the server with
# pg_ctl (fast shutdown), then by its recorded postmaster PID (SIGTERM, SIGKILL after 5 s) if it still runs.
set -uo pipefail

die() { echo "postgres-peer-stop: ERROR: $*" >&2; exit 1; }
DIR="${1:-${PEERS_DIR:-}}"
[[ -n "$DIR" ]] || die "give the cluster directory (argument or PEERS_DIR)"
[[ -d "$DIR" ]] || { echo "postgres-peer-stop: no directory $DIR, nothing to stop" >&2; exit 0; }
DIR=$(readlink -f "$DIR")
[[ -f "$DIR/.hsv-postgres-peer" ]] || die "$DIR was not made by postgres-peer-start.sh (no .hsv-postgres-peer), left alone"
DATA="$DIR/data"

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
if [[ $(id -u) -eq 0 ]]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi

postmaster_pid() {   # the PID in postmaster.pid if that process is a postgres serving $DATA
  local pid
  [[ -s "$DATA/postmaster.pid" ]] || return 1
  pid=$(head -1 "$DATA/postmaster.pid" | tr -dc 0-9)
  [[ -n "$pid" && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$DATA" || return 1
  echo "$pid"
}

rc=0
if pid=$(postmaster_pid); then
  if [[ -x "$PG_BIN/pg_ctl" ]]; then as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 20 stop >/dev/null 2>&1; fi
  if postmaster_pid >/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do postmaster_pid >/dev/null || break; sleep 0.1; done
  fi
  if postmaster_pid >/dev/null; then
    echo "postgres-peer-stop: SIGKILL $pid (did not stop)" >&2
    kill -KILL "$pid" 2>/dev/null
    sleep 0.3
  fi
  if postmaster_pid >/dev/null; then echo "postgres-peer-stop: WARNING server $pid still running" >&2; rc=1; fi
fi
if [[ $rc -eq 0 ]]; then
  rm -rf "$DIR"
  echo "postgres-peer-stop: stopped and removed $DIR" >&2
fi
exit $rc
