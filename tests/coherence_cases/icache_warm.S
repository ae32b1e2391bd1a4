/* The I-cache may be on at entry with valid lines (the run passes the code
 * buffer as iwarm): code written there, even with the MMU off (uncached),
 * leaves the I-cache's copy old until an I-cache invalidate.
 *   default: write a `ret` to BUF uncached, caches on, call it
 *            -> stale-icache at BUF (the fetch) and at the hand-off
 *   -DIC   : ic iallu; dsb; isb before the caches go on: no hazard */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    ldr x11, =BUF
    ldr w12, =0xd65f03c0          /* ret */
    str w12, [x11]                /* MMU off: straight to memory */
    dsb sy                        /* dsb: the store has completed */
#ifdef IC
    ic iallu                      /* drop the I-cache's old copy */
    dsb sy                        /* dsb: the invalidate has completed */
    isb                           /* isb: later fetches see it */
#endif
    caches_on
    blr x11                       /* run the code just written */
    caches_off
    b handoff
    handoff_exit
