/* Run with warm=BUF: firmware left BUF's lines valid and clean.  The store
 * with the MMU off goes to memory and leaves the cached copy stale; the load
 * with caches on hits it -> stale-clean-line at stale_load.  With
 * -DINVALIDATE the lines are invalidated (dc ivac) first: no hazard.  Cold
 * (no warm range) there is nothing to be stale: no hazard. */
#include "common.h"
    .text
    .global _start
_start:
    ldr x11, =BUF
    mov x3, #0x77
    str x3, [x11]                 /* MMU off: straight to memory */
#ifdef INVALIDATE
    dc ivac, x11                  /* drop the firmware's copy of the line */
    dsb sy                        /* dsb: the invalidate has completed */
#endif
    mmu_setup ATTR_DEVICE
    caches_on
    .global stale_load
stale_load:
    ldr x4, [x11]
    caches_off
    b handoff
    handoff_exit
