/* Counting: a 16-byte ldp/stp copy of COPY_BYTES bytes from SRC to DST between
 * `begin` and `handoff`.  With -DCACHED the MMU and caches are on and the
 * destination is cleaned by VA and the I-cache invalidated inside the window.
 *   loop: ldp, stp, subs, b.ne             (4 insns per 16 bytes)
 *   clean: dc cvac, add, cmp, b.lo          (4 insns per line)  [CACHED]
 *   then:  dsb sy, ic iallu, dsb sy, isb    (4 insns)           [CACHED]
 *   then:  b handoff                        (1 insn)
 */
#include "common.h"
#ifndef COPY_BYTES
#define COPY_BYTES 4096
#endif
#define SRC 0x40400000
#define DST 0x40500000
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
#ifdef CACHED
    caches_on
#endif
    ldr x0, =SRC
    ldr x1, =DST
    ldr x2, =COPY_BYTES
    ldr x5, =DST
    ldr x6, =(DST + COPY_BYTES)
    .global begin
begin:
    ldp x3, x4, [x0], #16
    stp x3, x4, [x1], #16
    subs x2, x2, #16
    b.ne begin
#ifdef CACHED
3:  dc cvac, x5
    add x5, x5, #LINE
    cmp x5, x6
    b.lo 3b
    dsb sy
    ic iallu
    dsb sy
    isb
#endif
    b handoff
    handoff_exit
