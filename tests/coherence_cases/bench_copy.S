/* Slowdown benchmark: PASSES copies of 64 MiB with ldp/stp after one warm-up
 * copy (first touch of guest RAM is slow on the host).  Each timed pass prints
 * its CNTVCT tick count (hex) through semihosting SYS_WRITE0.  With -DCACHED
 * the copy runs with MMU and caches on. */
#include "common.h"
#ifndef PASSES
#define PASSES 2
#endif
#define SRC 0x41000000
#define DST 0x46000000
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
#ifdef CACHED
    caches_on
#endif
    bl copy                       /* warm-up */
    mov x20, #PASSES
1:  isb
    mrs x21, cntvct_el0
    bl copy
    isb
    mrs x22, cntvct_el0
    sub x0, x22, x21
    bl puthex
    subs x20, x20, #1
    b.ne 1b
    b handoff
copy:
    ldr x0, =SRC
    ldr x1, =DST
    mov x2, #(64 << 20)
2:  ldp x3, x4, [x0], #16
    stp x3, x4, [x1], #16
    subs x2, x2, #16
    b.ne 2b
    ret
puthex:                           /* x0 -> 16 hex digits and a newline */
    ldr x1, =hexbuf
    mov x3, #60
3:  lsr x4, x0, x3
    and x4, x4, #15
    cmp x4, #10
    add x5, x4, #'0'
    add x6, x4, #('a' - 10)
    csel x4, x5, x6, lo
    strb w4, [x1], #1
    subs x3, x3, #4
    b.pl 3b
    mov x4, #10
    strb w4, [x1], #1
    strb wzr, [x1]
    ldr x1, =hexbuf
    mov x0, #4
    hlt #0xf000
    ret
    handoff_exit
    .data
hexbuf: .space 32
