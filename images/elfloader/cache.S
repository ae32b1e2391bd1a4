/*
 * Cache maintenance and the two ways of leaving the loader.
 *
 * Cache lines are handled by virtual address. The loader's map is an identity map (VA == PA),
 * and with the MMU off VA == PA by definition, so the addresses below are also physical.
 * The line size used is CTR_EL0.DminLine: the smallest D-cache line of any cache level, so a
 * loop stepping by it never skips a line of any level.
 */

#define SCTLR_M  (1 << 0)
#define SCTLR_C  (1 << 2)
#define SCTLR_I  (1 << 12)

/* \reg = smallest D-cache line size in bytes (4 << CTR_EL0.DminLine). Clobbers \tmp. */
.macro dcache_line_size reg, tmp
    mrs     \tmp, ctr_el0
    ubfx    \tmp, \tmp, #16, #4
    mov     \reg, #4
    lsl     \reg, \reg, \tmp
.endm

    .text

/*
 * void dcache_invalidate_range(uintptr_t start, uintptr_t end)
 *
 * Invalidate [start, end) to the Point of Coherency. Used with the MMU and caches off, just
 * before they are turned on, on memory the loader wrote with caches off: a cache may still
 * hold (stale) lines for those addresses from a boot loader that ran with caches on, and once
 * the caches are on such a line would hide what we wrote to memory.
 */
    .global dcache_invalidate_range
    .type dcache_invalidate_range, %function
dcache_invalidate_range:
    dcache_line_size x2, x3
    sub     x3, x2, #1
    bic     x0, x0, x3                  /* round start down to a line */
1:  cmp     x0, x1
    b.hs    2f
    dc      ivac, x0                    /* discard this line from every cache level to PoC */
    add     x0, x0, x2
    b       1b
2:  ret                                 /* completed by the caller's dsb before caches on */
    .size dcache_invalidate_range, . - dcache_invalidate_range

/*
 * void jump_to_entry(uintptr_t entry, uintptr_t dtb)   -- does not return
 *
 * The MMU-off handoff (mmu-off and fallback). Data was written with the MMU off, so it went
 * straight to memory as Device accesses: nothing to clean.
 */
    .global jump_to_entry
    .type jump_to_entry, %function
jump_to_entry:
    dsb     sy                          /* dsb: every store of the unpack has completed */
    ic      iallu                       /* drop any stale instructions a boot loader that ran
                                           with SCTLR.I set may have left for these addresses */
    dsb     sy                          /* dsb: the invalidation has completed ... */
    isb                                 /* isb: ... before the next instruction is fetched */
    mov     x2, x0                      /* x2 = entry */
    mov     x0, x1                      /* x0 = DTB address (or 0), as the kernel expects */
    br      x2
    .size jump_to_entry, . - jump_to_entry

/*
 * void clean_disable_jump(const struct clean_range *ranges, uint64_t nranges,
 *                         uintptr_t entry, uintptr_t dtb)   -- does not return
 *
 * The early-mmu handoff. Everything the loader wrote with the D-cache on -- every destination
 * segment, the DTB copy, its own data/bss/stack/page tables -- may still sit dirty in the
 * cache. The kernel starts with the MMU and caches off and reads memory directly, so every
 * such line must reach the Point of Coherency first, and nothing may dirty a line again
 * between the clean and the moment the D-cache is off.
 *
 * Hence this routine makes NO stores at all: it only loads the range table (struct
 * clean_range { uint64_t start, end; }) and uses registers. (The C code that built the table
 * and printed the last lines ran before it; those stores are covered because the loader's own
 * writable range is one of the ranges.)
 */
    .global clean_disable_jump
    .type clean_disable_jump, %function
clean_disable_jump:
    dcache_line_size x4, x5             /* x4 = line size */
    sub     x5, x4, #1                  /* x5 = line mask; no barrier before the cleans:
                                           DC by VA is ordered after earlier stores to its
                                           line through the (Normal WB) map */

#ifndef BUG_NO_CLEAN                    /* NEGATIVE CONTROL no-clean: this loop is left out */
    mov     x10, x0                     /* x10 = range cursor, x11 = ranges left */
    mov     x11, x1
1:  cbz     x11, 4f
    ldp     x6, x7, [x10], #16          /* x6 = start, x7 = end of this range */
    bic     x6, x6, x5                  /* round start down to a line */
    add     x7, x7, x5
    bic     x7, x7, x5                  /* round end up to a line */
    lsl     x12, x4, #2                 /* x12 = four lines */
2:  sub     x8, x7, x6                  /* bytes left: four lines per iteration while they last */
    cmp     x8, x12
    b.lo    5f
    dc      cvac, x6                    /* write these four lines back to PoC if dirty */
    add     x6, x6, x4
    dc      cvac, x6
    add     x6, x6, x4
    dc      cvac, x6
    add     x6, x6, x4
    dc      cvac, x6
    add     x6, x6, x4
    b       2b
5:  cmp     x6, x7                      /* then the last 0..3 lines one by one */
    b.hs    3f
    dc      cvac, x6                    /* write this line back to PoC if dirty */
    add     x6, x6, x4
    b       5b
3:  sub     x11, x11, #1
    b       1b
4:
#endif
    dsb     sy                          /* dsb: all cleans have reached PoC before the
                                           caches/MMU are switched off */

#ifdef BUG_STORE_AFTER_CLEAN
    /* NEGATIVE CONTROL: re-dirty one word of the kernel's first segment after its clean. */
    ldr     x6, [x0]                    /* ranges[0].start */
    bic     x6, x6, #7
    ldr     x7, [x6]
    str     x7, [x6]                    /* the line is dirty again in the D-cache */
    dsb     sy                          /* dsb: the store has been performed */
#endif

#ifndef BUG_NO_ICACHE_INV               /* NEGATIVE CONTROL no-icache-inv: no ic iallu */
    ic      iallu                       /* invalidate the I-cache to PoU: the kernel's code was
                                           written as data, the I-cache must not serve stale
                                           instructions for those addresses */
    dsb     sy                          /* dsb: the invalidation has completed (the isb
                                           after the SCTLR write makes fetches see it) */
#endif

#ifndef BUG_HANDOFF_MMU_ON              /* NEGATIVE CONTROL handoff-mmu-on: SCTLR untouched */
    /* Turn MMU, D-cache and I-cache off in SCTLR of the current EL (read-modify-write in a
     * register: no memory access). */
    mov     x8, #(SCTLR_M | SCTLR_C)
    orr     x8, x8, #SCTLR_I
    mrs     x9, CurrentEL
    ubfx    x9, x9, #2, #2
    cmp     x9, #3
    b.eq    6f
    cmp     x9, #2
    b.eq    7f
    mrs     x9, sctlr_el1
    bic     x9, x9, x8
    msr     sctlr_el1, x9
    b       8f
6:  mrs     x9, sctlr_el3
    bic     x9, x9, x8
    msr     sctlr_el3, x9
    b       8f
7:  mrs     x9, sctlr_el2
    bic     x9, x9, x8
    msr     sctlr_el2, x9
8:  isb                                 /* isb: the MMU/caches are off for the next fetch
                                           (identity map: execution simply continues) */
#endif

    mov     x0, x3                      /* x0 = DTB address (or 0) */
    br      x2                          /* enter the kernel */
    .size clean_disable_jump, . - clean_disable_jump
