/*
 * Exception vector table of the loader (installed in VBAR_ELx of whatever EL it runs at).
 *
 * Nothing is expected to trap: every entry reports the exception and stops. The handler never
 * returns, so it takes a fresh stack (the top of the loader's stack) instead of trusting SP.
 * Entry order (ARMv8): current EL with SP_EL0, current EL with SP_ELx, lower EL AArch64,
 * lower EL AArch32; each group has Synchronous, IRQ, FIQ, SError, 0x80 bytes apart.
 */

.macro ventry kind
    .balign 0x80
    mov     x0, #\kind
    b       exception_entry
.endm

    .section .text.vectors, "ax"
    .balign 0x800                       /* VBAR_ELx requires a 2 KiB aligned table */
    .global vectors
vectors:
    ventry 0    /* current EL, SP_EL0: synchronous */
    ventry 1    /* IRQ */
    ventry 2    /* FIQ */
    ventry 3    /* SError */
    ventry 0    /* current EL, SP_ELx: synchronous */
    ventry 1
    ventry 2
    ventry 3
    ventry 0    /* lower EL, AArch64 */
    ventry 1
    ventry 2
    ventry 3
    ventry 0    /* lower EL, AArch32 */
    ventry 1
    ventry 2
    ventry 3

exception_entry:
    adrp    x1, __stack_top
    add     x1, x1, :lo12:__stack_top
    mov     sp, x1
    bl      exception_report            /* void exception_report(unsigned kind): no return */
1:  wfe
    b       1b
