/* Missing clean: dirty-at-disable over the whole buffer. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    mov x0, #0x55
    fill_buf
    icache_inval
    caches_off
    b handoff
    handoff_exit
