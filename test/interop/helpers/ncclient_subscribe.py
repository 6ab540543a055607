"""RFC 5277 create-subscription seen from ncclient (python3-ncclient), one JSON line per step on stdout.

Usage: /usr/bin/python3 ncclient_subscribe.py PORT USER PASSWORD START STOP
The server has a stream "henb" with replay holding events between START and STOP (RFC 3339), and a
stream "live" without replay.
"""
import json
import sys
import traceback

import ncclient.transport.ssh
from ncclient import manager
from ncclient.operations import RPCError

ncclient.transport.ssh.TICK = 0.001


def out(step, **kw):
    kw["step"] = step
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def rpc_error(e):
    return {"tag": e.tag, "type": e.type, "severity": e.severity, "info": e.info}


def attempt(step, m, **kw):
    try:
        m.create_subscription(**kw)
        out(step, error=None)
    except RPCError as e:
        out(step, error=rpc_error(e))


def drain(m, last):
    """body element local names of the notifications, up to and including `last`"""
    names = []
    for _ in range(20):
        n = m.take_notification(block=True, timeout=15)
        if n is None:
            break
        body = [c for c in n.notification_ele if not c.tag.endswith("}eventTime")][0]
        names.append(body.tag.split("}")[1])
        if names[-1] == last:
            break
    return names


def main():
    port, user, password, start, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    m = manager.connect(host="127.0.0.1", port=port, username=user, password=password,
                        hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30)
    attempt("replay-unsupported", m, stream_name="live", start_time=start)
    attempt("bad-date", m, stream_name="henb", start_time="2025-02-30T00:00:00Z")
    # a replay window in the past: events, replayComplete, notificationComplete, and the subscription ends
    m.create_subscription(stream_name="henb", start_time=start, stop_time=stop)
    names = drain(m, "notificationComplete")
    out("window", names=names)
    # ended, so the session may subscribe again; while that one is active a second one is refused
    attempt("after-complete", m, stream_name="henb")
    attempt("second", m, stream_name="henb")
    # interleave: the session still answers RPCs
    r = m.get(filter=("subtree", '<netconf xmlns="urn:ietf:params:xml:ns:netmod:notification"/>'))
    out("streams", xml=r.data_xml)
    m.close_session()
    out("closed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - reported to the test
        out("exception", error=repr(e), trace=traceback.format_exc())
        sys.exit(1)
