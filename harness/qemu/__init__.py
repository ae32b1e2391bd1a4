"""QEMU targets: the labgrid boot strategy and what only a QEMU guest allows.

`strategy` (the labgrid `QEMUBootStrategy`, the start and stop of labgrid's QEMU the
U-Boot strategy shares, the command lines), `gdbstub` (a minimal RSP client) and
`verify` (out-of-band memory verification through the gdbstub and QMP).
"""
