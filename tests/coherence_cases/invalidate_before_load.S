/* Negative control for stale-clean-line: the same sequence, but the line is
 * invalidated (dc ivac) after the uncached store, as Linux head.S does. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    ldr x11, =BUF
    ldr x2, [x11]
    caches_off
    mov x3, #0x77
    str x3, [x11]
    dc ivac, x11
    dsb sy
    caches_on
    ldr x4, [x11]
    caches_off
    b handoff
    handoff_exit
