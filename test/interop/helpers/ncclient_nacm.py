"""ncclient as a user with restricted rights (test/interop/nacm.test.ts): what it reads, what is refused.

usage: ncclient_nacm.py PORT USER PASSWORD
steps: get, get-config (the reply's XML), edit-inventory, lock, software-update, kill-session (each the
rpc-error ncclient raised, or error None), closed.
"""
from ncclient.xml_ import to_ele

from ncclient_common import attempt, connect, out, run

HSV = "urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify"


def main():
    with connect() as m:
        attempt("get", lambda: m.get())
        attempt("get-config", lambda: m.get_config(source="running"))
        attempt("edit-inventory", lambda: m.edit_config(target="running", config=(
            f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><inventory xmlns="{HSV}"><henb><henb-id>intruder-1</henb-id>'
            '<address>192.0.2.66</address></henb></inventory></config>')))
        attempt("lock", lambda: m.lock(target="running"))
        attempt("software-update", lambda: m.dispatch(to_ele(
            f'<software-update xmlns="{HSV}"><henb-id>healthy-1</henb-id>'
            '<software><uri>file:///etc/passwd</uri></software></software-update>')))
        attempt("kill-session", lambda: m.dispatch(to_ele(
            '<kill-session xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><session-id>1</session-id></kill-session>')))
    out("closed")


run(main)
