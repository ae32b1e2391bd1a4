/* U-Boot order: disable first, then clean+invalidate every set and way of
 * every level up to the level of coherence, geometry from CLIDR/CCSIDR, then
 * invalidate the I-cache (after the D-side clean, as U-Boot's
 * cleanup_before_linux does).  Expected: no hazard. */
#include "common.h"
#ifndef LEVELS_TO_SWEEP
#define LEVELS_TO_SWEEP 7       /* all levels up to LoC; 1 = L1 only (a bug) */
#endif
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    mov x0, #0x55
    fill_buf
    caches_off
    mov x0, #LEVELS_TO_SWEEP
    bl setway_cisw
    icache_inval
    b handoff

/* dc cisw over levels [0, min(x0, LoC)). Clobbers x0-x8, x13-x15. */
setway_cisw:
    mov x15, x30
    dsb sy                        /* earlier stores complete before any set/way op */
    mrs x1, clidr_el1
    ubfx x2, x1, #24, #3          /* LoC */
    cmp x0, x2
    csel x2, x0, x2, lo
    mov x3, #0                    /* level */
10: cmp x3, x2
    b.hs 19f
    lsl x4, x3, #1
    msr csselr_el1, x4
    isb
    mrs x5, ccsidr_el1
    and x6, x5, #7
    add x6, x6, #4                /* log2(line bytes) */
    ubfx x7, x5, #3, #10          /* ways - 1 */
    ubfx x8, x5, #13, #15         /* sets - 1 */
    clz w13, w7                   /* way shift = 32 - log2(ways) */
11: mov x14, x7                   /* way */
12: lsl x0, x14, x13
    lsl x1, x8, x6
    orr x0, x0, x1
    orr x0, x0, x4
    dc cisw, x0
    subs x14, x14, #1
    b.ge 12b
    subs x8, x8, #1
    b.ge 11b
    add x3, x3, #1
    b 10b
19: dsb sy
    isb
    ret x15

    handoff_exit
