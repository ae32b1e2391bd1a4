# NXP i.MX8M Plus (QEMU imx8mp-evk, armStone/Verdin boards): console on UART2,
# 2 GiB of DDR at 0x40000000, generic timer at 8 MHz (read from CNTFRQ_EL0, never assumed).
UART        := imx
UART_BASE   := 0x30890000
DRAM_BASE   := 0x40000000
DRAM_SIZE   := 0x80000000
# U-Boot's IMAGE_START_ADDR on the real board: where bootm/booti leaves the loader.
LOADER_BASE := 0x50000000
# The probe kernel below the loader, its blob right after its small segments (a contiguous
# span, as seL4 images are). Blobs too big to fit below the loader are linked above it by
# the harness (KERNEL_BASE=0x80000000 BLOB_BASE=0x80010000 on the make command line).
KERNEL_BASE := 0x40000000
BLOB_BASE   := 0x40010000
# The firmware stand-in (images/firmware/, `make firmware`): GICv3 distributor and
# redistributors as QEMU's imx8mp-evk (and the SoC) place them, and where the firmware runs:
# the on-chip RAM (OCRAM 0x00900000-0x0098ffff), clear of everything in DRAM.
GICD_BASE   := 0x38800000
GICR_BASE   := 0x38880000
FW_BASE     := 0x00900000
