/* dc ivac on written lines without cleaning them first: the data is thrown
 * away -> discarded-dirty (and nothing is left dirty at the disable). */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    mov x0, #0x55
    fill_buf
    clean_lines ivac, 2
    clean_lines cvac, BUF_LINES
    icache_inval                  /* after the D-side: nothing left I-stale */
    caches_off
    b handoff
    handoff_exit
