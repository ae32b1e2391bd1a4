/* The TLB may hold entries from before the loader (firmware ran with the MMU
 * on) or from tables the loader abandoned; an MMU enable needs a tlbi of the
 * regime completed by a DSB since.
 *   default      : tables set up, no tlbi, MMU on -> tlb-stale at mmu_on
 *   -DTLBI       : tlbi vmalle1; dsb nsh first: no hazard
 *   -DTLBI_VA    : tlbi vae1 (one page) only -> tlb-stale at mmu_on
 *   -DNEW_TABLES : first enable correct; off; other tables; on again without
 *                  a tlbi -> tlb-stale at mmu_on2
 *   -DNEW_TABLES -DTLBI2: a tlbi before the second enable: no hazard */
#include "common.h"
#define TT2 (TT + 0x1000)
    .text
    .global _start
_start:
    ldr x9, =TT
    ldr x10, =(0x0060000000000401 | (ATTR_DEVICE << 2))
    str x10, [x9]                 /* 0x00000000 GiB Device, XN */
    ldr x10, =(0x40000701 | (ATTR_NORMAL << 2))
    str x10, [x9, #8]             /* 0x40000000 GiB Normal WB */
    ldr x10, =0xff00
    msr mair_el1, x10
    ldr x10, =0x803520            /* T0SZ=32 IRGN0=ORGN0=WBWA SH0=IS TG0=4K EPD1 */
    msr tcr_el1, x10
    msr ttbr0_el1, x9
    isb                           /* isb: MAIR/TCR/TTBR0 in effect */
#if defined(TLBI) || defined(NEW_TABLES)
    tlbi vmalle1                  /* drop every EL1&0 entry */
    dsb nsh                       /* dsb: the invalidate has completed */
    isb                           /* isb: and is seen by what follows */
#elif defined(TLBI_VA)
    ldr x10, =(BUF >> 12)
    tlbi vae1, x10                /* one page only: other entries stay */
    dsb nsh                       /* dsb: the invalidate has completed */
    isb                           /* isb: and is seen by what follows */
#endif
    .global mmu_on
mmu_on:
    caches_on
#ifdef NEW_TABLES
    caches_off
    ldr x9, =TT
    ldr x11, =TT2
    ldr x10, [x9]
    str x10, [x11]                /* a copy of the tables elsewhere */
    ldr x10, [x9, #8]
    str x10, [x11, #8]
    dsb sy                        /* dsb: the table stores are complete */
    msr ttbr0_el1, x11
    isb                           /* isb: the new TTBR0 is in effect */
#ifdef TLBI2
    tlbi vmalle1                  /* drop the entries of the old tables */
    dsb nsh                       /* dsb: the invalidate has completed */
    isb                           /* isb: and is seen by what follows */
#endif
    .global mmu_on2
mmu_on2:
    caches_on
#endif
    caches_off
    b handoff
    handoff_exit
