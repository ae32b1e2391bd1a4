/* Code written through the D-cache, then the I-cache invalidated (ic iallu)
 * BEFORE the D-side clean: the I-cache may refill from memory that does not
 * hold the new code yet, so the lines stay I-stale -> stale-icache at the
 * handoff.  With -DCVAU_FIRST the lines are cleaned to PoU (dc cvau) before
 * the ic iallu: no hazard. */
#include "common.h"
    .text
    .global _start
_start:
    code_in_buf
#ifdef CVAU_FIRST
    clean_lines cvau, BUF_LINES   /* to PoU first: the I-side sees the code */
#endif
    icache_inval
    clean_lines cvac, BUF_LINES
    caches_off
    b handoff
    handoff_exit
