"""ncclient against our NMDA operations (RFC 8526): get-data and edit-data sent with dispatch (Debian's
python3-ncclient 0.6.13 has no get_data / edit_data of its own); one JSON line per step.

Usage: /usr/bin/python3 ncclient_nmda.py PORT USER PASSWORD SOFTWARE-URI
"""
import sys

from ncclient.xml_ import to_ele

from ncclient_common import attempt, connect, out, run

NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
OR = "urn:ietf:params:xml:ns:yang:ietf-origin"
HSV = "urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YL = "urn:ietf:params:xml:ns:yang:ietf-yang-library"


def get_data(body):
    return to_ele('<get-data xmlns="%s" xmlns:ds="%s" xmlns:or="%s">%s</get-data>' % (NMDA, DS, OR, body))


def edit_data(body):
    return to_ele('<edit-data xmlns="%s" xmlns:ds="%s">%s</edit-data>' % (NMDA, DS, body))


def main():
    m = connect()
    out("connected", session_id=m.session_id, capabilities=sorted(m.server_capabilities))
    # a job: /hsv:jobs has an entry in operational
    attempt("software-update", lambda: m.dispatch(to_ele(
        '<software-update xmlns="%s"><henb-id>healthy-1</henb-id><software><uri>%s</uri></software></software-update>' % (HSV, sys.argv[4]))))
    attempt("edit", lambda: m.dispatch(edit_data('<datastore>ds:running</datastore><config><policies xmlns="%s"><token-lifetime>3600</token-lifetime></policies></config>' % HSV)))
    attempt("running", lambda: m.dispatch(get_data('<datastore>ds:running</datastore>')))
    attempt("operational", lambda: m.dispatch(get_data('<datastore>ds:operational</datastore><with-origin/>')))
    attempt("hsv-state", lambda: m.dispatch(get_data(
        '<datastore>ds:operational</datastore><config-filter>false</config-filter>'
        '<subtree-filter><henbs xmlns="%s"/><jobs xmlns="%s"/></subtree-filter>' % (HSV, HSV))))
    attempt("sessions", lambda: m.dispatch(get_data(
        '<datastore>ds:operational</datastore><xpath-filter xmlns:ncm="%s">/ncm:netconf-state/ncm:sessions/ncm:session/ncm:username</xpath-filter>' % NCM)))
    attempt("library", lambda: m.dispatch(get_data('<datastore>ds:operational</datastore><subtree-filter><yang-library xmlns="%s"/></subtree-filter>' % YL)))
    attempt("defaults", lambda: m.dispatch(get_data(
        '<datastore>ds:operational</datastore><origin-filter>or:default</origin-filter><with-origin/><max-depth>2</max-depth>'
        '<subtree-filter><policies xmlns="%s"/></subtree-filter>' % HSV)))
    attempt("unknown-datastore", lambda: m.dispatch(get_data('<datastore>ds:startup</datastore>')))
    attempt("edit-operational", lambda: m.dispatch(edit_data('<datastore>ds:operational</datastore><config/>')))
    attempt("origin-on-running", lambda: m.dispatch(get_data('<datastore>ds:running</datastore><with-origin/>')))
    m.close_session()
    out("closed")


if __name__ == "__main__":
    run(main)
