#!/usr/bin/env python3
"""Step 8 by RPC: report an H(e)NB's completion TIM for a job (for devices that cannot send the
device notification). An unknown job is answered with an rpc-error (error-app-tag job-unknown).

usage: completion_tim.py JOB_ID HENB_ID TIM_HEX
"""
import sys

from ncclient.xml_ import to_ele
from hsv_connect import HSV_NS, connect, run

if len(sys.argv) != 4:
    sys.exit(__doc__)
job, henb, tim = sys.argv[1:]


def main():
    with connect() as m:
        m.dispatch(to_ele(f'<completion-tim xmlns="{HSV_NS}"><job-id>{job}</job-id><henb-id>{henb}</henb-id><tim>{tim}</tim></completion-tim>'))
        print("ok")


run(main)
