"""RFC 5277 create-subscription seen from ncclient (python3-ncclient), one JSON line per step on stdout.

Usage: /usr/bin/python3 ncclient_subscribe.py PORT USER PASSWORD START STOP
The server has a stream "henb" with replay holding events between START and STOP (RFC 3339), and a
stream "live" without replay.
"""
import sys

from ncclient_common import attempt, connect, out, run


def subscribe(step, m, **kw):
    """a create-subscription whose answer (ok or rpc-error) is the step"""
    attempt(step, lambda: m.create_subscription(**kw))


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
    start, stop = sys.argv[4], sys.argv[5]
    m = connect()
    subscribe("replay-unsupported", m, stream_name="live", start_time=start)
    subscribe("bad-date", m, stream_name="henb", start_time="2025-02-30T00:00:00Z")
    # a replay window in the past: events, replayComplete, notificationComplete, and the subscription ends
    m.create_subscription(stream_name="henb", start_time=start, stop_time=stop)
    names = drain(m, "notificationComplete")
    out("window", names=names)
    # ended, so the session may subscribe again; while that one is active a second one is refused
    subscribe("after-complete", m, stream_name="henb")
    subscribe("second", m, stream_name="henb")
    # interleave: the session still answers RPCs
    r = m.get(filter=("subtree", '<netconf xmlns="urn:ietf:params:xml:ns:netmod:notification"/>'))
    out("streams", xml=r.data_xml)
    m.close_session()
    out("closed")


if __name__ == "__main__":
    run(main)
