"""ncclient sends requests our RFC 6241 conformance audit changed the answers to; one JSON line per step.

Usage: /usr/bin/python3 ncclient_conformance.py PORT USER PASSWORD
"""
from ncclient.xml_ import to_ele

from ncclient_common import attempt, connect, out, run

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
X = "urn:example:inv"
WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"


def config(body):
    return '<config xmlns="%s" xmlns:xc="%s">%s</config>' % (NC, NC, body)


def main():
    m = connect()
    out("connected", session_id=m.session_id, capabilities=sorted(m.server_capabilities))
    getc = lambda: m.get_config(source="running", filter=("subtree", '<inv xmlns="%s"/>' % X))

    m.edit_config(target="running", config=config(
        '<inv xmlns="%s"><henb><henb-id>a</henb-id></henb><henb><henb-id>b</henb-id></henb></inv><other xmlns="%s"/>' % (X, X)))
    # operation without the NETCONF namespace: refused, not a silent merge
    attempt("unqualified-operation", lambda: m.edit_config(target="running", config=config(
        '<inv xmlns="%s"><henb operation="delete"><henb-id>a</henb-id></henb></inv>' % X)))
    attempt("after-unqualified", getc)
    # the same delete with xc:operation works
    attempt("qualified-operation", lambda: m.edit_config(target="running", config=config(
        '<inv xmlns="%s"><henb xc:operation="delete"><henb-id>a</henb-id></henb></inv>' % X)))
    attempt("after-qualified", getc)
    # data-exists names the entry by its key
    attempt("create-existing", lambda: m.edit_config(target="running", config=config(
        '<inv xmlns="%s"><henb xc:operation="create"><henb-id>b</henb-id></henb></inv>' % X)))
    # default-operation replace with an explicit operation on a top-level node: <other> goes too
    attempt("replace-all", lambda: m.edit_config(target="running", default_operation="replace", config=config(
        '<inv xmlns="%s" xc:operation="merge"><henb><henb-id>c</henb-id></henb></inv>' % X)))
    attempt("after-replace", lambda: m.get_config(source="running"))
    # RFC 6243 with-defaults: ncclient checks the mode against the :with-defaults capability first
    attempt("with-defaults", lambda: m.get_config(source="running", with_defaults="report-all"))
    # a mode RFC 6243 does not define (ncclient would refuse to send it, so it is dispatched as written)
    attempt("with-defaults-bad", lambda: m.dispatch(to_ele(
        '<get-config xmlns="%s"><source><running/></source><with-defaults xmlns="%s">report-most</with-defaults></get-config>' % (NC, WD))))
    attempt("delete-running", lambda: m.delete_config(target="running"))
    m.close_session()
    out("closed")


if __name__ == "__main__":
    run(main)
