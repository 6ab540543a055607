"""ncclient (a NETCONF client we did not write) calls the PVE's provide-reference-values with each JWS given on the
command line (argv[4:]) and prints, per JWS, either ok or the rpc-error's fields (with error-app-tag)."""
from ncclient.operations import RPCError
from ncclient.xml_ import to_ele

from ncclient_common import connect, out, run

NS = "urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-pve"


def main():
    import sys
    with connect() as m:
        for i, jws in enumerate(sys.argv[4:]):
            op = to_ele(f'<provide-reference-values xmlns="{NS}"><reference-values>{jws}</reference-values></provide-reference-values>')
            try:
                r = m.dispatch(op)
                out(f"provide-{i}", ok=r.ok, xml=r.xml)
            except RPCError as e:
                out(f"provide-{i}", ok=False, error={"tag": e.tag, "type": e.type, "app_tag": e.app_tag, "path": e.path, "message": e.message})


run(main)
