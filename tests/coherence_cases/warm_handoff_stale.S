/* seL4's hand-off (run with expect_handoff=sel4, handoff_el=1, warm=BUF):
 * the destination is written with the MMU off while firmware's clean copies
 * of its lines are still cached, and the kernel is entered with the D-cache
 * on: it would read the stale copies -> stale-at-handoff over BUF.
 * -DINVALIDATE: the lines are invalidated before the caches go on. */
#include "common.h"
    .text
    .global _start
_start:
    mov x0, #0x55
    fill_buf                      /* MMU off: straight to memory */
#ifdef INVALIDATE
    clean_lines ivac, BUF_LINES   /* drop firmware's copies */
#endif
    mmu_setup ATTR_DEVICE
    caches_on
    b handoff
    handoff_exit
