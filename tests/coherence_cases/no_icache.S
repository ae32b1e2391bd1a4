/* Code written through the D-cache and cleaned, but the I-cache is never
 * invalidated: the fetch from the written line with I=1 and the handoff both
 * report stale-icache. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    ldr x0, =0xd65f03c0d65f03c0   /* two 'ret' instructions */
    fill_buf
    clean_lines cvac, BUF_LINES
    isb
    ldr x11, =BUF
    .global stale_fetch_call
stale_fetch_call:
    blr x11                       /* executes BUF: ret */
    caches_off
    b handoff
    handoff_exit
