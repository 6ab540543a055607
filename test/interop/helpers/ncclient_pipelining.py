"""ncclient pipelines requests our server must reject behind one still in progress (RFC 6241 section 4.5).

Usage: /usr/bin/python3 ncclient_pipelining.py PORT USER PASSWORD PLUGIN_NS
Prints one step "replies": every rpc-reply ncclient received, in arrival order, as
{"message_id", "user_id", "error_tag", "raw"}, and "slow_ok"; then closes the session.
"""
import sys
import threading

from lxml import etree
from ncclient.operations.rpc import RPCReplyListener
from ncclient.transport.session import SessionListener
from ncclient.xml_ import to_ele

from ncclient_common import connect, out, run

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
EX = "http://example.net/content/1.0"


class Recorder(SessionListener):
    def __init__(self):
        self.replies = []
        self.cv = threading.Condition()

    def callback(self, root, raw):
        tag, _attrs = root
        if tag != "{%s}rpc-reply" % NC:
            return
        doc = etree.fromstring(raw.encode("utf-8"))
        err = doc.find("{%s}rpc-error/{%s}error-tag" % (NC, NC))
        with self.cv:
            self.replies.append({
                "message_id": doc.get("message-id"),
                "user_id": doc.get("{%s}user-id" % EX),
                "error_tag": err.text.strip() if err is not None else None,
                "raw": raw,
            })
            self.cv.notify_all()

    def errback(self, ex):
        pass


class Sink:
    """Stands for an ncclient RPC object: ncclient raises on a reply whose message-id it did not send."""

    def deliver_reply(self, raw):
        pass

    def deliver_error(self, err):
        pass


RAW = ["no-operation", "two-operations", "with-attributes"]


def main():
    plugin_ns = sys.argv[4]
    m = connect()
    rec = Recorder()
    m._session.add_listener(rec)
    m.async_mode = True
    slow = m.dispatch(to_ele('<slow xmlns="%s"/>' % plugin_ns))
    replies = m._session.get_listener_instance(RPCReplyListener)
    for mid in RAW:
        replies.register(mid, Sink())
    # raw messages, framed by ncclient's transport (chunked under base:1.1)
    m._session.send('<rpc xmlns="%s" message-id="no-operation"/>' % NC)
    m._session.send('<rpc xmlns="%s" message-id="two-operations"><get/><get/></rpc>' % NC)
    m._session.send('<nc:rpc xmlns:nc="%s" xmlns:ex="%s" message-id="with-attributes" ex:user-id="fred"><fast xmlns="%s"/></nc:rpc>' % (NC, EX, plugin_ns))
    with rec.cv:
        rec.cv.wait_for(lambda: len(rec.replies) >= 4, timeout=30)
    slow.event.wait(30)
    out("replies", replies=rec.replies, slow_ok=slow.reply is not None and slow.reply.ok)
    m.async_mode = False
    m.close_session()


if __name__ == "__main__":
    run(main)
