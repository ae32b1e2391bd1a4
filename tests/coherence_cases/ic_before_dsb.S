/* Code written through the D-cache, cleaned to PoC by VA, then the I-cache
 * invalidated with no DSB between: the invalidate may complete before the
 * cleans, and the I-side refill from memory they have not reached yet ->
 * maintenance-incomplete at the first clean (first_dc).
 *   -DDSB : dsb ish between the cleans and the ic iallu (no hazard) */
#include "common.h"
    .text
    .global _start
_start:
    code_in_buf
    ldr x11, =BUF
    ldr x12, =(BUF + BUF_LINES * LINE)
    .global first_dc
first_dc:
    dc cvac, x11                  /* clean to PoC by VA */
    add x11, x11, #LINE
    cmp x11, x12
    b.lo first_dc
#ifdef DSB
    dsb ish                       /* dsb: the cleans have completed */
#endif
    icache_inval                  /* ic iallu; dsb sy; isb */
    caches_off
    b handoff
    handoff_exit
