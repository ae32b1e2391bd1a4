/* Clean, then one more store to line 5 before the disable. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    mov x0, #0x55
    fill_buf
    clean_lines cvac, BUF_LINES
    ldr x11, =(BUF + 5 * LINE + 8)
    .global late_store
late_store:
    str x0, [x11]
    icache_inval
    caches_off
    b handoff
    handoff_exit
