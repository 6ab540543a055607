"""A software downgrade outside the OAM, seen by ncclient (a NETCONF client we did not write), issue 10.

Usage: /usr/bin/python3 ncclient_downgrade.py OAM_PORT USER PASSWORD DEVICE_PORT DEVICE_USER DEVICE_PASSWORD HENB_ID [check-only]
Steps: subscribes to the OAM's henb-sw-verify stream; rolls the H(e)NB back by hand (the device module's rollback
without a job-id, on the device's own NETCONF server: the OAM is not involved) and waits for the device's
software-update-complete; then the OAM's integrity-request, the integrity-alarm it raises (null when none comes
within a few seconds), and /hsv:henbs. With check-only the device is left alone.
"""
import sys

from ncclient import manager
from ncclient.xml_ import to_ele

from ncclient_common import attempt, connect, out, run

HSV = "urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify"
DEV = "urn:henb-sw-verify:params:xml:ns:yang:henb-sw-verify-device"


def text(n):
    x = n.notification_xml
    return x if isinstance(x, str) else x.decode()


def wait_for(m, name, timeout, rounds=20):
    """the first notification naming `name`, or None"""
    for _ in range(rounds):
        n = m.take_notification(block=True, timeout=timeout)
        if n is None:
            return None
        if name in text(n):
            return text(n)
    return None


def roll_back(port, user, password):
    with manager.connect(host="127.0.0.1", port=port, username=user, password=password, hostkey_verify=False,
                         look_for_keys=False, allow_agent=False, timeout=30) as dev:
        dev.create_subscription()
        attempt("rollback", lambda: dev.dispatch(to_ele('<rollback xmlns="%s"/>' % DEV)))
        out("device-rolled-back", xml=wait_for(dev, "software-update-complete", 15))


def main():
    dport, duser, dpassword, henb = int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
    check_only = len(sys.argv) > 8 and sys.argv[8] == "check-only"
    with connect() as oam:
        oam.create_subscription(stream_name="henb-sw-verify")
        out("subscribed")
        if not check_only:
            roll_back(dport, duser, dpassword)
        attempt("integrity-request", lambda: oam.dispatch(to_ele('<integrity-request xmlns="%s"><henb-id>%s</henb-id></integrity-request>' % (HSV, henb))))
        out("alarm", xml=wait_for(oam, "integrity-alarm", 3 if check_only else 15))
        attempt("henbs", lambda: oam.get(filter=("subtree", '<henbs xmlns="%s"/>' % HSV)))


run(main)
