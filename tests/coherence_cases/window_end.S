/* The code after the window (seL4's stock path) must not inherit unfinished
 * maintenance or an unsynchronised system-register write.  `window_end` is
 * passed as the window's end PC; a dsb and an isb follow it, before the
 * hand-off, so only the judgement at the window's end can fail.
 *   default    : tlbi vmalle1 with no dsb before window_end
 *                -> maintenance-incomplete at the tlbi (first_op)
 *   -DNO_ISB   : tlbi; dsb nsh; no isb -> no-isb at the tlbi (first_op)
 *   -DMSR      : msr ttbr0_el1 (MMU off), no isb -> no-isb at it (first_op)
 *   -DCLEAN    : tlbi; dsb nsh; isb: no hazard */
#include "common.h"
    .text
    .global _start
_start:
    ldr x9, =TT
    .global first_op
first_op:
#if defined(MSR)
    msr ttbr0_el1, x9             /* not synchronised before the window ends */
#else
    tlbi vmalle1                  /* drop every EL1&0 entry */
#if defined(NO_ISB) || defined(CLEAN)
    dsb nsh                       /* dsb: the invalidate has completed */
#endif
#ifdef CLEAN
    isb                           /* isb: and is seen by what follows */
#endif
#endif
    .global window_end
window_end:
    nop
    dsb sy                        /* too late: the window has ended */
    isb                           /* too late: the window has ended */
    b handoff
    handoff_exit
