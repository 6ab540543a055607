"""RFC 5277 replay seen from ncclient (python3-ncclient): the notifications an NMS gets when it subscribes with a
startTime, one JSON line per step on stdout.

Usage: /usr/bin/python3 ncclient_replay.py PORT USER PASSWORD STREAM START
Prints {"step": "replay", "notes": [{"name": ..., "job-id": ..., "status": ...}, ...]} with every notification up
to and including replayComplete.
"""
import sys

from ncclient_common import connect, out, run


def child_text(ele, local):
    for c in ele:
        if isinstance(c.tag, str) and c.tag.split("}")[-1] == local:
            return c.text
    return None


def main():
    stream, start = sys.argv[4], sys.argv[5]
    m = connect()
    m.create_subscription(stream_name=stream, start_time=start)
    notes = []
    for _ in range(200):
        n = m.take_notification(block=True, timeout=20)
        if n is None:
            break
        body = [c for c in n.notification_ele if not c.tag.endswith("}eventTime")][0]
        name = body.tag.split("}")[1]
        notes.append({"name": name, "job-id": child_text(body, "job-id"), "status": child_text(body, "status")})
        if name == "replayComplete":
            break
    out("replay", notes=notes)
    m.close_session()
    out("closed")


if __name__ == "__main__":
    run(main)
