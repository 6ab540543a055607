"""What the ncclient helpers of this folder share (imported by them; run by test/interop/helpers/ncclient.ts).

Each helper is run as `/usr/bin/python3 HELPER.py PORT USER PASSWORD [ARGS...]` and prints one JSON line
per step, {"step": NAME, ...}, on stdout.
"""
import json
import sys
import traceback

import ncclient.transport.ssh
from ncclient import manager
from ncclient.operations import RPCError

ncclient.transport.ssh.TICK = 0.001


def out(step, **kw):
    """one JSON step line, flushed at once (the test may answer it)"""
    kw["step"] = step
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def connect():
    """a new NETCONF session to our server on 127.0.0.1, PORT USER PASSWORD from the command line"""
    port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    return manager.connect(host="127.0.0.1", port=port, username=user, password=password,
                           hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30)


def rpc_error(e):
    """the fields of an rpc-error as ncclient parsed them"""
    return {"tag": e.tag, "type": e.type, "severity": e.severity, "path": e.path, "message": e.message, "info": e.info}


def attempt(step, fn, **extra):
    """run one request: a step line with error None and the reply's XML, or with the rpc-error ncclient raised"""
    try:
        r = fn()
    except RPCError as e:
        out(step, error=rpc_error(e), **extra)
        return None
    out(step, error=None, xml=getattr(r, "data_xml", None) or r.xml, **extra)
    return r


def run(main):
    """run main(); an exception becomes an "exception" step and exit code 1 (reported, never a hang)"""
    try:
        main()
    except Exception as e:  # noqa: BLE001 - reported to the test
        out("exception", error=repr(e), trace=traceback.format_exc())
        sys.exit(1)
