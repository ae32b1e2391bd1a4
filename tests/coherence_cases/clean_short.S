/* Off-by-one clean loop: the last line stays dirty -> partial-clean. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    mov x0, #0x55
    fill_buf
    clean_lines cvac, (BUF_LINES - 1)
    icache_inval
    caches_off
    b handoff
    handoff_exit
