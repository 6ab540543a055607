#!/usr/bin/env python3
"""Fetch a YANG module the server advertises (RFC 6022 get-schema).

usage: get_schema.py [MODULE]   (default: henb-sw-verify)
"""
import sys

from hsv_connect import connect, run

name = sys.argv[1] if len(sys.argv) > 1 else "henb-sw-verify"


def main():
    with connect() as m:
        # no `format`: ncclient would send the identity without its namespace (see docs)
        print(m.get_schema(name).data)


run(main)
