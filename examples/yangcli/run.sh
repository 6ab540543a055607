#!/bin/sh
# Run a yangcli script against henb-sw-verify with the server's SSH host key checked first.
#
# yangcli (yuma123 2.x) connects through libssh2 and checks no host key at all: it neither reads known_hosts nor
# takes a fingerprint. So this wrapper asks the server for its host key (ssh-keyscan), compares its SHA256
# fingerprint with the pinned one, and starts yangcli only when they match (exit 3 otherwise, nothing sent).
# Limit: the check and yangcli's own connection are two connections; an attacker who can swap the server between
# them is not caught (use ncclient, examples/ncclient, which checks the key of the session it uses).
#
#   HSV_HOST=127.0.0.1 HSV_PORT=8830 HSV_HOST_KEY='SHA256:...' (or the public key line 'ssh-ed25519 AAAA...')
#   HENB_SW_VERIFY_ADMIN_PASSWORD=... [HSV_USER=admin] [HSV_PASSWORD=... for another user]
#   examples/yangcli/run.sh [SCRIPT]          (default: examples/yangcli/henb-sw-verify.yangcli)
set -eu

host=${HSV_HOST:-127.0.0.1}
port=${HSV_PORT:?set HSV_PORT to the server port}
pin=${HSV_HOST_KEY:?set HSV_HOST_KEY to the server host key: SHA256:... or ssh-ed25519 AAAA...}
user=${HSV_USER:-admin}
if [ "$user" = admin ]; then password=${HSV_PASSWORD:-${HENB_SW_VERIFY_ADMIN_PASSWORD:?set HENB_SW_VERIFY_ADMIN_PASSWORD (or HSV_PASSWORD)}}
else password=${HSV_PASSWORD:?set HSV_PASSWORD for user $user}; fi
script=${1:-$(dirname "$0")/henb-sw-verify.yangcli}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the pinned key as a fingerprint: either it is one, or ssh-keygen computes it from the public key line
case "$pin" in
  SHA256:*) want=$pin ;;
  *) printf '%s\n' "$pin" > "$tmp/pin.pub"
     want=$(ssh-keygen -l -E sha256 -f "$tmp/pin.pub" 2>/dev/null | awk '{print $2}') || want=
     [ -n "$want" ] || { echo "yangcli/run.sh: HSV_HOST_KEY is neither SHA256:... nor a public key line" >&2; exit 2; } ;;
esac

# what the server presents now (ed25519 is what henb-sw-verify serves; every type it offers is compared)
if ! ssh-keyscan -T 10 -p "$port" "$host" > "$tmp/scanned" 2> "$tmp/scan.err" || [ ! -s "$tmp/scanned" ]; then
  echo "yangcli/run.sh: cannot read the host key of $host:$port: $(tr '\n' ' ' < "$tmp/scan.err")" >&2
  exit 3
fi
got=$(ssh-keygen -l -E sha256 -f "$tmp/scanned" | awk '{print $2}')
if ! printf '%s\n' "$got" | grep -qxF "$want"; then
  echo "yangcli/run.sh: the host key of $host:$port is $(printf '%s\n' "$got" | paste -sd ' ') not the pinned $want; yangcli not started" >&2
  exit 3
fi
echo "yangcli/run.sh: host key of $host:$port is the pinned $want" >&2

exec yangcli --server="$host" --ncport="$port" --user="$user" --password="$password" \
  --batch-mode --display-mode=xml --run-script="$script"
