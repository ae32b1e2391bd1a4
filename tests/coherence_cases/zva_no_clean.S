/* dc zva zeroes a 64-byte block through the cache (QEMU reports no store for
 * it); without a clean the line is dirty at the disable. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    ldr x11, =(BUF + 2 * LINE)
    dc zva, x11
    icache_inval
    caches_off
    b handoff
    handoff_exit
