/* Caches stay on through the handoff (run with expect_handoff=any) and the
 * buffer was never cleaned to PoC (only to PoU, so the I-cache invalidate
 * is sound) -> dirty-at-handoff only. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    mov x0, #0x55
    fill_buf
    clean_lines cvau, BUF_LINES   /* to PoU: the I-side sees the new bytes */
    icache_inval
    b handoff
    handoff_exit
