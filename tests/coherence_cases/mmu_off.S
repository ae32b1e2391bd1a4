/* Never turns on the MMU or the caches: stores, loads, cache maintenance by
 * VA and an I-cache invalidate.  Expected: no hazard at all. */
#include "common.h"
    .text
    .global _start
_start:
    mov x0, #0x55
    fill_buf
    ldr x11, =BUF
    ldr x2, [x11]
    clean_lines civac, BUF_LINES
    icache_inval
    b handoff
    handoff_exit
