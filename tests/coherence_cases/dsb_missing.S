/* Cache maintenance must be completed by a DSB before the caches/MMU change
 * or the hand-off.  Default: dc civac over BUF with no DSB, then the local
 * I-cache invalidate's `dsb nsh` (which does not complete by-VA operations,
 * broadcast to the Inner Shareable domain), then the caches go off ->
 * maintenance-incomplete at first_dc.
 *   -DDSB_AFTER=sy|ish : a DSB that completes them (no hazard)
 *   -DAT_ENABLE        : dc ivac with the MMU off, no DSB, then caches on
 *   -DAT_HANDOFF       : a final dc civac with no DSB right before the handoff */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
#ifdef AT_ENABLE
    ldr x11, =BUF
    .global first_dc
first_dc:
    dc ivac, x11                  /* drop a line: never completed by a DSB */
    caches_on
    caches_off
#elif defined(AT_HANDOFF)
    caches_on
    mov x0, #0x55
    fill_buf
    clean_lines civac, BUF_LINES
    icache_inval
    caches_off
    ldr x11, =BUF
    .global first_dc
first_dc:
    dc civac, x11                 /* never completed by a DSB */
#else
    caches_on
    mov x0, #0x55
    fill_buf
    ldr x11, =BUF
    ldr x12, =(BUF + BUF_LINES * LINE)
    .global first_dc
first_dc:
    dc civac, x11                 /* clean+invalidate to PoC by VA */
    add x11, x11, #LINE
    cmp x11, x12
    b.lo first_dc
#ifdef DSB_AFTER
    dsb DSB_AFTER                 /* dsb: the cleans have completed */
#endif
    ic iallu                      /* local I-cache invalidate */
    dsb nsh                       /* dsb nsh: completes the local ic only */
    isb                           /* isb: refetch after the invalidate */
    caches_off
#endif
    b handoff
    handoff_exit
