/*
 * Entry point of the reference elfloader.
 *
 * The image begins with a 64-byte arm64 Linux "Image" header, so the very same bytes can be
 * booted as an ELF (entry = _start), as a raw binary, or as a Linux Image (QEMU -kernel, U-Boot
 * booti). code0 branches over the header, so entering at its first byte works in every case.
 *
 * Entry state: any of EL1, EL2, EL3; MMU and caches off; x0 = DTB address or 0.
 */

#define TEXT_OFFSET (LOADER_BASE - DRAM_BASE)

    .section .text.head, "ax"
    .global _start
    .type _start, %function
_start:
    b       real_start                  /* code0: branch over the header */
    .long   0                           /* code1 */
    .quad   TEXT_OFFSET                 /* text_offset: load at DRAM base + this */
    .quad   _loader_image_size          /* image_size: includes .bss (non-zero: offset valid) */
    .quad   0x2                         /* flags: little-endian, 4 KiB pages, near DRAM base */
    .quad   0                           /* res2 */
    .quad   0                           /* res3 */
    .quad   0                           /* res4 */
    .ascii  "ARM\x64"                   /* magic */
    .long   0                           /* res5: no PE/COFF header */

real_start:
    mov     x19, x0                     /* keep the DTB pointer (or 0) from the boot loader */

    /* Mask debug, SError, IRQ and FIQ: nothing here is interrupt driven. */
    msr     daifset, #0xf

    /* Use SP_ELx (not SP_EL0) so that exceptions taken to this EL keep the same stack. */
    msr     spsel, #1

    mrs     x20, CurrentEL
    ubfx    x20, x20, #2, #2            /* x20 = current exception level */

    /* Install the vector table for the current EL. */
    adrp    x1, vectors
    add     x1, x1, :lo12:vectors
    cmp     x20, #3
    b.eq    1f
    cmp     x20, #2
    b.eq    2f
    msr     vbar_el1, x1
    b       3f
1:  msr     vbar_el3, x1
    b       3f
2:  msr     vbar_el2, x1
3:  isb                                 /* isb: the new VBAR is used from here on */

    adrp    x1, __stack_top
    add     x1, x1, :lo12:__stack_top
    mov     sp, x1

    /*
     * Zero .bss (which also holds the stack and the page-table pool). The MMU is off, so every
     * data access is to Device memory: only aligned accesses are allowed. Both ends are
     * 64-byte aligned by link.ld, so aligned 8-byte stores cover it exactly.
     */
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
4:  cmp     x1, x2
    b.hs    5f
    str     xzr, [x1], #8
    b       4b
5:
    mov     x0, x19                     /* main(dtb, el) */
    mov     x1, x20
    bl      main

    /* main() does not return; if it ever did, idle. */
6:  wfe
    b       6b
    .size _start, . - _start

    /* The loader's stack: 16 KiB in .bss, 16-byte aligned as the AAPCS64 requires. */
    .section .bss.stack, "aw", %nobits
    .balign 16
    .global __stack_bottom, __stack_top
__stack_bottom:
    .skip   16384
__stack_top:
