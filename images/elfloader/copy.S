/*
 * void copy_wide(uintptr_t dst, const uint8_t *src, uint64_t n)
 *
 * The early-mmu (and fallback) copy: 16 bytes per ldp/stp, 64 or 128 bytes per loop iteration,
 * whatever the relative alignment of source and destination. The baseline mmu-off mode keeps
 * the 8-byte C loops of unpack.c (copy_bytes), which mirror seL4's own loader.
 *
 *   1. Single bytes until the destination is 16-byte aligned (at most 15).
 *   2. Source 8-byte aligned too ("co-aligned"): plain ldp/stp.
 *      Otherwise the source is k = src % 8 (1..7) bytes past an aligned word. It is read with
 *      aligned ldp only, and each output word is the top 8-k bytes of one aligned word plus the
 *      low k bytes of the next (little-endian): one EXTR instruction, whose shift must be an
 *      immediate, so there is one loop per k (seven, made by a macro) and a branch table.
 *   3. Fewer than 64 bytes left: 16 bytes at a time with register shifts, then single bytes.
 *
 * Every access is aligned (8 or 16 bytes, or a byte), so the same code is legal with the MMU
 * off, where memory is Device-nGnRnE and an unaligned access faults: one copy routine for both
 * regimes. No load touches an aligned word that holds none of the wanted source bytes, so the
 * copy never reads past the page that holds the source's last byte.
 *
 * Registers: x0 dst, x1 src, x2 bytes left; x3 = 8k, x4 = 64 - 8k; x5 = the aligned source
 * word that holds the next wanted bytes ("lo"); x6-x15 scratch. No stack, no stores but to dst.
 */

    .text

/* 64 bytes from the aligned source word pointer x1 (lo in x5) with EXTR #(8*k). */
.macro extr_64 k
    ldp     x6, x7, [x1], #16
    ldp     x8, x9, [x1], #16
    ldp     x10, x11, [x1], #16
    ldp     x12, x13, [x1], #16
    extr    x14, x6, x5, #(8 * \k)      /* (x6:x5) >> 8k: lo's top bytes, x6's low bytes */
    extr    x15, x7, x6, #(8 * \k)
    stp     x14, x15, [x0], #16
    extr    x14, x8, x7, #(8 * \k)
    extr    x15, x9, x8, #(8 * \k)
    stp     x14, x15, [x0], #16
    extr    x14, x10, x9, #(8 * \k)
    extr    x15, x11, x10, #(8 * \k)
    stp     x14, x15, [x0], #16
    extr    x14, x12, x11, #(8 * \k)
    extr    x15, x13, x12, #(8 * \k)
    stp     x14, x15, [x0], #16
    mov     x5, x13                     /* the last word read still holds wanted bytes */
.endm

/* The loop for one k: 128 bytes per iteration, then at most one block of 64. */
.macro copy_extr_loop k
1:  cmp     x2, #128
    b.lo    2f
    extr_64 \k
    extr_64 \k
    sub     x2, x2, #128
    b       1b
2:  cmp     x2, #64
    b.lo    .Lshift_16
    extr_64 \k
    sub     x2, x2, #64
    b       .Lshift_16
.endm

    .global copy_wide
    .type copy_wide, %function
copy_wide:
    /* 1. Head: single bytes up to a 16-byte aligned destination. */
.Lhead:
    cbz     x2, .Ldone
    tst     x0, #15
    b.eq    .Laligned
    ldrb    w6, [x1], #1
    strb    w6, [x0], #1
    sub     x2, x2, #1
    b       .Lhead

.Laligned:
    ands    x3, x1, #7                  /* x3 = k, the source's offset in its aligned word */
    b.ne    .Lshifted

    /* 2a. Co-aligned: 64 bytes per iteration, then 16. */
.Lco_64:
    cmp     x2, #64
    b.lo    .Lco_16
    ldp     x6, x7, [x1], #16
    ldp     x8, x9, [x1], #16
    ldp     x10, x11, [x1], #16
    ldp     x12, x13, [x1], #16
    stp     x6, x7, [x0], #16
    stp     x8, x9, [x0], #16
    stp     x10, x11, [x0], #16
    stp     x12, x13, [x0], #16
    sub     x2, x2, #64
    b       .Lco_64
.Lco_16:
    cmp     x2, #16
    b.lo    .Ltail
    ldp     x6, x7, [x1], #16
    stp     x6, x7, [x0], #16
    sub     x2, x2, #16
    b       .Lco_16

    /* 2b. Not co-aligned: aligned loads and a merge of neighbouring words. */
.Lshifted:
    cmp     x2, #16
    b.lo    .Ltail                      /* too short to bother: x1 is still the byte pointer */
    lsl     x3, x3, #3                  /* x3 = 8k: right shift of lo */
    mov     x4, #64
    sub     x4, x4, x3                  /* x4 = 64 - 8k: left shift of the next word */
    bic     x1, x1, #7                  /* x1 = the aligned word holding the first byte */
    ldr     x5, [x1], #8                /* lo */
    cmp     x2, #64
    b.lo    .Lshift_16
    adr     x6, .Lextr_table
    add     x6, x6, x3, lsr #1          /* 4-byte table entries: 8k / 2 = 4k; entry 0 unused */
    br      x6
.Lextr_table:
    b       .Lshift_16                  /* k = 0 does not happen here */
    b       .Lextr_1
    b       .Lextr_2
    b       .Lextr_3
    b       .Lextr_4
    b       .Lextr_5
    b       .Lextr_6
    b       .Lextr_7
.Lextr_1:   copy_extr_loop 1
.Lextr_2:   copy_extr_loop 2
.Lextr_3:   copy_extr_loop 3
.Lextr_4:   copy_extr_loop 4
.Lextr_5:   copy_extr_loop 5
.Lextr_6:   copy_extr_loop 6
.Lextr_7:   copy_extr_loop 7

    /* 3. Up to 63 bytes left (shifted case): 16 at a time with register shifts. */
.Lshift_16:
    cmp     x2, #16
    b.lo    .Lshift_done
    ldp     x6, x7, [x1], #16
    lsr     x14, x5, x3
    lsl     x15, x6, x4
    orr     x14, x14, x15
    lsr     x15, x6, x3
    lsl     x8, x7, x4
    orr     x15, x15, x8
    stp     x14, x15, [x0], #16
    mov     x5, x7
    sub     x2, x2, #16
    b       .Lshift_16
.Lshift_done:
    sub     x1, x1, #8                  /* back to the byte pointer: lo's word ... */
    add     x1, x1, x3, lsr #3          /* ... plus k */

    /* Tail: the last 0..15 bytes, singly. */
.Ltail:
    cbz     x2, .Ldone
    ldrb    w6, [x1], #1
    strb    w6, [x0], #1
    sub     x2, x2, #1
    b       .Ltail
.Ldone:
    ret
    .size copy_wide, . - copy_wide
