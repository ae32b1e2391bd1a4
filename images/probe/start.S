/*
 * Entry of the probe kernel: keep x0, take the stack of the stack segment, call probe_main.
 * Nothing else is written before probe_main has checked the image (only the stack).
 */
    .section .text.start, "ax"
    .global _start
    .type _start, %function
_start:
    mov     x19, x0                     /* the DTB pointer (or 0) the loader passed */
    msr     daifset, #0xf               /* no interrupts are used */
    adrp    x1, __stack_top
    add     x1, x1, :lo12:__stack_top
    mov     sp, x1
    mov     x0, x19
    bl      probe_main
1:  wfi
    b       1b
    .size _start, . - _start
