/* A 64 KiB granule map (the model walks 4 KiB tables only): every walk the
 * model tries while the MMU is on fails.  The store to BUF and the UART load
 * must be reported as walk-failed, never counted as write-back cacheable.
 * 64 KiB granule, T0SZ=32: the walk starts at level 2, 512 MiB blocks. */
#include "common.h"
#define UART 0x09000000
    .text
    .global _start
_start:
    ldr x9, =TT
    ldr x10, =(0x0060000000000401 | (ATTR_DEVICE << 2))   /* 0: Device, XN */
    str x10, [x9]
    str xzr, [x9, #8]
    ldr x10, =(0x40000701 | (ATTR_NORMAL << 2))   /* 2: 0x40000000 Normal */
    str x10, [x9, #16]
    str xzr, [x9, #24]
    str xzr, [x9, #32]
    str xzr, [x9, #40]
    str xzr, [x9, #48]
    str xzr, [x9, #56]
    regime_on 0xff00, 0x807520    /* TCR: T0SZ=32 IRGN0=ORGN0=WBWA SH0=IS TG0=64K EPD1 */
    caches_on
    ldr x11, =BUF
    mov x0, #0x55
    .global ram_store
ram_store:
    str x0, [x11]
    ldr x12, =UART
    .global uart_load
uart_load:
    ldr w1, [x12, #0x18]          /* PL011 flag register */
    dc civac, x11                 /* clean+invalidate BUF's line */
    dsb sy                        /* dsb: the clean has completed */
    caches_off
    b handoff
    handoff_exit
