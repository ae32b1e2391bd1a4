/* A write to SCTLR/TTBR/TCR/MAIR takes effect for later instructions only
 * after a context synchronization event (isb, eret, exception entry).
 *   default   : msr sctlr_el1 (MMU and caches on), then a load with no isb
 *               -> no-isb at msr_write
 *   -DTTBR_ON : with the MMU on, msr ttbr0_el1 then a load, no isb
 *               -> no-isb at msr_write
 *   -DTTBR_OFF: msr ttbr0_el1 with the MMU off, no isb before the msr
 *               that turns the MMU on -> no-isb at msr_write
 *   -DISB     : the isb is there: no hazard */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    ldr x11, =BUF
#if defined(TTBR_ON)
    caches_on
    ldr x9, =TT
    .global msr_write
msr_write:
    msr ttbr0_el1, x9             /* the same table again */
#ifdef ISB
    isb                           /* isb: the TTBR write is in effect */
#endif
    ldr x4, [x11]
#elif defined(TTBR_OFF)
    ldr x9, =TT
    .global msr_write
msr_write:
    msr ttbr0_el1, x9             /* the same table again */
#ifdef ISB
    isb                           /* isb: the TTBR write is in effect */
#endif
    caches_on
    ldr x4, [x11]
#else
    mrs x9, sctlr_el1
    ldr x10, =((1 << 0) | (1 << 2) | (1 << 12))
    orr x9, x9, x10
    .global msr_write
msr_write:
    msr sctlr_el1, x9             /* MMU and caches on */
#ifdef ISB
    isb                           /* isb: the SCTLR write is in effect */
#endif
    ldr x4, [x11]
#endif
    caches_off
    b handoff
    handoff_exit
