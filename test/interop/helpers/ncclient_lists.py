"""ncclient (a NETCONF client we did not write) calls the PVE's list operations: provide-reference-values-list with
the JWSs given on the command line (argv[5:]; those written list:JWS are list statements, each sent alone as its
reference-values-list, steps provide-signed-list-0, -1, ...), and integrity-requests with one request per henb-id in argv[4]
(comma-separated; the PVE collects each H(e)NB's evidence itself). Prints each rpc and its rpc-reply as XML, or the
rpc-error's fields."""
import base64
import os
import sys

from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

from ncclient_common import connect, out, run

NS = "urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-pve"


def call(m, step, xml):
    try:
        r = m.dispatch(to_ele(xml))
        out(step, ok=r.ok, rpc=xml, xml=r.xml)
    except RPCError as e:
        out(step, ok=False, error={"tag": e.tag, "type": e.type, "app_tag": e.app_tag, "path": e.path, "message": e.message})


def main():
    henbs = [h for h in sys.argv[4].split(",") if h]
    jwss = [a for a in sys.argv[5:] if not a.startswith("list:")]
    lists = [a[len("list:"):] for a in sys.argv[5:] if a.startswith("list:")]
    with connect() as m:
        for i, j in enumerate(lists):
            call(m, f"provide-signed-list-{i}", f'<provide-reference-values-list xmlns="{NS}"><reference-values-list>{j}</reference-values-list></provide-reference-values-list>')
        statements = "".join(f"<statement><index>{i}</index><reference-values>{j}</reference-values></statement>" for i, j in enumerate(jwss))
        call(m, "provide-list", f'<provide-reference-values-list xmlns="{NS}">{statements}</provide-reference-values-list>')
        requests = "".join(
            f"<request><index>{10 + i}</index><henb-id>{h}</henb-id><nonce-value>{base64.b64encode(os.urandom(32)).decode()}</nonce-value></request>"
            for i, h in enumerate(henbs))
        call(m, "integrity-requests", f'<integrity-requests xmlns="{NS}">{requests}</integrity-requests>')
        twice = "<request><index>1</index><henb-id>x</henb-id><nonce-value>" + base64.b64encode(os.urandom(32)).decode() + "</nonce-value></request>"
        call(m, "index-twice", f'<integrity-requests xmlns="{NS}">{twice}{twice}</integrity-requests>')


run(main)
