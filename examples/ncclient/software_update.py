#!/usr/bin/env python3
"""The whole flow for some H(e)NBs: subscribe to results, rpc software-update, wait for each result.

usage: software_update.py SOFTWARE_URI HENB_ID [HENB_ID...]
The OAM answers at once (started / refused per H(e)NB); the outcome of each job arrives as a
software-update-result notification carrying the job-id and the OAM's signed token. Progress
notifications are printed with the step's name ("progress healthy-1 4 pve-verdict: ...").
Exit status 0 when every H(e)NB verified, 1 otherwise (an rpc-error is printed, not a traceback).
"""
import sys

from lxml import etree
from ncclient.xml_ import to_ele
from hsv_connect import HSV_NS, connect, run, step_name

if len(sys.argv) < 3:
    sys.exit(__doc__)
uri, henbs = sys.argv[1], sys.argv[2:]


def main():
    with connect() as m:
        # subscribe first, so that no result can be missed
        m.create_subscription(stream_name="henb-sw-verify")
        ids = "".join(f"<henb-id>{h}</henb-id>" for h in henbs)
        reply = m.dispatch(to_ele(f'<software-update xmlns="{HSV_NS}">{ids}<software><uri>{uri}</uri></software></software-update>'))
        pending = {}
        for job in etree.fromstring(reply.xml.encode()).iter(f"{{{HSV_NS}}}job"):
            henb = job.findtext(f"{{{HSV_NS}}}henb-id")
            status = job.findtext(f"{{{HSV_NS}}}status")
            print(henb, status, job.findtext(f"{{{HSV_NS}}}job-id") or "", job.findtext(f"{{{HSV_NS}}}reason") or "")
            if status == "started":
                pending[job.findtext(f"{{{HSV_NS}}}job-id")] = henb
        results = {}
        while pending:
            n = m.take_notification(block=True, timeout=120)
            if n is None:
                print("timed out waiting for results:", ", ".join(pending.values()))
                return 1
            ev = etree.fromstring(n.notification_xml.encode())
            progress = ev.find(f"{{{HSV_NS}}}software-update-progress")
            if progress is not None and progress.findtext(f"{{{HSV_NS}}}job-id") in pending:
                print("progress", progress.findtext(f"{{{HSV_NS}}}henb-id"), step_name(progress.findtext(f"{{{HSV_NS}}}step")) + ":",
                      progress.findtext(f"{{{HSV_NS}}}text") or "")
                continue
            res = ev.find(f"{{{HSV_NS}}}software-update-result")
            if res is None:
                continue
            job_id = res.findtext(f"{{{HSV_NS}}}job-id")
            if job_id in pending:
                henb = pending.pop(job_id)
                results[henb] = res.findtext(f"{{{HSV_NS}}}status")
                print("result", henb, results[henb], res.findtext(f"{{{HSV_NS}}}reason") or "")
        return 0 if all(s == "verified" for s in results.values()) and len(results) == len(henbs) else 1


run(main)
