/*
 * Firmware stand-in for QEMU `imx8mp-evk`: what TF-A (BL31) leaves behind on a real
 * i.MX8M Plus before U-Boot and the seL4 elfloader run.
 *
 * QEMU's imx8mp-evk has no firmware. A bare ELF given to `-kernel` starts here, at EL3, in
 * the Secure state, with the GICv3 exactly as it comes out of reset:
 *
 *   - the redistributor of every CPU is asleep (GICR_WAKER.ProcessorSleep = 1), and a
 *     Non-secure kernel may not wake it (GICR_WAKER is Secure-only). seL4 reads it, finds
 *     ChildrenAsleep set and halts: "GICv3: GICR_WAKER returned non-zero 6";
 *   - every interrupt is in Group 0 (a Secure group). Non-secure software sees Group 0
 *     interrupts as RAZ/WI: seL4's timer and IPIs never arrive, sel4test hangs (FPU0001);
 *   - affinity routing is off (GICD_CTLR.ARE_NS = 0), and Non-secure software may not turn
 *     it on by the bit position seL4 writes;
 *   - ICC_SRE_EL3/EL2.Enable are not guaranteed set (on a real core their reset values are
 *     UNKNOWN): with Enable = 0, EL2's access to ICC_SRE_EL2 traps to EL3 and EL1's access to
 *     ICC_SRE_EL1 traps to EL2, so a kernel could not switch itself to the system registers.
 *
 * This code fixes exactly those, gives the Non-secure EL2 registers a defined state (their
 * reset values are architecturally UNKNOWN), and drops to EL2h at the next stage's entry,
 * like TF-A handing over to BL33. Everything is written from the architecture manual and
 * the GICv3 specification; nothing here is taken from TF-A, U-Boot, QEMU or seL4.
 *
 * The next stage's entry comes from `fw_mailbox` (see link.ld), a 64-bit word outside the
 * loaded image that the host fills before the first instruction:
 *     -device loader,addr=<fw_mailbox>,data=<entry>,data-len=8
 * so one firmware binary serves every loader. x0..x3 are 0 at the hand-off (x0 would carry a
 * DTB address; seL4's elfloader then takes the DTB from its own archive).
 *
 * Runs with the MMU off: every access is Device-nGnRnE, so all MMIO is naturally 32-bit
 * aligned. No stack, no C: only registers. The build passes GICD_BASE, GICR_BASE and
 * UART_BASE (images/machines/imx8mp.mk).
 */

/* ---- GICv3 distributor (GICD_BASE), register offsets --------------------------------- */
#define GICD_CTLR           0x0000      /* control; Secure view of the bits below */
#define GICD_TYPER          0x0004      /* ITLinesNumber [4:0]: (N + 1) * 32 interrupt IDs */
#define GICD_IGROUPR        0x0080      /* 1 bit per interrupt: 0 = Group 0, 1 = Group 1 */
#define GICD_IGRPMODR       0x0d00      /* with IGROUPR: 1/0 = Group 1 Non-secure */

#define GICD_CTLR_ARE_S     (1 << 4)    /* affinity routing, Secure state */
#define GICD_CTLR_ARE_NS    (1 << 5)    /* affinity routing, Non-secure state */
#define GICD_CTLR_RWP       (1 << 31)   /* register write pending */

/* ---- GICv3 redistributor: one 128 KiB frame pair per CPU from GICR_BASE --------------- */
#define GICR_TYPER          0x0008      /* 64-bit: Affinity [63:32], Last [4], VLPIS [1] */
#define GICR_WAKER          0x0014
#define GICR_SGI_BASE       0x10000     /* second 64 KiB frame: SGI/PPI registers */
#define GICR_IGROUPR0       0x0080      /* (SGI frame) group of SGIs 0-15, PPIs 16-31 */
#define GICR_IGRPMODR0      0x0d00      /* (SGI frame) group modifier of the same */

#define GICR_TYPER_VLPIS    (1 << 1)    /* set: two more 64 KiB frames (virtual LPIs) */
#define GICR_TYPER_LAST     (1 << 4)    /* the last redistributor of this region */
#define GICR_WAKER_PSLEEP   (1 << 1)    /* ProcessorSleep */
#define GICR_WAKER_CASLEEP  (1 << 2)    /* ChildrenAsleep (read only) */

/* ---- ICC_SRE_ELx: the GIC CPU interface through system registers ---------------------- */
#define ICC_SRE_SRE         (1 << 0)    /* use system registers, not the memory-mapped GICC */
#define ICC_SRE_DFB         (1 << 1)    /* disable FIQ bypass */
#define ICC_SRE_DIB         (1 << 2)    /* disable IRQ bypass */
#define ICC_SRE_ENABLE      (1 << 3)    /* the next lower EL may access its own ICC_SRE */
#define ICC_SRE_ALL         (ICC_SRE_SRE | ICC_SRE_DFB | ICC_SRE_DIB | ICC_SRE_ENABLE)

/* ---- SCR_EL3: what the Non-secure world is ------------------------------------------- */
#define SCR_NS              (1 << 0)    /* EL0-EL2 are Non-secure */
#define SCR_RES1            (3 << 4)    /* bits 5:4 are RES1 in AArch64 */
#define SCR_HCE             (1 << 8)    /* HVC is enabled (seL4 at EL2, and its guests) */
#define SCR_RW              (1 << 10)   /* the next lower EL (EL2) is AArch64 */
/* IRQ, FIQ, EA stay 0: interrupts and SErrors go to EL2/EL1, never here (we have no
 * handler for them). SMD stays 0: an SMC traps to our vectors below, which say so. */
#define SCR_VALUE           (SCR_NS | SCR_RES1 | SCR_HCE | SCR_RW)

/* ---- the state the next stage is entered in ------------------------------------------ */
#define SPSR_EL2H_MASKED    0x3c9       /* D, A, I, F masked; M = 0b1001: EL2 using SP_EL2 */
#define SCTLR_EL2_RES1      0x30c50830  /* RES1 bits only: MMU, caches, alignment check off,
                                           little endian */
#define SCTLR_EL1_RES1      0x30d00800  /* the same for EL1 */
#define SCTLR_EL3_RES1      0x30c50830  /* and for EL3 itself */
#define HCR_EL2_RW          (1 << 31)   /* EL1 is AArch64 (nothing else trapped or routed) */
#define CPTR_EL2_RES1       0x33ff      /* RES1 bits; TFP (bit 10) = 0: FP/SIMD not trapped */
#define CNTHCTL_EL1PCTEN    (1 << 0)    /* EL1/EL0 may read the physical counter */
#define CNTHCTL_EL1PCEN     (1 << 1)    /* EL1/EL0 may use the physical timer */

/* ---- i.MX UART (UART_BASE, the board console): only for our own error messages ------- */
#define IMX_UTXD            0x40
#define IMX_UCR1            0x80
#define IMX_UCR2            0x84
#define IMX_UTS             0xb4
#define UCR1_UARTEN         (1 << 0)
#define UCR2_ON             ((1 << 0) | (1 << 2) | (1 << 5) | (1 << 14))
                                        /* SRST_B (out of reset), TXEN, 8-bit words, IRTS */
#define UTS_TXFULL          (1 << 4)

/* Spin at most this many polls of a GIC status bit before calling the GIC broken. */
#define POLL_LIMIT          0x100000

    .section .text.entry, "ax"
    .global _start
    .type _start, %function
_start:
    /*
     * Who am I? Only CPU0 (affinity 0.0.0.0) does the work. On QEMU's imx8mp the other
     * cores start powered off (and SIMULATION builds of seL4 use one core), but a board
     * releases all of them here: they wait in a low-power loop, as TF-A would hold them
     * until a PSCI CPU_ON that this stand-in does not implement.
     */
    mrs     x0, mpidr_el1
    mov     x1, #0xffffff               /* Aff2.Aff1.Aff0 */
    movk    x1, #0xff, lsl #32          /* Aff3 */
    tst     x0, x1
    b.ne    park

    /* An exception taken to EL3 from here on reports itself on the console (below). */
    adr     x1, el3_vectors
    msr     vbar_el3, x1
    isb                                 /* the new VBAR is used by the next exception */

    /*
     * We must be at EL3: the state set up below exists only there. (Given to QEMU as an
     * Image or a raw binary we would start at EL2, with all of it out of reach.)
     */
    mrs     x1, CurrentEL
    ubfx    x1, x1, #2, #2
    cmp     x1, #3
    b.eq    1f
    adr     x0, msg_not_el3
    b       fail
1:
    /*
     * A known EL3 state: MMU and caches off (data accesses are Device-nGnRnE, so the GIC
     * and UART accesses below are not cached or merged), little endian. The reset value
     * of SCTLR_EL3 is partly UNKNOWN on real cores.
     */
    ldr     x1, =SCTLR_EL3_RES1
    msr     sctlr_el3, x1
    isb                                 /* later instructions see the new SCTLR */

    /* ------------------------------------------------------------------------------------
     * GIC distributor: affinity routing on for both Security states, all SPIs Group 1 NS.
     * Group enables are left off as TF-A leaves them when it owns no Secure interrupt:
     * seL4 (Non-secure) enables Group 1 itself.
     * ---------------------------------------------------------------------------------- */
    ldr     x10, =GICD_BASE

    /*
     * GICD_CTLR = ARE_S | ARE_NS. Must happen while every group is disabled (true after
     * reset). seL4 writes ARE_NS at bit 5, its Secure-view position; through the
     * Non-secure view that bit is RES0, so ARE_NS has to be set from here.
     */
    mov     w1, #(GICD_CTLR_ARE_S | GICD_CTLR_ARE_NS)
    str     w1, [x10, #GICD_CTLR]
    bl      gicd_wait_rwp               /* the change takes effect when RWP reads 0 */

    /*
     * Every SPI into Group 1 Non-secure: IGROUPR = 1 and IGRPMODR = 0 for each bit.
     * Register n covers interrupt IDs 32n..32n+31; n = 0 (SGIs and PPIs) lives in the
     * redistributor once ARE is on (RAZ/WI here), so start at n = 1.
     */
    ldr     w2, [x10, #GICD_TYPER]
    and     w2, w2, #0x1f               /* ITLinesNumber: the last register index */
    mov     w3, #1                      /* n */
    mov     w4, #0xffffffff
2:  cmp     w3, w2
    b.hi    3f
    add     x5, x10, x3, lsl #2         /* GICD_BASE + 4n */
    str     w4, [x5, #GICD_IGROUPR]     /* 32 interrupts -> Group 1 */
    str     wzr, [x5, #GICD_IGRPMODR]   /* ... the Non-secure one */
    add     w3, w3, #1
    b       2b
3:
    /* ------------------------------------------------------------------------------------
     * Redistributor of this CPU: find it by affinity, wake it, SGIs/PPIs to Group 1 NS.
     * ---------------------------------------------------------------------------------- */
    /* Our affinity in GICR_TYPER's layout: Aff3.Aff2.Aff1.Aff0 as one 32-bit value. */
    mrs     x0, mpidr_el1
    and     x6, x0, #0xffffff           /* Aff2.Aff1.Aff0 */
    ubfx    x7, x0, #32, #8             /* Aff3 */
    orr     x6, x6, x7, lsl #24

    ldr     x11, =GICR_BASE
4:  ldr     x1, [x11, #GICR_TYPER]      /* 64-bit register: one 64-bit read */
    cmp     x6, x1, lsr #32
    b.eq    6f                          /* this frame is ours */
    tst     x1, #GICR_TYPER_LAST
    b.ne    5f                          /* walked off the end without a match */
    /* Next frame: RD + SGI (2 x 64 KiB), plus VLPI + reserved (2 x 64 KiB) with VLPIS. */
    tst     x1, #GICR_TYPER_VLPIS
    mov     x2, #0x20000
    mov     x3, #0x40000
    csel    x2, x3, x2, ne
    add     x11, x11, x2
    b       4b
5:  adr     x0, msg_no_gicr
    b       fail
6:
    /*
     * Wake the redistributor: ProcessorSleep = 0 says this CPU's interface is in use. It
     * then reports ChildrenAsleep = 0 once the interface is awake; only from then on may
     * interrupts be configured and delivered. Bounded, so a broken model says so.
     */
    ldr     w1, [x11, #GICR_WAKER]
    bic     w1, w1, #GICR_WAKER_PSLEEP
    str     w1, [x11, #GICR_WAKER]
    mov     x2, #POLL_LIMIT
7:  ldr     w1, [x11, #GICR_WAKER]
    tst     w1, #GICR_WAKER_CASLEEP
    b.eq    8f
    subs    x2, x2, #1
    b.ne    7b
    adr     x0, msg_asleep
    b       fail
8:
    /* SGIs 0-15 and PPIs 16-31 (the timers among them) into Group 1 Non-secure. */
    add     x12, x11, #GICR_SGI_BASE
    mov     w1, #0xffffffff
    str     w1, [x12, #GICR_IGROUPR0]
    str     wzr, [x12, #GICR_IGRPMODR0]
    dsb     sy                          /* all GIC writes done before the CPU interface
                                           and the lower ELs rely on them */

    /* ------------------------------------------------------------------------------------
     * GIC CPU interface: system registers for EL3 and EL2, and let EL2 and EL1 enable
     * theirs. ICC_SRE_EL3.Enable = 1 lets EL2 access ICC_SRE_EL2; ICC_SRE_EL2.Enable = 1
     * lets EL1 access ICC_SRE_EL1 (seL4 at EL1 sets its SRE bit there itself).
     * ---------------------------------------------------------------------------------- */
    mov     x1, #ICC_SRE_ALL
    msr     S3_6_C12_C12_5, x1          /* ICC_SRE_EL3 */
    isb                                 /* SRE must be seen before any other ICC access */
    msr     S3_4_C12_C9_5, x1           /* ICC_SRE_EL2 */
    isb

    /* ------------------------------------------------------------------------------------
     * EL2 and EL1 registers whose reset values are UNKNOWN: give them what a loader
     * entered at EL2 may assume (TF-A's BL33 entry state, in substance).
     * ---------------------------------------------------------------------------------- */
    ldr     x1, =SCTLR_EL2_RES1
    msr     sctlr_el2, x1               /* EL2: MMU and caches off, little endian */
    ldr     x1, =SCTLR_EL1_RES1
    msr     sctlr_el1, x1               /* EL1 as well, for a loader that drops to EL1 */
    mov     x1, #HCR_EL2_RW
    msr     hcr_el2, x1                 /* EL1 is AArch64; no traps, no stage 2 */
    mov     x1, #CPTR_EL2_RES1
    msr     cptr_el2, x1                /* FP/SIMD usable at EL2 and below */
    msr     hstr_el2, xzr               /* no CP15 traps */
    msr     vttbr_el2, xzr              /* VMID 0, no stage-2 tables */
    mov     x1, #(CNTHCTL_EL1PCTEN | CNTHCTL_EL1PCEN)
    msr     cnthctl_el2, x1             /* EL1 may use the physical counter and timer */
    msr     cntvoff_el2, xzr            /* virtual count = physical count */
    mrs     x1, midr_el1
    msr     vpidr_el2, x1               /* EL1 reads of MIDR_EL1 see the real value */
    mrs     x1, mpidr_el1
    msr     vmpidr_el2, x1              /* ... and of MPIDR_EL1: seL4 finds its GICR by it */
    /* CNTFRQ_EL0 is writable only here; QEMU already resets it to the SoC's 8 MHz (the
     * only value its counter runs at), so it is left alone. */

    /* ------------------------------------------------------------------------------------
     * EL3 controls, then the drop to EL2.
     * ---------------------------------------------------------------------------------- */
    msr     cptr_el3, xzr               /* no FP/SIMD or trace traps to EL3 (FPU tests) */
    msr     mdcr_el3, xzr               /* no debug/PMU traps to EL3 */
    mov     x1, #SCR_VALUE
    msr     scr_el3, x1                 /* Non-secure, EL2 AArch64, HVC enabled */

    /* The next stage's entry from the mailbox the host filled; 0 = nobody did. */
    ldr     x1, =fw_mailbox
    ldr     x1, [x1]
    cbnz    x1, 9f
    adr     x0, msg_no_entry
    b       fail
9:
    msr     elr_el3, x1                 /* eret returns there ... */
    mov     x1, #SPSR_EL2H_MASKED
    msr     spsr_el3, x1                /* ... at EL2h, interrupts masked */
    mov     x0, #0                      /* no DTB: seL4's elfloader uses its own */
    mov     x1, #0                      /* x1..x3 reserved, 0 (arm64 boot protocol) */
    mov     x2, #0
    mov     x3, #0
    isb                                 /* every system register write above is complete */
    eret
    .size _start, . - _start

/* Wait until GICD_CTLR.RWP = 0 (x10 = GICD_BASE); bounded. Clobbers w1, x2. */
gicd_wait_rwp:
    mov     x2, #POLL_LIMIT
1:  ldr     w1, [x10, #GICD_CTLR]
    tst     w1, #GICD_CTLR_RWP
    b.eq    2f
    subs    x2, x2, #1
    b.ne    1b
    adr     x0, msg_rwp
    b       fail
2:  ret

/* Secondary cores, and the end of every failure: wait for an event, forever. */
park:
    wfe
    b       park

/* ------------------------------------------------------------------------------------------
 * Failure reporting on the console (the board's UART). Messages start with "ERROR:" so the
 * harness ends the boot at once with this text instead of timing out.
 * ---------------------------------------------------------------------------------------- */

/* fail: print the string at x0 and a newline, then park. */
fail:
    mov     x20, x0
    bl      uart_on
    mov     x0, x20
    bl      puts
    b       park

/* Make sure the UART transmits (U-Boot would have done it; QEMU's reset state may not). */
uart_on:
    ldr     x9, =UART_BASE
    ldr     w1, [x9, #IMX_UCR1]
    orr     w1, w1, #UCR1_UARTEN
    str     w1, [x9, #IMX_UCR1]
    ldr     w1, [x9, #IMX_UCR2]
    mov     w2, #UCR2_ON
    orr     w1, w1, w2
    str     w1, [x9, #IMX_UCR2]
    ret

/* puts: the NUL-terminated string at x0. Clobbers x0-x2, x9. */
puts:
    ldr     x9, =UART_BASE
1:  ldrb    w1, [x0], #1
    cbz     w1, 3f
2:  ldr     w2, [x9, #IMX_UTS]          /* room in the transmit FIFO? */
    tst     w2, #UTS_TXFULL
    b.ne    2b
    str     w1, [x9, #IMX_UTXD]
    b       1b
3:  ret

/* puthex: x0 as 16 hex digits. Clobbers x0-x4, x9. */
puthex:
    ldr     x9, =UART_BASE
    mov     x3, x0
    mov     x4, #60                     /* shift of the next nibble */
1:  lsr     x1, x3, x4
    and     w1, w1, #0xf
    cmp     w1, #10
    add     w2, w1, #'0'
    add     w1, w1, #('a' - 10)
    csel    w1, w2, w1, lo
2:  ldr     w2, [x9, #IMX_UTS]
    tst     w2, #UTS_TXFULL
    b.ne    2b
    str     w1, [x9, #IMX_UTXD]
    subs    x4, x4, #4
    b.pl    1b
    ret

/* ------------------------------------------------------------------------------------------
 * EL3 vectors. Nothing should ever be taken to EL3 (interrupts and SErrors are routed to
 * EL2/EL1 by SCR_EL3, and there is no PSCI): anything that arrives here, an SMC included,
 * is reported with its syndrome and return address, and the core parks.
 * ---------------------------------------------------------------------------------------- */
.macro el3_vector
    .balign 0x80
    b       el3_exception
.endm

    .balign 0x800                       /* VBAR_EL3 needs a 2 KiB aligned table */
el3_vectors:
    .rept 16                            /* 4 origins x (sync, IRQ, FIQ, SError) */
    el3_vector
    .endr

el3_exception:
    bl      uart_on
    adr     x0, msg_exception
    bl      puts
    mrs     x0, esr_el3                 /* what happened (EC in bits 31:26; 0x17 = SMC) */
    bl      puthex
    adr     x0, msg_elr
    bl      puts
    mrs     x0, elr_el3                 /* where */
    bl      puthex
    adr     x0, msg_nl
    bl      puts
    b       park

    .section .rodata.fw, "a"
msg_not_el3:    .asciz "ERROR: firmware: not entered at EL3 (give it to QEMU as a bare ELF)\r\n"
msg_no_gicr:    .asciz "ERROR: firmware: no GIC redistributor matches this CPU's MPIDR\r\n"
msg_asleep:     .asciz "ERROR: firmware: GICR_WAKER.ChildrenAsleep stays 1\r\n"
msg_rwp:        .asciz "ERROR: firmware: GICD_CTLR.RWP stays 1\r\n"
msg_no_entry:   .asciz "ERROR: firmware: next-stage entry mailbox is 0 (-device loader,addr=<fw_mailbox>,data=<entry>,data-len=8)\r\n"
msg_exception:  .asciz "ERROR: firmware: exception taken to EL3, ESR_EL3="
msg_elr:        .asciz " ELR_EL3="
msg_nl:         .asciz "\r\n"
