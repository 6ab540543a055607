#!/usr/bin/env python3
"""Subscribe to the result stream with replay (RFC 5277): get every notification since START, then the
live ones. An NMS that reconnects uses this to lose no result.

usage: subscribe_replay.py [START_ISO8601 [SECONDS]]
  START defaults to 1970-01-01T00:00:00Z (everything kept); after replayComplete it listens SECONDS more
  (default 0) and exits.
"""
import sys
import time

from lxml import etree
from hsv_connect import HSV_NS, connect, run, step_name

start = sys.argv[1] if len(sys.argv) > 1 else "1970-01-01T00:00:00Z"
linger = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0


def main():
    count = 0
    with connect() as m:
        m.create_subscription(stream_name="henb-sw-verify", start_time=start)
        deadline = None
        while True:
            n = m.take_notification(block=True, timeout=0.5 if deadline else 30)
            if n is None:
                if deadline is None or time.time() >= deadline:
                    break
                continue
            ev = etree.fromstring(n.notification_xml.encode())
            body = [c for c in ev if not c.tag.endswith("}eventTime")][0]
            name = etree.QName(body).localname
            if name == "replayComplete":
                print("replayComplete after", count, "notification(s)")
                deadline = time.time() + linger
                continue
            count += 1
            fields = {etree.QName(c).localname: c.text for c in body}
            print(ev.findtext("{urn:ietf:params:xml:ns:netconf:notification:1.0}eventTime"), name,
                  fields.get("henb-id", ""), fields.get("status") or (step_name(fields["step"]) if "step" in fields else ""), fields.get("job-id", ""))


run(main)
