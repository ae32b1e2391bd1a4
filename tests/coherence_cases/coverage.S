/* What the plugin records of a loader's maintenance by VA: lines invalidated
 * with the D-cache off before it first goes on, lines cleaned to PoC with it
 * on.  Invalidate BUF lines [0, 8) with the MMU off, caches on, store to the
 * whole buffer, clean+invalidate lines [2, 16) and clean [0, 2) after a
 * civac of line 0 (cleaned: counted; civac with the D-cache on is no
 * invalidate-before-enable), caches off.  No hazard. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    clean_lines ivac, 8           /* invalidate lines [0, 8) before the enable */
    caches_on
    mov x0, #5
    fill_buf
    ldr x11, =(BUF + 2 * LINE)
    ldr x12, =(BUF + 16 * LINE)
2:  dc civac, x11                 /* clean+invalidate lines [2, 16) to PoC */
    add x11, x11, #LINE
    cmp x11, x12
    b.lo 2b
    ldr x11, =BUF
    dc civac, x11                 /* line 0 */
    add x11, x11, #LINE
    dc cvac, x11                  /* line 1 */
    dsb sy                        /* dsb: the cleans have completed */
    icache_inval                  /* no stale instructions for the written lines */
    caches_off
    b handoff
    handoff_exit
