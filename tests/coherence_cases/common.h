/*
 * Shared pieces of the cache-model guest programs.
 *
 * Each program is a bare-metal aarch64 ELF for
 *   qemu-system-aarch64 -machine virt -cpu cortex-a53 -m 256M -semihosting
 * entered at EL1 with MMU and caches off.  It builds a minimal identity map
 * (4 KiB granule, T0SZ=32, level 1 blocks: 0x00000000 GiB Device or Normal,
 * 0x40000000 GiB Normal write-back), turns MMU and caches on, touches BUF,
 * does (or skips) the maintenance under test, turns everything off and jumps
 * to `handoff`, which ends QEMU through semihosting SYS_EXIT.  The programs
 * use no stack and make no cacheable store except those under test.
 */
#define TT        0x40200000      /* level 1 table (written with MMU off) */
#define BUF       0x40300000      /* the buffer under test */
#define BUF_LINES 16
#define LINE      64

#define ATTR_DEVICE 0             /* MAIR index 0: 0x00 Device-nGnRnE */
#define ATTR_NORMAL 1             /* MAIR index 1: 0xff Normal WB RW-alloc */

/* x9..x12 scratch.  gib0_attr: attribute index of the 0x00000000 block. */
.macro mmu_setup gib0_attr
    ldr x9, =TT
    /* entry 0: 0x00000000 block, AF, (Device: XN) */
    .if \gib0_attr == ATTR_DEVICE
    ldr x10, =(0x0060000000000401 | (ATTR_DEVICE << 2))
    .else
    ldr x10, =(0x0000000000000701 | (ATTR_NORMAL << 2))
    .endif
    str x10, [x9]
    ldr x10, =(0x40000701 | (ATTR_NORMAL << 2))   /* 0x40000000 Normal, ISH, AF */
    str x10, [x9, #8]
    str xzr, [x9, #16]
    str xzr, [x9, #24]
    regime_on 0xff00, 0x803520    /* TCR: T0SZ=32 IRGN0=ORGN0=WBWA SH0=IS TG0=4K EPD1 */
.endm

/* MAIR_EL1 = mair, TCR_EL1 = tcr, TTBR0_EL1 = x9, then a clean TLB; x10 scratch. */
.macro regime_on mair, tcr
    ldr x10, =\mair
    msr mair_el1, x10
    ldr x10, =\tcr
    msr tcr_el1, x10
    msr ttbr0_el1, x9
    isb                           /* isb: MAIR/TCR/TTBR0 in effect */
    tlbi vmalle1                  /* no stale translations */
    dsb sy                        /* dsb: the TLB invalidate has completed */
    isb                           /* isb: ... before the next fetch */
.endm

.macro caches_on              /* SCTLR_EL1 |= M | C | I */
    mrs x9, sctlr_el1
    ldr x10, =((1 << 0) | (1 << 2) | (1 << 12))
    orr x9, x9, x10
    msr sctlr_el1, x9
    isb
.endm

.macro caches_off             /* SCTLR_EL1 &= ~(M | C | I) */
    mrs x9, sctlr_el1
    ldr x10, =((1 << 0) | (1 << 2) | (1 << 12))
    bic x9, x9, x10
    msr sctlr_el1, x9
    isb
.endm

/* Fill BUF_LINES lines of BUF with stores (x0 = value). */
.macro fill_buf
    ldr x11, =BUF
    mov x12, #(BUF_LINES * LINE / 8)
1:  str x0, [x11], #8
    subs x12, x12, #1
    b.ne 1b
.endm

/* The MMU and caches on, then code (two 'ret' instructions per 8 bytes) written
 * over BUF through the D-cache: not yet cleaned anywhere. */
.macro code_in_buf
    mmu_setup ATTR_DEVICE
    caches_on
    ldr x0, =0xd65f03c0d65f03c0   /* two 'ret' instructions */
    fill_buf
.endm

/* dc <op> by VA over [BUF, BUF + nlines * LINE) */
.macro clean_lines op, nlines
    ldr x11, =BUF
    ldr x12, =(BUF + \nlines * LINE)
2:  dc \op, x11
    add x11, x11, #LINE
    cmp x11, x12
    b.lo 2b
    dsb sy
.endm

.macro icache_inval
    ic iallu
    dsb sy
    isb
.endm

/* The kernel entry: semihosting SYS_EXIT(ADP_Stopped_ApplicationExit, 0). */
.macro handoff_exit
    .global handoff
handoff:
    adr x1, exit_block
    mov x0, #0x18
    hlt #0xf000
9:  b 9b
    .balign 16
exit_block:
    .quad 0x20026, 0
    .ltorg
.endm
