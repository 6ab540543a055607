"""Shared connection helper for the henb-sw-verify ncclient examples.

Environment (the demo prints every value in its --json ready line):
  HSV_HOST            server address (default 127.0.0.1)
  HSV_PORT            server port (default 8830)
  HSV_USER            user name (default admin)
  HSV_PASSWORD        that user's password; for the user admin, HENB_SW_VERIFY_ADMIN_PASSWORD is used when
                      HSV_PASSWORD is not set (the variable serve and demo read)
  HSV_HOST_KEY        the server's host public key "ssh-ed25519 AAAA..." (pinned; recommended). ncclient checks
                      the key itself before it sends the password, so it needs the public key, not the
                      SHA256 fingerprint (serve's ready line prints both)

Errors are printed as one readable block (no traceback): an rpc-error with its error-tag, error-app-tag,
error-path and message (exit 1); a connection or login failure (exit 3).
"""
import os
import sys

from lxml import etree
from ncclient import manager
from ncclient.operations.rpc import RPCError
import ncclient.transport.errors
import ncclient.transport.ssh

HSV_NS = "urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify"
NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"

# the nine steps of the flow (docs/architecture.md); progress notifications carry the number
STEP_NAMES = {
    1: "request", 2: "pve-request", 3: "pve-evidence", 4: "pve-verdict", 5: "fetch",
    6: "send-update", 7: "install", 8: "completion", 9: "compare",
}

# ncclient polls every 100 ms by default: about 10 RPCs per second whatever the server
ncclient.transport.ssh.TICK = 0.01


def step_name(step):
    """'4 pve-verdict' for the progress notification's step number."""
    try:
        n = int(step)
    except (TypeError, ValueError):
        return str(step)
    return f"{n} {STEP_NAMES.get(n, '?')}"


def pretty(xml):
    """An XML document (string or element) indented for reading."""
    el = etree.fromstring(xml.encode() if isinstance(xml, str) else xml) if not isinstance(xml, etree._Element) else xml
    return etree.tostring(el, pretty_print=True, encoding="unicode").rstrip()


def password_for(user):
    pw = os.environ.get("HSV_PASSWORD")
    if pw:
        return pw
    if user == "admin":
        pw = os.environ.get("HENB_SW_VERIFY_ADMIN_PASSWORD")
        if pw:
            return pw
        sys.exit("set HSV_PASSWORD (or HENB_SW_VERIFY_ADMIN_PASSWORD for the user admin)")
    sys.exit(f"set HSV_PASSWORD to the password of {user} (HENB_SW_VERIFY_ADMIN_PASSWORD is admin's)")


def connect():
    user = os.environ.get("HSV_USER", "admin")
    password = password_for(user)
    host_key = os.environ.get("HSV_HOST_KEY")
    kwargs = {}
    if host_key:
        if host_key.startswith("SHA256:"):
            sys.exit("HSV_HOST_KEY: ncclient needs the public key 'ssh-ed25519 AAAA...' (serve prints it after the fingerprint)")
        kwargs["hostkey_b64"] = host_key.split()[1] if " " in host_key else host_key
    else:
        print("warning: HSV_HOST_KEY not set, the server's host key is not checked", file=sys.stderr)
        kwargs["hostkey_verify"] = False
    return manager.connect(
        host=os.environ.get("HSV_HOST", "127.0.0.1"),
        port=int(os.environ.get("HSV_PORT", "8830")),
        username=user,
        password=password,
        look_for_keys=False,
        allow_agent=False,
        timeout=30,
        **kwargs,
    )


def print_rpc_error(e):
    """An rpc-error as the operator reads it: tag, app-tag, path, message (every error of the reply)."""
    errors = getattr(e, "errors", None) or [e]
    for err in errors:
        d = err.to_dict() if hasattr(err, "to_dict") else {}
        print("rpc-error", d.get("tag") or getattr(err, "tag", ""), (d.get("message") or getattr(err, "message", "") or "").strip())
        for key, label in (("app_tag", "error-app-tag"), ("path", "error-path"), ("type", "error-type")):
            value = d.get(key)
            if value:
                print(label, str(value).strip())


def run(main):
    """Run main(), turning an rpc-error or a connection failure into readable lines and an exit code."""
    try:
        code = main()
    except RPCError as e:
        print_rpc_error(e)
        sys.exit(1)
    except ncclient.transport.errors.AuthenticationError as e:
        print(f"login failed for {os.environ.get('HSV_USER', 'admin')}: {e}", file=sys.stderr)
        sys.exit(3)
    except (ncclient.transport.errors.SSHError, OSError) as e:
        print(f"cannot connect to {os.environ.get('HSV_HOST', '127.0.0.1')}:{os.environ.get('HSV_PORT', '8830')}: {e}", file=sys.stderr)
        sys.exit(3)
    sys.exit(code or 0)
