/* Code written through the D-cache and cleaned, but the I-cache is never
 * invalidated: the fetch from the written line with I=1 and the handoff both
 * report stale-icache. */
#include "common.h"
    .text
    .global _start
_start:
    code_in_buf
    clean_lines cvac, BUF_LINES
    isb
    ldr x11, =BUF
    .global stale_fetch_call
stale_fetch_call:
    blr x11                       /* executes BUF: ret */
    caches_off
    b handoff
    handoff_exit
