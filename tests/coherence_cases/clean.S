/* Correct sequence: write, clean every written line to PoC, invalidate the
 * I-cache, disable.  Expected: no hazard. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    mov x0, #0x55
    fill_buf
    clean_lines cvac, BUF_LINES
    icache_inval
    caches_off
    b handoff
    handoff_exit
