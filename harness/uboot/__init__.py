"""The U-Boot `bootm` path: a labgrid Strategy, off -> uboot -> loader -> handoff.

On the boards the elfloader is reached through U-Boot: interrupt autoboot, get
a prompt, fetch a uImage or FIT by TFTP, `bootm ADDR[#conf] - ${fdtcontroladdr}`.
`UBootBootStrategy` drives exactly that, on QEMU (`QEMUDriver` is power and
console) and on boards (any labgrid power driver + `SerialDriver`, locally or
through a `RemotePlace`), with TFTP served by labgrid's `TFTPProvider`.

States: `off`; `running` (powered, console attached: what boot.py asks for);
`uboot` (at a verified prompt); `loader` (`Starting kernel ...` seen: the
elfloader runs); `handoff` (the loader's hand-off line seen, standalone use).
In a harness boot, `bootstrap()` walks running -> uboot -> loader and
`boot.follow` takes the loader and kernel phases.

Why not labgrid's UBootDriver: it reads the console through pexpect itself,
so U-Boot's lines would bypass our ConsoleRecorder (no host timestamps, no
timeline); its prompt wait sends blind interrupts and fixed 2 s probes; and its
boot step expects Linux. The facts it needs (prompt, autoboot text, interrupt)
are the target YAML's `harness.uboot` section, validated in one place. Every
byte here goes through `rec.wait_for` with `tl.feed`, so U-Boot's phases join
the same timeline as the loader's.

Robustness: the autoboot interrupt is re-sent while the countdown is still on
the line (up to `retries`), a silent console is nudged, a missed window is
answered with Ctrl-C and then a power cycle; after the prompt the console is
resynchronised with an `echo` marker, and every command is checked against its
echo before Enter is pressed (a UART that drops characters never executes a
garbled command).

Failures are classified: infrastructure (no console output, no prompt, a
garbled console, TFTP failure, staging failure, lost console) versus product
(U-Boot rejects the image, bootm never starts it, the loader's own errors).

The parts: `commands` (the pure command sequence and dry-run text), `prompt`
(the recorder-facing console and the prompt dialogue), `staging` (packaging and
TFTP staging), `strategy` (the labgrid state machine). Importing this package
registers `UBootBootStrategy` with labgrid's target factory.
"""

from __future__ import annotations

from .commands import TEMPLATE, command_parts, command_sequence, dry_run_text, render, template_names
from .prompt import CTRL_C, WAIT_PHASE
from .staging import LOCAL_HOSTS, check_layout, dry_run_offline, package_for, staged_name
from .strategy import ORDER, Status, UBootBootStrategy  # registers the strategy with labgrid

__all__ = [
    "CTRL_C",
    "LOCAL_HOSTS",
    "ORDER",
    "TEMPLATE",
    "WAIT_PHASE",
    "Status",
    "UBootBootStrategy",
    "check_layout",
    "command_parts",
    "command_sequence",
    "dry_run_offline",
    "dry_run_text",
    "package_for",
    "render",
    "staged_name",
    "template_names",
]
