"""`python -m harness.lab`: a virtual lab in the foreground, and the power switch process.

`up` runs a virtual lab until Ctrl-C, for trying labgrid-client against it;
`pdu` is the virtual board's power switch, the process `VirtualLab` starts.
"""

from __future__ import annotations

import argparse
import time

from . import __doc__ as lab_doc
from .power import serve_power_switch
from .lease import signals_interrupt
from .imx8mp_board import TFTP_PORT_ENV
from .virtual import BOARDS, VIRTUAL_PLACE, VirtualLab


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.lab", description=lab_doc.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pdu = sub.add_parser("pdu", help="the virtual board's power switch (started by the lab)")
    pdu.add_argument("--listen", required=True)
    pdu.add_argument("--qmp", required=True)
    up = sub.add_parser("up", help="run a virtual lab in the foreground until Ctrl-C")
    up.add_argument("--place", default=VIRTUAL_PLACE, choices=sorted(BOARDS), help="the board it runs")
    args = p.parse_args(argv)
    if args.cmd == "pdu":
        serve_power_switch(args.listen, args.qmp)
        return 0
    with signals_interrupt(), VirtualLab(place=args.place) as lab:
        tftp = f" {TFTP_PORT_ENV}={lab.ports['tftp']}" if "tftp" in lab.ports else ""
        print(
            f"virtual lab up: export LG_COORDINATOR={lab.address}{tftp}; place '{lab.place}'; "
            f"logs in {lab.log_dir}. Ctrl-C stops it.",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0
