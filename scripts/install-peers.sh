#!/usr/bin/env bash
# install-peers.sh - install the real NETCONF/YANG peers the interop suite runs against (Debian 12).
# Idempotent: does nothing when every peer is already present. Needs root (apt-get, as in CI).
# Peers: python3-ncclient (client lib), yangcli (client), netconfd + netconf-subsystem behind
# openssh-server (server), libyang2-tools (yanglint, the YANG oracle), postgresql (server binaries under
# /usr/lib/postgresql/*/bin for the PostgreSQL store tests; scripts/postgres-peer-start.sh runs a throwaway
# cluster of its own, the package's default cluster is not used), swtpm + tpm2-tools (a software TPM 2.0
# for the TPM trust root), ssh-audit (SSH algorithm audit), chromium (headless, renders the rollout report).
set -euo pipefail

need=()
[[ -x /usr/bin/yanglint ]] || need+=(libyang2-tools)
[[ -x /usr/bin/yangcli ]] || need+=(yangcli)
[[ -x /usr/sbin/netconfd ]] || need+=(netconfd libyuma-base)
[[ -x /usr/sbin/netconf-subsystem ]] || need+=(netconfd)
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
[[ -x /usr/bin/ssh ]] || need+=(openssh-client)
/usr/bin/python3 -c 'import ncclient' 2>/dev/null || need+=(python3-ncclient)
command -v ss >/dev/null || need+=(iproute2)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && id postgres >/dev/null 2>&1 || need+=(postgresql)
[[ -x /usr/bin/swtpm ]] || need+=(swtpm swtpm-tools)
[[ -x /usr/bin/tpm2_quote ]] || need+=(tpm2-tools)
[[ -x /usr/bin/ssh-audit ]] || need+=(ssh-audit)
[[ -x /usr/bin/chromium ]] || need+=(chromium)

if [[ ${#need[@]} -eq 0 ]]; then
  echo "install-peers: all peers present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-peers: ERROR: missing ${need[*]} and not root; run: sudo $0" >&2
  exit 1
fi
echo "install-peers: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" yangdump >/dev/null; then
    break
  fi
  [[ $attempt -eq 3 ]] && { echo "install-peers: ERROR: apt-get failed 3 times" >&2; exit 1; }
  sleep $((attempt * 5))
done
# verify, so that a missing peer is a failure and never a silent skip
/usr/bin/yanglint --version >/dev/null
/usr/bin/python3 -c 'import ncclient'
[[ -x /usr/sbin/netconfd && -x /usr/sbin/netconf-subsystem && -x /usr/sbin/sshd && -x /usr/bin/yangcli ]]
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && id postgres >/dev/null
[[ -x /usr/bin/swtpm && -x /usr/bin/tpm2_quote && -x /usr/bin/tpm2_checkquote && -x /usr/bin/ssh-audit && -x /usr/bin/chromium ]]
echo "install-peers: done"
