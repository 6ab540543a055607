"""Shared connection helper for the henb-sw-verify ncclient examples.

Environment (the demo prints every value in its --json ready line):
  HSV_HOST            server address (default 127.0.0.1)
  HSV_PORT            server port (default 8830)
  HSV_USER            user name (default admin)
  HENB_SW_VERIFY_ADMIN_PASSWORD   the password
  HSV_HOST_KEY        the server's host public key "ssh-ed25519 AAAA..." (pinned; recommended)
"""
import os
import sys

from ncclient import manager
import ncclient.transport.ssh

HSV_NS = "urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify"
NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"

# ncclient polls every 100 ms by default: about 10 RPCs per second whatever the server
ncclient.transport.ssh.TICK = 0.01


def connect():
    password = os.environ.get("HENB_SW_VERIFY_ADMIN_PASSWORD")
    if not password:
        sys.exit("set HENB_SW_VERIFY_ADMIN_PASSWORD")
    host_key = os.environ.get("HSV_HOST_KEY")
    kwargs = {}
    if host_key:
        kwargs["hostkey_b64"] = host_key.split()[1] if " " in host_key else host_key
    else:
        print("warning: HSV_HOST_KEY not set, the server's host key is not checked", file=sys.stderr)
        kwargs["hostkey_verify"] = False
    return manager.connect(
        host=os.environ.get("HSV_HOST", "127.0.0.1"),
        port=int(os.environ.get("HSV_PORT", "8830")),
        username=os.environ.get("HSV_USER", "admin"),
        password=password,
        look_for_keys=False,
        allow_agent=False,
        timeout=30,
        **kwargs,
    )
