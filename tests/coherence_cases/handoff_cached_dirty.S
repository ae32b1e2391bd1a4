/* Caches stay on through the handoff (run with expect_handoff=any) and the
 * buffer was never cleaned -> dirty-at-handoff only. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    mov x0, #0x55
    fill_buf
    icache_inval
    b handoff
    handoff_exit
