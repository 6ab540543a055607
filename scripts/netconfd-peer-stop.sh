#!/bin/bash
# netconfd-peer-stop.sh - stop netconfd + sshd instances started by netconfd-peer-start.sh, by recorded PID.
# Usage: netconfd-peer-stop.sh [PORT ...]      (no args: every instance under $BASE/run/*)
# Kills, by PID only: netconfd (run/<port>/netconfd.pid), the sshd listener
# (run/<port>/sshd.pid), the listener's descendants (per-session sshd, sh,
# netconf-subsystem) and orphaned netconf-subsystem processes whose command line
# names this instance's private socket (run/<port>/ncxserver.sock).
# SIGTERM first, SIGKILL after 5 s (a wedged netconfd ignores SIGTERM).
set -uo pipefail
BASE="${PEERS_DIR:-${TMPDIR:-/tmp}/netconfd-peer}"

ports=("$@")
if [[ ${#ports[@]} -eq 0 ]]; then
  for d in "$BASE"/run/*/; do [[ -d "$d" ]] && ports+=("$(basename "$d")"); done
fi
[[ ${#ports[@]} -eq 0 ]] && { echo "stop: nothing to stop"; exit 0; }

# pid_if PIDFILE PATTERN: pid if alive (not zombie) and cmdline contains PATTERN
pid_if() {
  local f=$1 pat=$2 pid
  [[ -s "$f" ]] || return 1
  pid=$(tr -dc 0-9 < "$f")
  [[ -n "$pid" && -r /proc/$pid/cmdline ]] || return 1
  grep -qF -- "$pat" <(tr '\0' ' ' < /proc/$pid/cmdline) || return 1
  [[ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)" != Z ]] || return 1
  echo "$pid"
}
descendants() {   # all descendant pids of $1
  ps -eo pid=,ppid= | awk -v root="$1" '
    { kids[$2] = kids[$2] " " $1 }
    END { n = split(kids[root], q, " "); i = 1
          while (i <= n) { p = q[i++]; print p; m = split(kids[p], c, " "); for (j = 1; j <= m; j++) q[++n] = c[j] } }'
}

rc=0
for port in "${ports[@]}"; do
  RUN="$BASE/run/$port"
  [[ -d "$RUN" ]] || { echo "stop: no instance dir $RUN"; continue; }
  SOCK="$RUN/ncxserver.sock"
  pids=()
  npid=$(pid_if "$RUN/netconfd.pid" "$SOCK") && pids+=("$npid")
  spid=$(pid_if "$RUN/sshd.pid" "$RUN/sshd_config") && { pids+=("$spid"); pids+=($(descendants "$spid")); }
  # orphaned subsystem helpers of THIS instance (unique socket path in their argv)
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    if tr '\0' ' ' 2>/dev/null < /proc/$p/cmdline | grep -qF -- "@$SOCK"; then pids+=("$p"); fi
  done
  mapfile -t pids < <(printf '%s\n' "${pids[@]}" | awk 'NF && !seen[$0]++')
  if [[ ${#pids[@]} -eq 0 ]]; then
    echo "stop[$port]: not running"
  else
    echo "stop[$port]: SIGTERM ${pids[*]} (netconfd=${npid:-none} sshd=${spid:-none})"
    kill -TERM "${pids[@]}" 2>/dev/null
    for _ in $(seq 1 50); do
      alive=()
      for p in "${pids[@]}"; do
        [[ -e /proc/$p && "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" != Z ]] && alive+=("$p")
      done
      [[ ${#alive[@]} -eq 0 ]] && break
      sleep 0.1
    done
    if [[ ${#alive[@]} -gt 0 ]]; then
      echo "stop[$port]: SIGKILL ${alive[*]} (did not exit on SIGTERM)"
      kill -KILL "${alive[@]}" 2>/dev/null
      sleep 0.3
    fi
  fi
  rm -f "$RUN/netconfd.pid" "$RUN/sshd.pid" "$SOCK"
  if ss -Hltn "sport = :$port" | grep -q .; then
    echo "stop[$port]: WARNING port $port still listening: $(ss -Hltnp "sport = :$port")"; rc=1
  fi
done
exit $rc
