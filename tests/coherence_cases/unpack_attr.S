/* The attribute an unpack's stores go through: copy 4 KiB from SRC to BUF
 * between `begin` and `handoff` with the MMU on and DRAM mapped through MAIR
 * attribute 1 = NORMAL_ATTR (default 0xff: Normal write-back; 0xbb
 * write-through, 0x44 Non-cacheable, 0x00 Device-nGnRnE), or with
 * -DMMU_OFF (SCTLR untouched), or -DDCACHE_OFF (M and I on, C clear).
 * Every line is cleaned by VA before the disable: no hazard either way. */
#include "common.h"
#ifndef NORMAL_ATTR
#define NORMAL_ATTR 0xff
#endif
#define SRC 0x40400000
#define NBYTES 4096
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    ldr x9, =((NORMAL_ATTR) << 8)
    msr mair_el1, x9              /* attribute 1: the DRAM mapping under test */
    isb                           /* isb: the MAIR write is in effect */
#if defined(DCACHE_OFF)
    mrs x9, sctlr_el1
    ldr x10, =((1 << 0) | (1 << 12))
    orr x9, x9, x10
    msr sctlr_el1, x9             /* MMU and I-cache on, D-cache off */
    isb                           /* isb: the SCTLR write is in effect */
#elif !defined(MMU_OFF)
    caches_on
#endif
    ldr x0, =SRC
    ldr x1, =BUF
    ldr x2, =NBYTES
    .global begin
begin:
    ldp x3, x4, [x0], #16
    stp x3, x4, [x1], #16
    subs x2, x2, #16
    b.ne begin
    ldr x5, =BUF
    ldr x6, =(BUF + NBYTES)
3:  dc civac, x5                  /* write the copy back to PoC and drop it */
    add x5, x5, #LINE
    cmp x5, x6
    b.lo 3b
    dsb sy                        /* dsb: the cleans have completed */
    ic iallu                      /* no stale instructions for the copied lines */
    dsb sy                        /* dsb: the I-cache invalidate has completed */
    isb                           /* isb: later fetches see it */
    caches_off
    b handoff
    handoff_exit
