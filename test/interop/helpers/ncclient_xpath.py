"""ncclient's XPath filters (:xpath, RFC 6241 8.9) against our server; one JSON line per step.

Usage: /usr/bin/python3 ncclient_xpath.py PORT USER PASSWORD
"""
from ncclient_common import attempt, connect, out, run

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
X = "urn:example:inv"


def main():
    m = connect()
    out("connected", session_id=m.session_id, capabilities=sorted(m.server_capabilities))
    m.edit_config(target="running", config='<config xmlns="%s"><inv xmlns="%s"><henb><henb-id>a</henb-id><address>10.0.0.1</address></henb>'
                  '<henb><henb-id>b</henb-id><address>10.0.0.2</address></henb></inv></config>' % (NC, X))
    # a plain string: the expression as yangcli writes it (unprefixed names)
    attempt("sessions", lambda: m.get(filter=("xpath", "/netconf-state/sessions")))
    # (namespaces, expression): ncclient declares the prefixes on <filter>
    attempt("usernames", lambda: m.get(filter=("xpath", ({"ncm": NCM}, "/ncm:netconf-state/ncm:sessions/ncm:session/ncm:username"))))
    attempt("config", lambda: m.get_config(source="running", filter=("xpath", ({"x": X}, "/x:inv/x:henb[x:address='10.0.0.2']"))))
    attempt("bad", lambda: m.get(filter=("xpath", ({"x": X}, "/x:inv/x:henb["))))
    attempt("undeclared", lambda: m.get(filter=("xpath", "/y:inv")))
    m.close_session()
    out("closed")


if __name__ == "__main__":
    run(main)
