"""Drive a NETCONF server with ncclient (python3-ncclient), one JSON line per step on stdout.

Usage: /usr/bin/python3 ncclient_driver.py PORT USER PASSWORD
After the "subscribed" line it waits for a line "go" on stdin (the test then emits a live event).
"""
import hashlib
import sys

from ncclient.xml_ import to_ele

from ncclient_common import attempt, connect, out, run

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
X = "urn:example:inv"
T = "urn:example:test-plugin"


def main():
    m = connect()
    out("connected", session_id=m.session_id, capabilities=sorted(m.server_capabilities))

    r = m.get(filter=("subtree", '<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><schemas><schema><identifier/><version/></schema></schemas></netconf-state>'))
    out("get-filter", xml=r.data_xml)

    s = m.get_schema("ietf-netconf-monitoring")
    out("get-schema", sha256=hashlib.sha256(s.data.encode("utf-8")).hexdigest(), length=len(s.data))

    r = m.dispatch(to_ele('<echo xmlns="%s"><text>hello ncclient</text></echo>' % T))
    out("plugin-rpc", xml=r.xml)

    attempt("unknown-op", lambda: m.dispatch(to_ele('<frobnicate xmlns="%s"/>' % NC)))

    m.edit_config(target="running", config='<config xmlns="%s"><inv xmlns="%s"><henb><henb-id>h1</henb-id><ip>10.1.1.1</ip></henb></inv></config>' % (NC, X))
    r = m.get_config(source="running", filter=("subtree", '<inv xmlns="%s"/>' % X))
    out("edit-get-config", xml=r.data_xml)

    attempt("candidate", lambda: m.get_config(source="candidate"))

    # locking between two sessions, then kill-session of the second
    m2 = connect()
    m.lock(target="running")
    attempt("lock-denied", lambda: m2.lock(target="running"), holder=m.session_id)
    attempt("in-use", lambda: m2.edit_config(target="running", config='<config xmlns="%s"><inv xmlns="%s"/></config>' % (NC, X)))
    m.unlock(target="running")
    m2.lock(target="running")
    m.kill_session(m2.session_id)
    m.lock(target="running")
    m.unlock(target="running")
    out("kill-session", killed=m2.session_id)

    m.create_subscription(stream_name="henb", start_time="2000-01-01T00:00:00Z")
    out("subscribed")
    line = sys.stdin.readline().strip()
    if line != "go":
        raise SystemExit("expected go, got %r" % line)
    got = []
    for _ in range(10):
        n = m.take_notification(block=True, timeout=15)
        if n is None:
            break
        got.append(n.notification_xml if isinstance(n.notification_xml, str) else n.notification_xml.decode())
        if "live-event" in got[-1]:
            break
    out("notifications", xml=got)

    # interleave: an rpc on the subscribed session
    r = m.get_config(source="running")
    out("interleave", ok=r.ok)

    m.close_session()
    out("closed")


if __name__ == "__main__":
    run(main)
