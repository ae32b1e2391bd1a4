# QEMU "virt" (Cortex-A53): PL011 console, 2 GiB of RAM at 0x40000000 (run QEMU with -m 2G).
UART        := pl011
UART_BASE   := 0x09000000
DRAM_BASE   := 0x40000000
DRAM_SIZE   := 0x80000000
# The loader links itself high so that the images below it never collide with it.
LOADER_BASE := 0x80000000
# The probe kernel: text at KERNEL_BASE, the random blob right after its small segments
# (a contiguous span, as seL4 images are: mmu-off zeroes the whole span first).
KERNEL_BASE := 0x40200000
BLOB_BASE   := 0x40210000
