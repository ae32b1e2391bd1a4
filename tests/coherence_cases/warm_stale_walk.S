/* Run with warm=TT: firmware left the table's line valid and clean.  The
 * tables are written with the MMU off (to memory); the walker reads them
 * through the cache (TCR IRGN0/ORGN0 write-back) and finds the stale copy
 * -> stale-walk.  -DINVALIDATE: dc ivac of the table first, no hazard.
 * -DWALK_NC: TCR says the walks are Non-cacheable, no hazard. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
#ifdef INVALIDATE
    ldr x9, =TT
    dc ivac, x9                   /* drop the firmware's copy of the table */
    dsb sy                        /* dsb: the invalidate has completed */
#endif
#ifdef WALK_NC
    ldr x10, =0x803020            /* as mmu_setup, IRGN0=ORGN0=Non-cacheable */
    msr tcr_el1, x10
    isb                           /* isb: the new TCR is in effect */
#endif
    caches_on
    ldr x11, =BUF
    ldr x4, [x11]
    caches_off
    b handoff
    handoff_exit
