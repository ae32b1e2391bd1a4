"""QEMU targets: the labgrid boot strategy and what only a QEMU guest allows.

`strategy` (the labgrid `QEMUBootStrategy`), `process` (start and stop labgrid's QEMU,
shared with the U-Boot strategy), `drain` (the console socket drained during
start-up), `command` (the command labgrid starts, the one a person can run, the
instruction-count clock), `firmware` (firmware first, the loader beside it), `poison`
(bss pre-filled before the guest starts, clear of what QEMU and the image place),
`gdbstub` (a minimal RSP client) and `verify` (out-of-band memory verification
through the gdbstub and QMP).
"""
