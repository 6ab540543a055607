#!/usr/bin/env python3
"""Steps 2-4 alone: ask the OAM to have the PVE check one H(e)NB (rpc integrity-request).

usage: integrity_request.py HENB_ID
prints the EAR status and the PVE's signed result (a JWS; verify it with `henb-sw-verify verify-token`).
"""
import sys

from lxml import etree
from ncclient.xml_ import to_ele
from hsv_connect import HSV_NS, connect, run

if len(sys.argv) != 2:
    sys.exit(__doc__)


def main():
    with connect() as m:
        reply = m.dispatch(to_ele(f'<integrity-request xmlns="{HSV_NS}"><henb-id>{sys.argv[1]}</henb-id></integrity-request>'))
        out = etree.fromstring(reply.xml.encode())
        print("ear-status", out.findtext(f".//{{{HSV_NS}}}ear-status"))
        print("attestation-result", out.findtext(f".//{{{HSV_NS}}}attestation-result"))
        reason = out.findtext(f".//{{{HSV_NS}}}reason")
        if reason:
            print("reason", reason)


run(main)
