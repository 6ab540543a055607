#!/bin/sh
# Run a yangcli script against henb-sw-verify over an SSH connection whose host key is pinned.
#
# yangcli (yuma123 2.x) connects through libssh2 and checks no host key at all: it calls none of libssh2's host key
# or known_hosts functions, so neither a known_hosts line nor a fingerprint can be given to it. What it can do is
# NETCONF 1.0 over plain TCP (--transport=tcp). So the session goes: yangcli --transport=tcp -> ssh-bridge.py on
# 127.0.0.1 -> OpenSSH `ssh -s netconf` with StrictHostKeyChecking=yes and a known_hosts file that holds only the
# pinned key. OpenSSH checks the key of the very connection that carries the session: a server with another key
# is refused before any password is sent ("Host key verification failed", exit 3, yangcli not started).
# With a SHA256 fingerprint as the pin, the key is first read with ssh-keyscan and kept only if its fingerprint
# is the pin; the SSH connection is then held to that key. The password goes to ssh through SSH_ASKPASS (never
# on a command line); the bridge serves one connection, from our own user, that names a one-time user in
# yangcli's private config file (ssh-bridge.py).
#
#   HSV_HOST=127.0.0.1 HSV_PORT=8830 HSV_HOST_KEY='ssh-ed25519 AAAA...' (or its fingerprint 'SHA256:...')
#   HENB_SW_VERIFY_ADMIN_PASSWORD=... [HSV_USER=admin] [HSV_PASSWORD=... for another user]
#   examples/yangcli/run.sh [SCRIPT]          (default: examples/yangcli/henb-sw-verify.yangcli)
# Needs yangcli, OpenSSH's ssh (8.4 or later: SSH_ASKPASS_REQUIRE), ssh-keyscan, ssh-keygen and /usr/bin/python3.
# Exit: 0 yangcli ran (read its output: yangcli exits 0 after a failed RPC too), 2 usage, 3 no session (host key
# not the pinned one, login refused, server unreachable).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
host=${HSV_HOST:-127.0.0.1}
port=${HSV_PORT:?set HSV_PORT to the server port}
pin=${HSV_HOST_KEY:?set HSV_HOST_KEY to the server host key: ssh-ed25519 AAAA... or SHA256:...}
user=${HSV_USER:-admin}
if [ "$user" = admin ]; then password=${HSV_PASSWORD:-${HENB_SW_VERIFY_ADMIN_PASSWORD:?set HENB_SW_VERIFY_ADMIN_PASSWORD (or HSV_PASSWORD)}}
else password=${HSV_PASSWORD:?set HSV_PASSWORD for user $user}; fi
script=${1:-$here/henb-sw-verify.yangcli}

umask 077
tmp=$(mktemp -d)
bridge=
trap 'if [ -n "$bridge" ]; then kill "$bridge" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
alias_name=henb-sw-verify-pinned

# known_hosts with the pinned key only, under an alias (the host and port do not matter to the check)
case "$pin" in
  SHA256:*)
    want=$pin
    if ! ssh-keyscan -T 10 -p "$port" "$host" > "$tmp/scanned" 2> "$tmp/scan.err" || [ ! -s "$tmp/scanned" ]; then
      echo "yangcli/run.sh: cannot read the host key of $host:$port: $(tr '\n' ' ' < "$tmp/scan.err")" >&2
      exit 3
    fi
    : > "$tmp/known_hosts"
    got=
    while read -r _h type blob _rest; do
      printf '%s %s\n' "$type" "$blob" > "$tmp/one.pub"
      fp=$(ssh-keygen -l -E sha256 -f "$tmp/one.pub" | awk '{print $2}')
      got="$got $fp"
      if [ "$fp" = "$want" ]; then printf '%s %s %s\n' "$alias_name" "$type" "$blob" >> "$tmp/known_hosts"; fi
    done < "$tmp/scanned"
    if [ ! -s "$tmp/known_hosts" ]; then
      echo "yangcli/run.sh: the host key of $host:$port is$got not the pinned $want; yangcli not started" >&2
      exit 3
    fi ;;
  *)
    printf '%s\n' "$pin" > "$tmp/pin.pub"
    want=$(ssh-keygen -l -E sha256 -f "$tmp/pin.pub" 2>/dev/null | awk '{print $2}') || want=
    [ -n "$want" ] || { echo "yangcli/run.sh: HSV_HOST_KEY is neither SHA256:... nor a public key line" >&2; exit 2; }
    set -- $pin
    printf '%s %s %s\n' "$alias_name" "$1" "$2" > "$tmp/known_hosts" ;;
esac

# the password for ssh, through SSH_ASKPASS (environment of our own processes only)
printf '#!/bin/sh\nprintf "%%s\\n" "$HSV_BRIDGE_PASSWORD"\n' > "$tmp/askpass"
chmod 700 "$tmp/askpass"
# yangcli's user name is only the bridge's one-time check (the SSH login is ssh's), kept out of the command line
nonce=hsv-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
printf 'yangcli {\n  user %s\n}\n' "$nonce" > "$tmp/yangcli.conf"

HSV_BRIDGE_PASSWORD=$password SSH_ASKPASS="$tmp/askpass" SSH_ASKPASS_REQUIRE=force \
  /usr/bin/python3 "$here/ssh-bridge.py" --port-file "$tmp/port" --user "$nonce" -- \
  ssh -T -p "$port" -l "$user" \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$tmp/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o HostKeyAlias="$alias_name" -o CheckHostIP=no -o UpdateHostKeys=no \
    -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive \
    -o NumberOfPasswordPrompts=1 -o ConnectTimeout=10 -o ServerAliveInterval=30 -o LogLevel=ERROR \
    -s "$host" netconf < /dev/null &
bridge=$!

# the bridge writes its port once the server's hello came through the verified connection
i=0
while [ ! -s "$tmp/port" ]; do
  if ! kill -0 "$bridge" 2>/dev/null; then
    wait "$bridge" || true
    bridge=
    echo "yangcli/run.sh: no NETCONF session with $host:$port over SSH (pinned $want); yangcli not started" >&2
    exit 3
  fi
  i=$((i + 1))
  if [ "$i" -gt 600 ]; then echo "yangcli/run.sh: no answer from $host:$port within 60 s; yangcli not started" >&2; exit 3; fi
  sleep 0.1
done
echo "yangcli/run.sh: SSH to $host:$port verified the pinned host key $want; starting yangcli" >&2

status=0
yangcli --config="$tmp/yangcli.conf" --server=127.0.0.1 --ncport="$(cat "$tmp/port")" --transport=tcp \
  --batch-mode --display-mode=xml --run-script="$script" || status=$?
wait "$bridge" || status=3
bridge=
exit "$status"
