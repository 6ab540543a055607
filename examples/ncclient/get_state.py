#!/usr/bin/env python3
"""Read the OAM's operational state: the H(e)NBs, the jobs and the signing keys (get, subtree filter).

usage: get_state.py [henbs|jobs|signing-keys]   (default: henbs)
"""
import sys

from hsv_connect import HSV_NS, connect, pretty, run

what = sys.argv[1] if len(sys.argv) > 1 else "henbs"


def main():
    with connect() as m:
        reply = m.get(filter=("subtree", f'<{what} xmlns="{HSV_NS}"/>'))
        print(pretty(reply.data_xml))


run(main)
