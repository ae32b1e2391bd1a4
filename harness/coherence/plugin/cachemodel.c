/*
 * cachemodel.c - QEMU TCG plugin: a line-granular model of an aarch64 CPU's
 * data and instruction caches, to catch cache-maintenance bugs in bare-metal
 * boot loaders (QEMU has no caches, so a missing clean never shows there), and
 * to count what the guest does for a board timing model.
 *
 * Scope and simplifications (read these before trusting a report):
 *  - One vCPU.  Only vCPU 0 is modelled; events of other vCPUs are ignored and
 *    the report says so.  Boot loaders run the critical path on one core.
 *  - Cache state is kept per physical line of the RAM range (ram=BASE:SIZE):
 *    invalid / valid-clean / dirty, plus "I-stale" (written through the
 *    D-cache since the last I-cache invalidate), "stale" (memory written
 *    non-cacheably while the cache held a valid copy), "cleaned in window N",
 *    "store after clean" and "pending" (dirty when the D-cache was turned off).
 *    No capacity, no replacement: a line stays cached until maintained.  That
 *    is the conservative choice: real hardware may evict a dirty line and so
 *    hide a missing clean by luck; the model never does.
 *  - Start state.  Cold (no line valid), or warm (warm=S:E): firmware left
 *    valid clean lines there, as the arm64 boot protocol allows (it asks only
 *    that the image be cleaned to PoC).  Memory written non-cacheably under a
 *    valid line makes the line stale; a cacheable load of it, a cacheable
 *    store into it (its old bytes go back later) and a cacheable table walk
 *    over it are hazards (stale-clean-line, stale-walk), and so are stale
 *    lines at a hand-off with the D-cache on (stale-at-handoff).  The I-cache
 *    starts with valid lines over the iwarm ranges (the protocol allows it on
 *    at entry; the harness passes the warm ranges): any write to such a line,
 *    cached or not, makes it I-stale until an I-cache invalidate (ic iallu,
 *    ic ialluis, ic ivau of the line).
 *  - Device-normal: an access that QEMU performs as MMIO
 *    (qemu_plugin_hwaddr_is_io) through a Normal mapping while M=1.  Non-RAM
 *    memory that is not MMIO (ROM, flash in read-array mode) is neither
 *    tracked nor a device.
 *  - Cacheability.  Data: SCTLR.M=1 and SCTLR.C=1 and the access is to RAM
 *    through a Normal write-back/write-through mapping (MAIR attribute found by
 *    walking the current EL's stage-1 tables, 4 KiB granule).  Instruction
 *    fetch: SCTLR.I=1 and, with M=1, the block's mapping Normal WB/WT (with
 *    M=0 fetches are cacheable when I=1: ARM ARM "stage 1 translation
 *    disabled").  Table walks read descriptors through the cache when C=1 and
 *    TCR.IRGN of the half is not Non-cacheable (the line is allocated).
 *    Stage 2, VHE and HCR_EL2.DC are not modelled.
 *  - Failed walks.  A walk the model cannot do (another granule, a table it
 *    cannot read) is a walk-failed hazard at the PC with the VA; the access
 *    is counted uncached and leaves the line state alone (never a guess of
 *    write-back), and a maintenance op on such a VA is skipped.  The count of
 *    failed walks (memoised per page, like the walks) is in the report.
 *  - "Disable" means the data side stops being cacheable (M or C cleared at the
 *    current EL, or an EL change to a regime with caches off).  Lines dirty at
 *    that moment become "pending": the common and architecturally recommended
 *    sequence "disable, then clean+invalidate by set/way" (U-Boot's
 *    dcache_disable) cleans them afterwards.  Pending lines still dirty when
 *    data caching is turned on again, at handoff, or at exit are reported as
 *    dirty-at-disable (or partial-clean / store-after-clean), with the PC of
 *    the msr that disabled.
 *  - Set/way: a clean to PoC happens when every (set, way) of L1 and then of
 *    L2 was visited by dc csw/cisw (the inner sweep finished before the outer
 *    one began); it cleans the lines dirtied before the L1 sweep began.  An
 *    incomplete sweep cleans nothing.  A level takes more sets than configured
 *    when the guest names a higher set (QEMU's cortex-a53 reports a 1 MiB L2:
 *    its 1024 sets replace the 512 of l2=512K:16).  isw/cisw sweeps invalidate
 *    the same way; dirty lines thrown away are discarded-dirty.
 *  - I-cache: ic ivau clears a line's I-stale state only if the line is clean,
 *    or was cleaned to PoU (dc cvau, or any clean to PoC) after its last
 *    store; ic iallu/ialluis do the same for every line (the I-side refills
 *    from PoU, so an invalidate before the D-side clean leaves code stale).
 *    Stale I-lines still dirty when a D-side hazard reports them (at a
 *    disable, or a hand-off with the caches off) are that hazard, not a
 *    second one.
 *  - TLB.  Per translation regime (EL1&0, EL2, EL3) one bit: "may hold
 *    entries the live tables do not give".  Set from the start (firmware may
 *    have run with the MMU on), when TTBR/TCR are rewritten with M=1, and when
 *    the MMU comes back on with other TTBRs/TCR than it went off with (the old
 *    tables abandoned; the same tables again are not).  Cleared by a tlbi that
 *    drops every entry of the regime (vmalle1, alle1, vmalls12e1, alle2,
 *    alle3; local, IS, OS) once a DSB of its domain completes it.  An MMU
 *    enable (M 0->1) while set is tlb-stale at the msr; by-VA/ASID tlbi do not
 *    clear it.  No entries, no ASIDs, no walks through the TLB are modelled.
 *  - Barriers (judged for every PC; the checks keep the loader's own).  Cache
 *    and TLB maintenance must be completed by a DSB before SCTLR changes M, C
 *    or I and before the hand-off: set/way ops, ic iallu and non-broadcast
 *    tlbi by any DSB but DSB *LD; by-VA ops, ic ialluis/ivau and broadcast
 *    tlbi by DSB ISH, OSH or SY (maintenance-incomplete, at the first op not
 *    completed).  So must a D-side clean (by VA or set/way) before an I-side
 *    invalidate: else the I-cache may refill from memory the clean has not
 *    reached (maintenance-incomplete, at the clean).  A write to SCTLR/TTBR0/TTBR1/TCR/MAIR of the current regime
 *    must be followed by a context synchronization event (isb, eret/svc/hvc/
 *    smc, an exception vector) before a memory access or maintenance op
 *    depends on it: always for SCTLR, with the MMU on for the others, and
 *    before SCTLR turns the MMU on (no-isb, at the msr).  At the window's end
 *    (end_pc: where seL4's stock path starts) and at the hand-off the same
 *    hold, and a tlbi completed by a DSB must also have been followed by a
 *    context synchronization event (no-isb, at the tlbi): the code after may
 *    not inherit unfinished maintenance.  DMB, the ordering of memory
 *    accesses and of maintenance among itself are not modelled.
 *  - The loader's own maintenance by VA is recorded for the report (not a
 *    hazard): lines cleaned to PoC before the window's end, lines invalidated
 *    with the D-cache off before the loader first turned it on, and whether a complete
 *    set/way sweep did either (a clean: with the D-cache on, or after the
 *    disable, before the window's end); "the loader" is the loader= range.
 *  - Data accesses of the window are also counted per target by the attribute
 *    they went through (wb, wt, nc, device, mmu-off, dcache-off, unknown).
 *  - Exception level: read from cpsr at the first block, at the block after an
 *    eret/svc/hvc/smc (an inline flag) and at blocks inside a known vector
 *    table (VBAR_ELx).  An asynchronous exception taken to a higher EL before
 *    VBAR was written is not seen.
 *  - Page tables are read by virtual address (API 4 has no physical read and
 *    no translate call), so table memory must be identity mapped (else the
 *    walk fails: walk-failed).
 *
 * Speed.  QEMU 10.0 (plugin API 4) has no conditional memory callback and no
 * way for a plugin to flush the translation cache other than a full plugin
 * reset, so the memory callback is registered on every instruction and is
 * written to be cheap: one hwaddr query when the MMU is on, a direct-mapped
 * attribute lookup, and a one-line memo that skips the line table for
 * repeated accesses to the same line.  Measured cost of the callback itself on
 * a copy loop: about 1.3-1.5x.  Instruction counts use inline per-vCPU
 * scoreboard adds (no callback).  Instruction-fetch cacheability changes at
 * an msr, an exception level change or (MMU on) a block whose mapping has
 * another cacheability: at each such point the plugin reads the inline
 * counter and credits the instructions since the previous point to the
 * cacheability that was in force, so fetch counts are exact without
 * per-instruction work; the per-block look-up is a translation-block callback
 * made conditional on a scoreboard flag set only while M=1 and I=1, memoised
 * per block until the translation changes.  Barrier instructions (dsb, isb)
 * and the exception-changing ones get a callback each; they are rare.
 * Data access counts are made in the memory callback (which runs anyway)
 * because cacheability of a data access is known only at run time.  The
 * stale-instruction check is a translation-block callback made conditional on
 * a scoreboard flag that is set only while I=1 and some line that holds
 * translated code is I-stale, so it costs a compare per block otherwise.
 *
 * Arguments (-plugin file=libcachemodel.so,key=value,...):
 *   out=PATH            JSON report (written at handoff and at exit)
 *   line=64             line size in bytes (default: CTR_EL0.DminLine, else 64)
 *   ram=BASE:SIZE       hex; the DRAM range (default 40000000:100000000);
 *                       only lines in it are tracked
 *   begin_pc=0xADDR     counting starts when this PC executes (default: reset)
 *   begin_hit=N         ... the Nth time it executes (default 1): seL4's
 *                       load_elf runs once for the kernel, then per user image
 *   end_pc=0xADDR       counting stops when this PC executes (repeatable, the
 *                       first one reached ends it; default: handoff_pc).
 *                       Hazards are still tracked up to the hand-off.
 *   handoff_pc=0xADDR   kernel entry: handoff checks, counting stops, report
 *   pause=0xA:0xB       counting pauses when PC A executes, resumes at PC B
 *   expect_handoff=mmu-off|sel4|any   contract at handoff (default mmu-off):
 *                       mmu-off: M, C and I off (our reference loader);
 *                       sel4: M and C on (seL4 enters its kernel at the
 *                       virtual entry with its boot page tables live), so
 *                       lines still dirty at the hand-off are not a hazard
 *                       while the D-cache stays on; any: no state required
 *   handoff_el=N        the EL the kernel must be entered at (sel4 contract)
 *   dest=S:E source=S:E loader=S:E stack=S:E   hex physical [S, E) ranges
 *                       for the per-target split of the window's accesses
 *                       (dest repeatable; without dest: RAM outside loader)
 *   l1=32K:4 l2=512K:16 set/way geometry (size:ways; l2=0 for none)
 *   ranges_only=1       0 adds each hazard's individual line addresses
 *   warm=S:E            hex physical [S, E), repeatable (16): valid clean
 *                       lines at the start (default: none, a cold start)
 *   iwarm=S:E           hex physical [S, E), repeatable (16): valid lines in
 *                       the I-cache at the start (default: none)
 *
 * Written from the public plugin API header only.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* ------------------------------------------------------------------ config */

static struct {
    char *out;
    unsigned line_shift;
    bool line_given;
    uint64_t ram_base, ram_size;
    bool have_begin, have_handoff, have_pause;
    uint64_t begin_pc, handoff_pc, pause_pc, resume_pc;
    uint64_t begin_hit;
    uint64_t end_pcs[4];
    unsigned n_end;
    bool expect_mmu_off, expect_sel4;
    int handoff_el;
    struct { uint64_t s, e; } rg[4][16];   /* [target class][i], physical */
    unsigned n_rg[4];
    bool ranges_only;
    uint64_t l1_size, l2_size;
    unsigned l1_ways, l2_ways;
    struct { uint64_t s, e; } warm[16];   /* physical, valid clean at start */
    unsigned n_warm;
    struct { uint64_t s, e; } iwarm[16];  /* physical, in the I-cache at start */
    unsigned n_iwarm;
} cfg = {
    .line_shift = 6,
    .ram_base = 0x40000000ULL,
    .ram_size = 0x100000000ULL,
    .begin_hit = 1,
    .expect_mmu_off = true,
    .handoff_el = -1,
    .ranges_only = true,
    .l1_size = 32 * 1024, .l1_ways = 4,
    .l2_size = 512 * 1024, .l2_ways = 16,
};

static int n_vcpus = 1;

/* -------------------------------------------------------------- line table */

enum {
    L_VALID = 1,   /* the D-cache holds the line */
    L_DIRTY = 2,   /* ... and it is newer than memory (not at PoC) */
    L_ISTALE = 4,  /* written through the D-cache since the last I-invalidate */
    L_STALE = 8,   /* memory written non-cacheably while a copy was cached */
    L_PEND = 16,   /* dirty when the D-cache was turned off, not yet cleaned */
    L_SAC = 32,    /* stored to after a clean in the current window */
    L_POU = 64,    /* cleaned to PoU since the last store */
    L_CODE = 128,  /* translated code lives in this line */
};

enum {
    F_IVALID = 1,  /* the I-cache may hold the line (warm start) */
    W_WINDOW = 2,  /* stored to cacheably in the loader's window and not invalidated since */
};

struct line {
    uint8_t f;
    uint8_t fi;    /* I-side and window flags (F_IVALID, W_WINDOW) */
    uint16_t win;  /* window id of the last clean to PoC (0 = never) */
    uint32_t ep;   /* set/way epoch when last made dirty */
};

#define CHUNK_SHIFT 12
#define CHUNK_LINES (1u << CHUNK_SHIFT)

struct chunk {
    uint32_t n_valid, n_dirty, n_istale, n_pend;
    struct line l[CHUNK_LINES];
};

static struct chunk **dir;
static uint64_t dir_len;          /* number of chunk slots */
static uint64_t n_lines_ram;      /* lines in the RAM range */
static uint64_t g_valid, g_dirty, g_istale, g_pend, g_code_istale;
static uint64_t g_ivalid;         /* lines with F_IVALID */

static uint16_t cur_win = 1;      /* increments when data caching turns on */
static uint32_t g_ep = 1;         /* increments when a set/way sweep starts */

/* ------------------------------------------------------------- cpu state */

struct vsb {                      /* per-vCPU scoreboard entry */
    uint64_t insns;               /* inline: +1 per executed instruction */
    uint64_t el_dirty;            /* inline store 1 at eret/svc/hvc/smc */
    uint64_t icheck;              /* 1: check fetched lines for I-staleness */
    uint64_t fcheck;              /* 1: M and I on: fetch cacheability per block */
};
static struct qemu_plugin_scoreboard *sb;
#define SB_INSNS qemu_plugin_scoreboard_u64_in_struct(sb, struct vsb, insns)
#define SB_ELDIRTY qemu_plugin_scoreboard_u64_in_struct(sb, struct vsb, el_dirty)
#define SB_ICHECK qemu_plugin_scoreboard_u64_in_struct(sb, struct vsb, icheck)
#define SB_FCHECK qemu_plugin_scoreboard_u64_in_struct(sb, struct vsb, fcheck)

static struct {
    int el;
    bool started;                 /* first block seen, registers read */
    uint64_t sctlr[4], ttbr0[4], ttbr1[4], tcr[4], mair[4], vbar[4];
    bool vbar_known[4];
    bool m_on, dc_on, ic_on;      /* effective at the current EL */
} cpu;

enum { RG_SCTLR, RG_TTBR0, RG_TTBR1, RG_TCR, RG_MAIR, RG_VBAR, RG_N };
static const char *const rg_names[RG_N][4] = {
    [RG_SCTLR] = { NULL, "SCTLR", "SCTLR_EL2", "SCTLR_EL3" },
    [RG_TTBR0] = { NULL, "TTBR0_EL1", "TTBR0_EL2", "TTBR0_EL3" },
    [RG_TTBR1] = { NULL, "TTBR1_EL1", NULL, NULL },
    [RG_TCR] = { NULL, "TCR_EL1", "TCR_EL2", "TCR_EL3" },
    [RG_MAIR] = { NULL, "MAIR_EL1", "MAIR_EL2", "MAIR_EL3" },
    [RG_VBAR] = { NULL, "VBAR", "VBAR_EL2", "VBAR_EL3" },
};
static struct qemu_plugin_register *reg_x[31], *reg_cpsr, *reg_ctr;
static struct qemu_plugin_register *reg_sys[RG_N][4];
static GByteArray *regbuf, *membuf;

/* ------------------------------------------------------------------ counts */

enum {
    C_DC_CVAC, C_DC_CIVAC, C_DC_IVAC, C_DC_CVAP, C_DC_CVADP, C_DC_CVAU,
    C_DC_CSW, C_DC_CISW, C_DC_ISW, C_DC_ZVA,
    C_IC_IALLU, C_IC_IALLUIS, C_IC_IVAU, C_TLBI, C_N
};
static const char *const cmo_names[C_N] = {
    "dc_cvac", "dc_civac", "dc_ivac", "dc_cvap", "dc_cvadp", "dc_cvau",
    "dc_csw", "dc_cisw", "dc_isw", "dc_zva",
    "ic_iallu", "ic_ialluis", "ic_ivau", "tlbi",
};

static uint64_t cnt_ld[2][5], cnt_st[2][5];   /* [cacheable][log2 size] */

/* Where the window's data accesses go: what the unpack writes (dest), what it
 * reads (source: the archive), the loader's stack, the rest of the loader's
 * own image, anything else (MMIO, RAM outside the given dest ranges). */
enum { T_SOURCE, T_STACK, T_LOADER, T_DEST, T_OTHER, T_N };
static const char *const tg_names[T_N] = {
    "source", "stack", "loader", "dest", "other",
};
static uint64_t cnt_tg[T_N][2][2][5];         /* [target][store][cacheable][size] */
/* The same accesses by the attribute they went through, so a check can say
 * why an unpack that promised caching was not cached. */
enum { A_WB, A_WT, A_NC, A_DEV, A_MMU_OFF, A_DC_OFF, A_UNKNOWN, A_N };
static const char *const attr_names[A_N] = {
    "wb", "wt", "nc", "device", "mmu-off", "dcache-off", "unknown",
};
static uint64_t cnt_attr[T_N][2][A_N];        /* [target][store][attribute] */
static uint64_t begin_hits;
static bool end_seen;
static uint64_t cnt_cmo[C_N];
static uint64_t fetch_acc[2];                 /* [cacheable] */
static bool fetch_c;                          /* fetches cacheable right now */
static uint64_t ins_last;
static uint64_t n_walks_failed;               /* stage 1 walks the model could not do */
static uint64_t walk_pc;                      /* PC of the access that walks */
static bool win_active, begin_seen, handoff_seen, paused;
static uint64_t sctlr_at_handoff;
static int el_at_handoff = -1;

/* ----------------------------------------------------------------- hazards */

enum {
    HZ_DIRTY_DISABLE, HZ_PARTIAL, HZ_DIRTY_HANDOFF, HZ_STALE_ICACHE,
    HZ_STALE_CLEAN, HZ_SAC, HZ_DEVICE_NORMAL, HZ_HANDOFF_STATE, HZ_DISCARDED,
    HZ_WALK_FAILED, HZ_STALE_WALK, HZ_STALE_HANDOFF, HZ_MAINT, HZ_NO_ISB,
    HZ_TLB_STALE, HZ_VALID_CLOSE, HZ_SW_UNORDERED, HZ_N
};
static const char *const hz_names[HZ_N] = {
    "dirty-at-disable", "partial-clean", "dirty-at-handoff", "stale-icache",
    "stale-clean-line", "store-after-clean", "device-normal", "handoff-state",
    "discarded-dirty", "walk-failed", "stale-walk", "stale-at-handoff",
    "maintenance-incomplete", "no-isb", "tlb-stale", "valid-at-close", "setway-unordered",
};

struct range { uint64_t s, e; };

struct hazard {
    int kind;
    uint64_t pc;
    uint64_t count;
    GArray *ranges;               /* struct range, physical, end exclusive */
    guint compact_at;
    uint64_t pass;                /* last classification pass that counted */
    bool has_state;
    uint64_t sctlr;
    int el;
    bool has_va;                  /* walk-failed: the first virtual address */
    uint64_t va;
    char *detail;                 /* barrier hazards: what, and where it mattered */
};
static GHashTable *hazards;
static uint64_t pass_id;

/* Lines made dirty-after-clean: line index -> PC of the first such store. */
static GHashTable *sac_pc;

/* Pending (dirty at disable) bookkeeping. */
static bool pend_active;
static uint64_t pend_pc;

/* Memo of the last line touched per (store?, cacheable?), reset by anything
 * that changes line state other than plain accesses. */
static uint64_t memo[2][2];

/* Set/way sweeps: [0]=clean (csw, cisw), [1]=invalidate (isw, cisw). */
struct sweep {
    uint64_t *bits;
    unsigned sets, ways, way_shift, total, n;
    bool active;
    uint32_t start_ep;
    uint64_t start_seq;
};
struct sweep_done { bool valid; uint32_t start_ep; uint64_t start_seq, end_seq; };
static struct sweep sw[2][2];
static struct sweep_done swd[2][2];
static unsigned n_levels = 2;
static uint64_t sw_seq;

/* ---------------------------------------------------------- small helpers */

static inline unsigned regime_el(void)
{
    return cpu.el <= 1 ? 1 : (unsigned)cpu.el;
}

static uint64_t read_reg(struct qemu_plugin_register *r, bool *ok)
{
    uint64_t v = 0;
    int n;

    if (!r) {
        if (ok) {
            *ok = false;
        }
        return 0;
    }
    g_byte_array_set_size(regbuf, 0);
    n = qemu_plugin_read_register(r, regbuf);
    if (n <= 0) {
        if (ok) {
            *ok = false;
        }
        return 0;
    }
    memcpy(&v, regbuf->data, n < 8 ? (size_t)n : 8);   /* little-endian host */
    if (ok) {
        *ok = true;
    }
    return v;
}

static inline uint64_t read_x(unsigned rt)
{
    return rt >= 31 ? 0 : read_reg(reg_x[rt], NULL);
}

static void memo_reset(void)
{
    memset(memo, 0xff, sizeof(memo));
}

static inline bool pa_in_ram(uint64_t pa)
{
    return pa - cfg.ram_base < cfg.ram_size;
}

static inline uint64_t line_of(uint64_t pa)
{
    return (pa - cfg.ram_base) >> cfg.line_shift;
}

static inline uint64_t line_pa(uint64_t idx)
{
    return cfg.ram_base + (idx << cfg.line_shift);
}

static void table_init(void)
{
    if (dir) {
        return;
    }
    n_lines_ram = cfg.ram_size >> cfg.line_shift;
    dir_len = (n_lines_ram + CHUNK_LINES - 1) >> CHUNK_SHIFT;
    dir = g_new0(struct chunk *, dir_len);
}

static inline struct chunk *chunk_get(uint64_t idx)
{
    uint64_t c = idx >> CHUNK_SHIFT;
    return c < dir_len ? dir[c] : NULL;
}

static inline struct chunk *chunk_alloc(uint64_t idx)
{
    uint64_t c = idx >> CHUNK_SHIFT;
    if (c >= dir_len) {
        return NULL;
    }
    if (!dir[c]) {
        dir[c] = g_new0(struct chunk, 1);
    }
    return dir[c];
}

static void update_icheck(void)
{
    qemu_plugin_u64_set(SB_ICHECK, 0, (cpu.ic_on && g_code_istale) ? 1 : 0);
}

/* Change a line's flags, keeping every counter consistent. */
static void lset(struct chunk *c, struct line *l, uint8_t nf)
{
    uint8_t of = l->f, d = of ^ nf;
    bool ci_old, ci_new;

    if (!d) {
        return;
    }
#define TRACK(bit, local, global)                            \
    if (d & (bit)) {                                         \
        if (nf & (bit)) { c->local++; global++; }            \
        else { c->local--; global--; }                       \
    }
    TRACK(L_VALID, n_valid, g_valid)
    TRACK(L_DIRTY, n_dirty, g_dirty)
    TRACK(L_ISTALE, n_istale, g_istale)
    TRACK(L_PEND, n_pend, g_pend)
#undef TRACK
    if (!(nf & L_VALID)) {
        l->fi &= ~W_WINDOW;   /* invalidated: the window's copy is gone */
    }
    ci_old = (of & (L_ISTALE | L_CODE)) == (L_ISTALE | L_CODE);
    ci_new = (nf & (L_ISTALE | L_CODE)) == (L_ISTALE | L_CODE);
    l->f = nf;
    if (ci_old != ci_new) {
        if (ci_new) {
            if (g_code_istale++ == 0) {
                update_icheck();
            }
        } else if (--g_code_istale == 0) {
            update_icheck();
        }
    }
}

/* ---------------------------------------------------------- hazard store */

static guint hz_hash(gconstpointer p)
{
    const struct hazard *h = p;
    return g_int64_hash(&h->pc) ^ (guint)(h->kind * 0x9e3779b1u);
}

static gboolean hz_equal(gconstpointer a, gconstpointer b)
{
    const struct hazard *x = a, *y = b;
    return x->kind == y->kind && x->pc == y->pc;
}

static struct hazard *hz_get(int kind, uint64_t pc)
{
    struct hazard key = { .kind = kind, .pc = pc };
    struct hazard *h = g_hash_table_lookup(hazards, &key);

    if (!h) {
        h = g_new0(struct hazard, 1);
        h->kind = kind;
        h->pc = pc;
        h->ranges = g_array_new(FALSE, FALSE, sizeof(struct range));
        h->compact_at = 1024;
        h->pass = UINT64_MAX;
        g_hash_table_add(hazards, h);
    }
    return h;
}

static gint range_cmp(gconstpointer a, gconstpointer b)
{
    const struct range *x = a, *y = b;
    return x->s < y->s ? -1 : x->s > y->s ? 1 : 0;
}

static void hz_compact(struct hazard *h)
{
    guint i, o = 0;
    struct range *r;

    if (h->ranges->len < 2) {
        return;
    }
    g_array_sort(h->ranges, range_cmp);
    r = (struct range *)h->ranges->data;
    for (i = 1; i < h->ranges->len; i++) {
        if (r[i].s <= r[o].e) {
            if (r[i].e > r[o].e) {
                r[o].e = r[i].e;
            }
        } else {
            r[++o] = r[i];
        }
    }
    g_array_set_size(h->ranges, o + 1);
}

static void hz_add_range(struct hazard *h, uint64_t s, uint64_t e)
{
    if (h->ranges->len) {
        struct range *last = &g_array_index(h->ranges, struct range,
                                            h->ranges->len - 1);
        if (s <= last->e && e >= last->s) {
            if (s < last->s) {
                last->s = s;
            }
            if (e > last->e) {
                last->e = e;
            }
            return;
        }
    }
    g_array_append_val(h->ranges, ((struct range){ s, e }));
    if (h->ranges->len >= h->compact_at) {
        hz_compact(h);
        h->compact_at = MAX(1024u, h->ranges->len * 2);
    }
}

/* One occurrence of a hazard touching physical lines [first, last]. */
static void hz_event(int kind, uint64_t pc, uint64_t first, uint64_t last)
{
    struct hazard *h;

    if (handoff_seen) {
        return;
    }
    h = hz_get(kind, pc);
    h->count++;
    hz_add_range(h, line_pa(first), line_pa(last + 1));
}

/* Within one classification pass, count each hazard entry once. */
static void hz_pass_range(int kind, uint64_t pc, uint64_t first, uint64_t last)
{
    struct hazard *h = hz_get(kind, pc);

    if (h->pass != pass_id) {
        h->pass = pass_id;
        h->count++;
    }
    hz_add_range(h, line_pa(first), line_pa(last + 1));
}

/* ---------------------------------------------- translation (stage 1 walk) */

enum { X_DEV, X_NC, X_WT, X_WB, X_UNKNOWN };

struct xent { uint64_t tag, pa; uint32_t gen; uint8_t cls; };
#define XB_N 1024
#define XP_N 4096
static struct xent xblk[XB_N], xpg[XP_N];
static uint32_t xgen = 1;
static uint64_t xm_page = UINT64_MAX, xm_pa;
static uint32_t xm_gen;
static uint8_t xm_cls;

static void xlat_flush(void)
{
    xgen++;
    xm_page = UINT64_MAX;
}

static int cls_of_attr(uint8_t attr)
{
    unsigned hi = attr >> 4, lo = attr & 15;

    if (hi == 0) {
        return X_DEV;
    }
    if (lo == 4) {
        return X_NC;
    }
    if (lo == 0) {
        return attr == 0xf0 ? X_WB : X_NC;     /* 0xf0: tagged Normal WB */
    }
    switch (lo >> 2) {
    case 0:
    case 2:
        return X_WT;
    default:
        return X_WB;
    }
}

static bool read_desc(uint64_t pa, uint64_t *d)
{
    /* API 4 has no physical read: tables are assumed identity mapped. */
    if (!qemu_plugin_read_memory_vaddr(pa, membuf, 8) || membuf->len < 8) {
        return false;
    }
    memcpy(d, membuf->data, 8);
    return true;
}

/* The walker reads descriptors through the cache when the regime's D-side is
 * on and TCR's IRGN for the half says cacheable (WB or WT): a stale line there
 * is a stale descriptor (stale-walk), and the read allocates the line. */
static void walk_touch(uint64_t desc_pa, bool cacheable)
{
    uint64_t idx;
    struct chunk *c;
    struct line *l;

    if (!cacheable || !dir || !pa_in_ram(desc_pa)) {
        return;
    }
    idx = line_of(desc_pa);
    c = chunk_alloc(idx);
    if (!c) {
        return;
    }
    l = &c->l[idx & (CHUNK_LINES - 1)];
    if (l->f & L_STALE) {
        hz_event(HZ_STALE_WALK, walk_pc, idx, idx);
    }
    lset(c, l, l->f | L_VALID);
}

/* Walk the current EL's stage 1 tables (4 KiB granule).  Returns the class,
 * the output address and the log2 size of the mapping; X_UNKNOWN when the
 * walk cannot be done (other granule, unreadable table), with pa = va. */
static int walk(uint64_t va, uint64_t *pa, unsigned *map_shift)
{
    unsigned rel = regime_el(), tsz, tg, ia, lvl, start;
    uint64_t tcr = cpu.tcr[rel], table;
    bool upper = false, cwalk;

    *pa = va;
    *map_shift = 12;
    if (rel == 1 && ((va >> 55) & 1)) {
        upper = true;
        tsz = (tcr >> 16) & 63;
        tg = (tcr >> 30) & 3;
        if ((tcr >> 23) & 1 || tg != 2) {
            return X_UNKNOWN;
        }
        table = cpu.ttbr1[1];
        cwalk = ((tcr >> 24) & 3) != 0;        /* IRGN1 */
    } else {
        tsz = tcr & 63;
        tg = (tcr >> 14) & 3;
        if ((rel == 1 && ((tcr >> 7) & 1)) || tg != 0) {
            return X_UNKNOWN;
        }
        table = cpu.ttbr0[rel];
        cwalk = ((tcr >> 8) & 3) != 0;         /* IRGN0 */
    }
    cwalk = cwalk && cpu.dc_on;
    if (tsz < 16) {
        tsz = 16;
    }
    if (tsz > 39) {
        tsz = 39;
    }
    ia = 64 - tsz;
    if (upper ? (~va >> ia) != 0 : (va >> ia) != 0) {
        return X_UNKNOWN;                      /* translation fault */
    }
    start = ia > 39 ? 0 : ia > 30 ? 1 : ia > 21 ? 2 : 3;
    table &= 0x0000fffffffffffeULL;
    for (lvl = start; lvl <= 3; lvl++) {
        unsigned shift = 12 + 9 * (3 - lvl);
        unsigned bits = lvl == start ? ia - shift : 9;
        uint64_t idx = (va >> shift) & ((1ULL << bits) - 1), d;
        uint8_t attr;

        walk_touch(table + idx * 8, cwalk);
        if (!read_desc(table + idx * 8, &d) || !(d & 1)) {
            return X_UNKNOWN;
        }
        if (lvl < 3 && (d & 2)) {
            table = d & 0x0000fffffffff000ULL;
            continue;
        }
        if ((lvl == 3 && !(d & 2)) || lvl == 0) {
            return X_UNKNOWN;
        }
        *pa = (d & 0x0000ffffffffffffULL & ~((1ULL << shift) - 1)) |
              (va & ((1ULL << shift) - 1));
        *map_shift = shift;
        attr = (cpu.mair[rel] >> (8 * ((d >> 2) & 7))) & 0xff;
        return cls_of_attr(attr);
    }
    return X_UNKNOWN;
}

/* VA -> (PA, class) under the current regime, cached per 2 MiB block or per
 * 4 KiB page; the caches are dropped at any msr to SCTLR/TTBR/TCR/MAIR, at an
 * EL change and at tlbi. */
static int xlat(uint64_t va, uint64_t *pa)
{
    uint64_t pg = va >> 12, pa0;
    struct xent *b, *p;
    unsigned shift;
    int cls;

    if (!cpu.m_on) {
        *pa = va;
        return X_UNKNOWN;
    }
    if (pg == xm_page && xm_gen == xgen) {
        *pa = xm_pa | (va & 0xfff);
        return xm_cls;
    }
    b = &xblk[(va >> 21) % XB_N];
    p = &xpg[pg % XP_N];
    if (b->gen == xgen && b->tag == va >> 21) {
        pa0 = b->pa | (va & 0x1fffff);
        cls = b->cls;
    } else if (p->gen == xgen && p->tag == pg) {
        pa0 = p->pa | (va & 0xfff);
        cls = p->cls;
    } else {
        cls = walk(va, &pa0, &shift);
        n_walks_failed += cls == X_UNKNOWN;
        if (cls != X_UNKNOWN && shift >= 21) {
            *b = (struct xent){ va >> 21, pa0 & ~0x1fffffULL, xgen, (uint8_t)cls };
        } else {
            *p = (struct xent){ pg, pa0 & ~0xfffULL, xgen, (uint8_t)cls };
        }
    }
    xm_page = pg;
    xm_pa = pa0 & ~0xfffULL;
    xm_gen = xgen;
    xm_cls = (uint8_t)cls;
    *pa = pa0;
    return cls;
}

/* ------------------------------------------------------ fetch attribution */

/* Credit the instructions since the last point to the fetch cacheability in
 * force (fetch_c); called wherever that may change. */
static void attribute_fetches(void)
{
    uint64_t now = qemu_plugin_u64_get(SB_INSNS, 0);

    if (win_active) {
        fetch_acc[fetch_c ? 1 : 0] += now - ins_last;
    }
    ins_last = now;
}

/* ---------------------------------------------------------- hazard extras */

static void hz_detail(struct hazard *h, char *text)
{
    if (h->detail) {
        g_free(text);                          /* the first occurrence stands */
    } else {
        h->detail = text;
    }
}

/* A stage 1 walk the model could not do: where (PC, VA) and which line. */
static void walk_failed(uint64_t pc, uint64_t va, uint64_t pa, bool have_pa)
{
    struct hazard *h;

    if (handoff_seen) {
        return;
    }
    h = hz_get(HZ_WALK_FAILED, pc);
    h->count++;
    if (!h->has_va) {
        h->has_va = true;
        h->va = va;
    }
    if (have_pa) {
        uint64_t ls = pa & ~((1ULL << cfg.line_shift) - 1);
        hz_add_range(h, ls, ls + (1ULL << cfg.line_shift));
    }
}

/* ---------------------------------------------------------------- barriers */

/* Cache and TLB maintenance not yet completed by a DSB, by the domain a DSB
 * must cover to complete it: [0] local (set/way, ic iallu, non-broadcast
 * tlbi: any DSB but *LD), [1] shareable (by VA, ic ialluis/ivau, broadcast
 * tlbi: DSB ISH, OSH or SY). The first such op's PC and name are kept. */
static struct { bool on; uint64_t pc, seq; unsigned op; } maint[2];
static uint64_t maint_seq;

/* A write to SCTLR/TTBRn/TCR/MAIR of the current regime not yet followed by a
 * context synchronization event (isb, eret, exception entry). */
enum { U_SCTLR = 1, U_XLAT = 2 };
static struct { unsigned mask; uint64_t pc; unsigned rg; int el; } unsync;

/* The TLB, per translation regime (1: EL1&0, 2: EL2, 3: EL3): may it hold
 * entries the tables now in force do not give?  Yes from the start (firmware
 * or U-Boot may have run with the MMU on) and again whenever the tables that
 * were live are abandoned (M 1->0, or TTBR/TCR rewritten with M=1).  A tlbi
 * that drops every entry of the regime, completed by a DSB of its domain,
 * clears it; an MMU enable while it is set is tlb-stale. */
static struct {
    bool stale;
    uint64_t since_pc;            /* where it became stale (0: from the start) */
    unsigned pend;                /* invalidate issued: DSB level it needs */
    bool off;                     /* M went 1->0: the tables then live ... */
    uint64_t off_pc, ttbr0, ttbr1, tcr;   /* ... are these, abandoned if not reused */
} tlb[4];
/* Any tlbi issued and not yet completed (DSB level it needs, first PC), and a
 * completed one not yet followed by a context synchronization event. */
static struct { unsigned need; uint64_t pc; } tlbi_out;
static struct { bool on; uint64_t pc; } tlb_unsync;

/* What the loader's own maintenance covered, for the check of its promise
 * (a line it missed is a defect on another input even if this boot never
 * wrote it): [0] lines cleaned to PoC by VA before the window's end (the
 * final clean; seL4's stock path after it is no part of it), [1] lines invalidated by VA with the D-cache off before the loader
 * first turned it on (the invalidate before the enable); and whether a
 * complete set/way sweep did either. */
static GArray *cov[2];            /* struct range, physical, end exclusive */
static guint cov_compact_at[2] = { 1024, 1024 };
static bool cov_setway[2];
static bool loader_enabled;       /* the loader has turned its D-cache on */

static inline bool in_rg(unsigned t, uint64_t pa);

/* Code of the loader's own image (identity mapped: its PCs are physical). */
static inline bool loader_pc(uint64_t pc)
{
    return !cfg.n_rg[T_LOADER] || in_rg(T_LOADER, pc);
}

static const char *const sync_reg_names[RG_N] = {
    [RG_SCTLR] = "SCTLR", [RG_TTBR0] = "TTBR0", [RG_TTBR1] = "TTBR1",
    [RG_TCR] = "TCR", [RG_MAIR] = "MAIR", [RG_VBAR] = "VBAR",
};

/* A store not yet ordered by a barrier (dsb, or dmb other than *LD): set/way
 * operations name no address, so nothing orders them after earlier stores to
 * the lines they clean but a barrier between. */
static bool store_unfenced;
static uint64_t store_unfenced_pc;

/* D-side cleans (by VA, to PoU or PoC, and by set/way) not yet completed by a
 * DSB of their domain, as maint[] but without invalidates and tlbi: an I-side
 * invalidate issued before they complete may refill from memory the clean has
 * not reached yet, so it needs a DSB between. */
static struct { bool on; uint64_t pc; unsigned op; } dclean[2];

/* msr CSSELR_EL1 not yet followed by an isb: CCSIDR_EL1 may still describe
 * the level selected before. */
static bool csselr_unsync;
static uint64_t csselr_pc;

static bool cmo_cleans(unsigned op)
{
    return op == C_DC_CVAC || op == C_DC_CIVAC || op == C_DC_CVAP || op == C_DC_CVADP ||
           op == C_DC_CVAU || op == C_DC_CSW || op == C_DC_CISW;
}

static void maint_issue(unsigned domain, uint64_t pc, unsigned op)
{
    if (cmo_cleans(op) && !dclean[domain].on) {
        dclean[domain].on = true;
        dclean[domain].pc = pc;
        dclean[domain].op = op;
    }
    if (!maint[domain].on) {
        maint[domain].on = true;
        maint[domain].pc = pc;
        maint[domain].op = op;
        maint[domain].seq = ++maint_seq;
    }
}

/* dsb: level 1 completes local maintenance only (NSH), 2 everything. */
static void dsb_cb(unsigned int vcpu, void *udata)
{
    unsigned lvl = (unsigned)(uintptr_t)udata, r;

    if (vcpu != 0) {
        return;
    }
    maint[0].on = false;
    dclean[0].on = false;
    if (lvl >= 2) {
        maint[1].on = false;
        dclean[1].on = false;
    }
    for (r = 1; r <= 3; r++) {
        if (tlb[r].pend && lvl >= tlb[r].pend) {
            tlb[r].stale = false;
            tlb[r].off = false;
            tlb[r].pend = 0;
        }
    }
    if (tlbi_out.need && lvl >= tlbi_out.need) {
        tlbi_out.need = 0;
        tlb_unsync.on = true;
        tlb_unsync.pc = tlbi_out.pc;
    }
    store_unfenced = false;
}

/* A tlbi: `regime` is the one whose every entry it drops (0: fewer), `dom`
 * its domain (0 local, 1 broadcast: a DSB ISH/OSH/SY completes it). */
static void tlbi_issue(unsigned regime, unsigned dom, uint64_t pc)
{
    unsigned need = dom ? 2 : 1;

    if (regime && tlb[regime].pend < need) {
        tlb[regime].pend = need;
    }
    if (!tlbi_out.need) {
        tlbi_out.pc = pc;
    }
    if (tlbi_out.need < need) {
        tlbi_out.need = need;
    }
}

static const char *const regime_names[4] = { "", "EL1&0", "EL2", "EL3" };

/* Before a write of `v` to SCTLR/TTBRn/TCR of EL `el`: an MMU enable with a
 * possibly stale TLB is a hazard; abandoning the live tables makes it so. */
static void tlb_at_msr(unsigned rg, unsigned el, uint64_t v, uint64_t pc)
{
    bool m_was = cpu.sctlr[el] & 1;

    /* The MMU comes back on with other tables than it went off with: the
     * entries of the old ones may still be in the TLB. The same tables again
     * (same TTBRs and TCR) are not abandoned. */
    if (rg == RG_SCTLR && !m_was && (v & 1) && tlb[el].off && !tlb[el].stale &&
        (cpu.ttbr0[el] != tlb[el].ttbr0 || cpu.ttbr1[el] != tlb[el].ttbr1 ||
         cpu.tcr[el] != tlb[el].tcr)) {
        tlb[el].stale = true;
        tlb[el].since_pc = tlb[el].off_pc;
    }
    if (rg == RG_SCTLR && !m_was && (v & 1) && tlb[el].stale && !tlb[el].pend &&
        !handoff_seen) {
        struct hazard *h = hz_get(HZ_TLB_STALE, pc);
        h->count++;
        hz_detail(h, tlb[el].since_pc
                  ? g_strdup_printf("SCTLR_EL%u turned the MMU on with no tlbi of the %s "
                                    "regime completed by a dsb since its earlier tables "
                                    "were abandoned (pc=0x%" PRIx64 ")", el,
                                    regime_names[el], tlb[el].since_pc)
                  : g_strdup_printf("SCTLR_EL%u turned the MMU on with no tlbi of the %s "
                                    "regime completed by a dsb since the loader was "
                                    "entered (firmware may have left TLB entries)", el,
                                    regime_names[el]));
    }
    if (rg == RG_SCTLR && m_was && !(v & 1)) {
        tlb[el].off = true;
        tlb[el].off_pc = pc;
        tlb[el].ttbr0 = cpu.ttbr0[el];
        tlb[el].ttbr1 = cpu.ttbr1[el];
        tlb[el].tcr = cpu.tcr[el];
        tlb[el].pend = 0;             /* entries may have come in since */
    } else if ((rg == RG_TTBR0 || rg == RG_TTBR1 || rg == RG_TCR) && m_was &&
               !tlb[el].stale) {
        tlb[el].stale = true;
        tlb[el].since_pc = pc;
        tlb[el].pend = 0;
    }
    if (rg == RG_SCTLR && (v & 1)) {
        tlb[el].off = false;
    }
}

/* dmb other than *LD: earlier stores are ordered before what follows. */
static void dmb_cb(unsigned int vcpu, void *udata G_GNUC_UNUSED)
{
    if (vcpu == 0) {
        store_unfenced = false;
    }
}

/* mrs CCSIDR_EL1: the level it describes is the one CSSELR_EL1 selected only
 * after a context synchronization event. */
static void ccsidr_cb(unsigned int vcpu, void *udata)
{
    struct hazard *h;

    if (vcpu != 0 || !csselr_unsync || handoff_seen) {
        return;
    }
    h = hz_get(HZ_NO_ISB, csselr_pc);
    h->count++;
    hz_detail(h, g_strdup_printf("msr CSSELR_EL1 at pc=0x%" PRIx64 " not followed by an isb "
                                 "before mrs CCSIDR_EL1 (pc=0x%" PRIx64 ")", csselr_pc,
                                 (uint64_t)(uintptr_t)udata));
    csselr_unsync = false;
}

static void csselr_cb(unsigned int vcpu, void *udata)
{
    if (vcpu == 0) {
        csselr_unsync = true;
        csselr_pc = (uint64_t)(uintptr_t)udata;
    }
}

/* Maintenance must be complete before `what` (at pc): report the first op
 * still outstanding, then forget them all (one report per defect). */
static void maint_required(const char *what, uint64_t pc)
{
    unsigned d = maint[0].on && (!maint[1].on || maint[0].seq < maint[1].seq)
                 ? 0 : 1;
    struct hazard *h;
    char *name;

    if (!maint[d].on || handoff_seen) {
        maint[0].on = maint[1].on = false;
        return;
    }
    h = hz_get(HZ_MAINT, maint[d].pc);
    h->count++;
    name = g_strdelimit(g_strdup(cmo_names[maint[d].op]), "_", ' ');
    hz_detail(h, g_strdup_printf("%s at pc=0x%" PRIx64 " not completed by a dsb"
                                 "%s before %s (pc=0x%" PRIx64 ")", name,
                                 maint[d].pc, d ? " ish/osh/sy" : "", what, pc));
    g_free(name);
    maint[0].on = maint[1].on = false;
    dclean[0].on = dclean[1].on = false;
}

/* An I-side invalidate (at pc) while a D-side clean is outstanding: the
 * clean must complete (DSB) first, or the I-cache may refill from memory the
 * clean has not reached yet.  Reported as the clean's maintenance-incomplete. */
static void ic_after_clean(unsigned op, uint64_t pc)
{
    unsigned d = dclean[0].on ? 0 : 1;
    struct hazard *h;
    char *name, *ic;

    if (!dclean[d].on) {
        return;
    }
    h = hz_get(HZ_MAINT, dclean[d].pc);
    h->count++;
    name = g_strdelimit(g_strdup(cmo_names[dclean[d].op]), "_", ' ');
    ic = g_strdelimit(g_strdup(cmo_names[op]), "_", ' ');
    hz_detail(h, g_strdup_printf("%s at pc=0x%" PRIx64 " not completed by a dsb%s before "
                                 "%s (pc=0x%" PRIx64 "): the I-side may refill from "
                                 "memory the clean has not reached", name, dclean[d].pc,
                                 d ? " ish/osh/sy" : "", ic, pc));
    g_free(name);
    g_free(ic);
    dclean[0].on = dclean[1].on = false;
}

static void unsync_hit(const char *what, uint64_t pc)
{
    struct hazard *h;

    if (!handoff_seen) {
        h = hz_get(HZ_NO_ISB, unsync.pc);
        h->count++;
        hz_detail(h, g_strdup_printf("msr %s_EL%d at pc=0x%" PRIx64 " not followed "
                                     "by an isb before %s (pc=0x%" PRIx64 ")",
                                     sync_reg_names[unsync.rg], unsync.el,
                                     unsync.pc, what, pc));
    }
    unsync.mask = 0;
}

/* Does an access or maintenance op now depend on an unsynchronised write?
 * SCTLR always; the translation registers while the MMU is on. */
static inline void unsync_check(const char *what, uint64_t pc)
{
    if (unsync.mask & U_SCTLR || (unsync.mask && cpu.m_on)) {
        unsync_hit(what, pc);
    }
}

static void isb_cb(unsigned int vcpu, void *udata G_GNUC_UNUSED)
{
    if (vcpu == 0) {
        unsync.mask = 0;
        tlb_unsync.on = false;
        csselr_unsync = false;
    }
}

/* The code after `what` (the window's end: seL4's stock path; the hand-off)
 * must not inherit maintenance not completed by a DSB, a system-register
 * write not synchronised, or a completed TLB invalidate not yet followed by
 * a context synchronization event. */
static void close_clean(const char *what, uint64_t pc)
{
    maint_required(what, pc);
    if (unsync.mask) {
        unsync_hit(what, pc);
    }
    if (tlb_unsync.on && !handoff_seen) {
        struct hazard *h = hz_get(HZ_NO_ISB, tlb_unsync.pc);
        h->count++;
        hz_detail(h, g_strdup_printf("tlbi at pc=0x%" PRIx64 " completed by a dsb but "
                                     "not followed by an isb before %s (pc=0x%" PRIx64
                                     ")", tlb_unsync.pc, what, pc));
    }
    tlb_unsync.on = false;
}

/* ------------------------------------------------------- classification */

static inline bool cleaned_this_window(uint64_t idx)
{
    struct chunk *c;

    if (idx >= n_lines_ram) {
        return false;
    }
    c = chunk_get(idx);
    return c && c->l[idx & (CHUNK_LINES - 1)].win == cur_win;
}

static uint64_t sac_of(uint64_t idx, uint64_t dflt)
{
    gpointer v;

    if (sac_pc && g_hash_table_lookup_extended(sac_pc, GUINT_TO_POINTER(idx),
                                                NULL, &v)) {
        return (uint64_t)(uintptr_t)v;
    }
    return dflt;
}

/*
 * Report dirty lines: those with flag `need` (L_PEND) or all dirty lines when
 * need == 0.  Lines stored to after a clean are store-after-clean (at the
 * store); runs of other dirty lines adjacent to a line cleaned in this window
 * are partial-clean when `partial`; the rest are `plain_kind` at `pc`.
 * Clears L_PEND on the lines visited.
 */
static void classify_dirty(uint8_t need, int plain_kind, uint64_t pc,
                           bool partial)
{
    uint64_t ci, run_s = 0, run_e = 0;
    bool in_run = false;

    pass_id++;
#define CLOSE_RUN()                                                         \
    do {                                                                    \
        if (in_run) {                                                       \
            bool adj = partial && ((run_s > 0 &&                            \
                                    cleaned_this_window(run_s - 1)) ||      \
                                   cleaned_this_window(run_e + 1));         \
            hz_pass_range(adj ? HZ_PARTIAL : plain_kind, pc, run_s, run_e); \
            in_run = false;                                                 \
        }                                                                   \
    } while (0)

    for (ci = 0; ci < dir_len; ci++) {
        struct chunk *c = dir[ci];
        unsigned i;

        if (!c || !c->n_dirty || (need && !c->n_pend)) {
            CLOSE_RUN();
            continue;
        }
        for (i = 0; i < CHUNK_LINES; i++) {
            struct line *l = &c->l[i];
            uint64_t idx = (ci << CHUNK_SHIFT) | i;

            if (!(l->f & L_DIRTY) || (need && !(l->f & need))) {
                CLOSE_RUN();
                continue;
            }
            if (l->f & L_SAC) {
                CLOSE_RUN();
                hz_pass_range(HZ_SAC, sac_of(idx, pc), idx, idx);
            } else if (in_run && idx == run_e + 1) {
                run_e = idx;
            } else {
                CLOSE_RUN();
                in_run = true;
                run_s = run_e = idx;
            }
            if (need) {
                lset(c, l, l->f & ~need);
            }
        }
    }
    CLOSE_RUN();
#undef CLOSE_RUN
}

static void flush_pending(void)
{
    if (!pend_active) {
        return;
    }
    pend_active = false;
    if (g_pend && !handoff_seen) {
        classify_dirty(L_PEND, HZ_DIRTY_DISABLE, pend_pc, true);
    }
}

/* Visit every line whose flags include `flag`, skipping chunks whose `count`
 * says they hold none: the directory is sparse and mostly empty. */
#define FOR_EACH_FLAGGED(ci, c, i, count, flag)                              \
    for ((ci) = 0; (ci) < dir_len; (ci)++)                                  \
        if (((c) = dir[ci]) != NULL && (c)->count)                          \
            for ((i) = 0; (i) < CHUNK_LINES; (i)++)                         \
                if ((c)->l[i].f & (flag))

static void mark_pending(uint64_t pc)
{
    uint64_t ci;
    struct chunk *c;
    unsigned i;

    flush_pending();
    pend_active = true;
    pend_pc = pc;
    if (!g_dirty) {
        return;
    }
    FOR_EACH_FLAGGED(ci, c, i, n_dirty, L_DIRTY) {
        lset(c, &c->l[i], c->l[i].f | L_PEND);
    }
}

/* seL4's stock boot path (secondary cores, boot page tables, arm_enable_mmu)
 * assumes the state the loader was entered in: caches off, nothing dirty,
 * nothing stale in the I-cache. A loader that turns its caches on early must
 * hand exactly that state back when it turns them off again, before any of
 * that code runs: so under the sel4 contract the disable itself is judged;
 * the stock path's later set/way sweep and I-cache invalidate do not excuse
 * it (secondary cores and the uncached page-table writes come first).
 * Called once the window has begun: the loader's own disable, not firmware's. */
static void judge_early_close(uint64_t pc)
{
    uint64_t ci;
    struct chunk *c;
    unsigned i;

    flush_pending();
    /* Closed means cleaned and invalidated: a line the window wrote that is
     * still valid (clean) goes stale under the stock path's uncached writes
     * and is a copy no other master's view agrees with. Dirty ones are the
     * dirty-at-disable just classified. */
    pass_id++;
    FOR_EACH_FLAGGED(ci, c, i, n_valid, L_VALID) {
        if ((c->l[i].fi & W_WINDOW) && !(c->l[i].f & L_DIRTY)) {
            uint64_t idx = (ci << CHUNK_SHIFT) | i;
            hz_pass_range(HZ_VALID_CLOSE, pc, idx, idx);
        }
        c->l[i].fi &= ~W_WINDOW;
    }
    if (!g_istale) {
        return;
    }
    pass_id++;
    FOR_EACH_FLAGGED(ci, c, i, n_istale, L_ISTALE) {
        uint64_t idx = (ci << CHUNK_SHIFT) | i;
        /* A line still dirty is the D-side's hazard (just classified): its
         * I-staleness is the same defect, not a second one. */
        if (!(c->l[i].f & L_DIRTY)) {
            hz_pass_range(HZ_STALE_ICACHE, pc, idx, idx);
        }
        lset(c, &c->l[i], c->l[i].f & ~L_ISTALE);
    }
}

/* Called whenever SCTLR of the current EL or the EL itself may have changed. */
static void regime_update(uint64_t pc)
{
    uint64_t s = cpu.sctlr[regime_el()];
    bool m = s & 1, c = (s >> 2) & 1, i = (s >> 12) & 1;
    bool dc = m && c;

    attribute_fetches();
    xlat_flush();
    if (dc && !cpu.dc_on) {
        if (loader_pc(pc)) {
            loader_enabled = true;
        }
        flush_pending();
        if (++cur_win == 0) {
            cur_win = 1;
        }
    } else if (!dc && cpu.dc_on) {
        mark_pending(pc);
        /* Only the loader's own close: firmware before it (U-Boot turns its
         * caches off first and cleans by set/way after) keeps the grace. */
        if (cfg.expect_sel4 && begin_seen) {
            judge_early_close(pc);
        }
    }
    cpu.m_on = m;
    cpu.dc_on = dc;
    cpu.ic_on = i;
    /* With the MMU on, a per-block callback refines this from the mapping. */
    fetch_c = i;
    qemu_plugin_u64_set(SB_FCHECK, 0, (m && i) ? 1 : 0);
    update_icheck();
    memo_reset();
}

/* ---------------------------------------------------- register bootstrap */

static void warm_lines(uint64_t s, uint64_t e, bool iside)
{
    uint64_t idx, last;

    if (s < cfg.ram_base) {
        s = cfg.ram_base;
    }
    if (e > cfg.ram_base + cfg.ram_size) {
        e = cfg.ram_base + cfg.ram_size;
    }
    if (s >= e) {
        return;
    }
    last = line_of(e - 1);
    for (idx = line_of(s); idx <= last; idx++) {
        struct chunk *c = chunk_alloc(idx);
        struct line *l = &c->l[idx & (CHUNK_LINES - 1)];

        if (!iside) {
            lset(c, l, l->f | L_VALID);
        } else if (!(l->fi & F_IVALID)) {
            l->fi |= F_IVALID;
            g_ivalid++;
        }
    }
}

/* Firmware may leave valid lines behind (the arm64 boot protocol asks only
 * that the image be cleaned to PoC): the warm ranges start valid and clean in
 * the D-cache; the iwarm ranges in the I-cache (the protocol allows it on),
 * consistent with memory until written. */
static void warm_start(void)
{
    unsigned k;

    for (k = 0; k < cfg.n_warm; k++) {
        warm_lines(cfg.warm[k].s, cfg.warm[k].e, false);
    }
    for (k = 0; k < cfg.n_iwarm; k++) {
        warm_lines(cfg.iwarm[k].s, cfg.iwarm[k].e, true);
    }
}

static void started(void)
{
    unsigned k, el;
    bool ok;

    cpu.started = true;
    for (k = 0; k < RG_N; k++) {
        for (el = 1; el <= 3; el++) {
            uint64_t v = read_reg(reg_sys[k][el], &ok);
            if (!ok) {
                continue;
            }
            switch (k) {
            case RG_SCTLR: cpu.sctlr[el] = v; break;
            case RG_TTBR0: cpu.ttbr0[el] = v; break;
            case RG_TTBR1: cpu.ttbr1[el] = v; break;
            case RG_TCR: cpu.tcr[el] = v; break;
            case RG_MAIR: cpu.mair[el] = v; break;
            case RG_VBAR: cpu.vbar[el] = v; cpu.vbar_known[el] = true; break;
            }
        }
    }
    if (!cfg.line_given) {
        uint64_t ctr = read_reg(reg_ctr, &ok);
        if (ok && ctr) {
            cfg.line_shift = 2 + ((ctr >> 16) & 15);   /* DminLine: log2 words */
        }
    }
    for (el = 1; el <= 3; el++) {
        tlb[el].stale = true;          /* firmware may have run with the MMU on */
    }
    table_init();
    warm_start();
}

static void set_geometry(void)
{
    struct { uint64_t size; unsigned ways; } g[2] = {
        { cfg.l1_size, cfg.l1_ways }, { cfg.l2_size, cfg.l2_ways },
    };
    unsigned lv, k;

    n_levels = cfg.l2_size ? 2 : 1;
    for (lv = 0; lv < n_levels; lv++) {
        unsigned ways = g[lv].ways ? g[lv].ways : 1;
        unsigned sets = (unsigned)(g[lv].size / ((uint64_t)ways << cfg.line_shift));
        unsigned ab = 0;

        if (!sets) {
            sets = 1;
        }
        while ((1u << ab) < ways) {
            ab++;
        }
        for (k = 0; k < 2; k++) {
            struct sweep *s = &sw[k][lv];
            g_free(s->bits);
            s->sets = sets;
            s->ways = ways;
            s->way_shift = 32 - ab;
            s->total = sets * ways;
            s->bits = g_new0(uint64_t, (s->total + 63) / 64);
            s->n = 0;
            s->active = false;
        }
    }
}

/* ------------------------------------------------------- line operations */

static void line_clean(uint64_t idx)
{
    struct chunk *c = chunk_get(idx);
    struct line *l;

    if (!c) {
        return;
    }
    l = &c->l[idx & (CHUNK_LINES - 1)];
    l->win = cur_win;
    lset(c, l, (l->f & ~(L_DIRTY | L_PEND | L_SAC)) | L_POU);
}

static void line_invalidate(uint64_t idx, uint64_t pc, bool report_dirty)
{
    struct chunk *c = chunk_get(idx);
    struct line *l;

    if (!c) {
        return;
    }
    l = &c->l[idx & (CHUNK_LINES - 1)];
    if (report_dirty && (l->f & L_DIRTY)) {
        hz_event(HZ_DISCARDED, pc, idx, idx);
    }
    lset(c, l, l->f & ~(L_VALID | L_DIRTY | L_STALE | L_PEND | L_SAC | L_POU));
}

static void store_cacheable(uint64_t idx, uint64_t pc, bool wt)
{
    struct chunk *c = chunk_alloc(idx);
    struct line *l;
    uint8_t nf;

    if (!c) {
        return;
    }
    l = &c->l[idx & (CHUNK_LINES - 1)];
    if (l->f & L_STALE) {
        /* Merged into a stale copy: its old bytes go back to memory later. */
        hz_event(HZ_STALE_CLEAN, pc, idx, idx);
    }
    nf = (l->f | L_VALID | L_ISTALE) & ~L_POU;
    if (begin_seen) {
        l->fi |= W_WINDOW;
    }
    if (!wt) {
        nf |= L_DIRTY;
        l->ep = g_ep;
        if (l->win == cur_win && !(l->f & L_SAC)) {
            nf |= L_SAC;
            if (!sac_pc) {
                sac_pc = g_hash_table_new(g_direct_hash, g_direct_equal);
            }
            g_hash_table_insert(sac_pc, GUINT_TO_POINTER(idx),
                                (gpointer)(uintptr_t)pc);
        }
    }
    lset(c, l, nf);
}

static void load_cacheable(uint64_t idx, uint64_t pc)
{
    struct chunk *c = chunk_alloc(idx);
    struct line *l;

    if (!c) {
        return;
    }
    l = &c->l[idx & (CHUNK_LINES - 1)];
    if (l->f & L_STALE) {
        hz_event(HZ_STALE_CLEAN, pc, idx, idx);
    }
    lset(c, l, l->f | L_VALID);
}

static void store_uncached(uint64_t idx)
{
    struct chunk *c = chunk_get(idx);
    struct line *l;
    uint8_t nf;

    if (!c) {
        return;
    }
    l = &c->l[idx & (CHUNK_LINES - 1)];
    nf = l->f;
    if (l->f & L_VALID) {
        nf |= L_STALE;
    }
    if (l->fi & F_IVALID) {
        nf |= L_ISTALE;               /* the I-cache's copy is now old */
    }
    lset(c, l, nf);
}

/* The I-cache's warm copies are gone (ic iallu/ialluis; ic ivau: one line). */
static void ivalid_drop(struct line *l)
{
    if (l->fi & F_IVALID) {
        l->fi &= ~F_IVALID;
        g_ivalid--;
    }
}

/* ------------------------------------------------------------ set / way */

static void sweep_clean_all(uint32_t before_ep)
{
    uint64_t ci;
    struct chunk *c;
    unsigned i;

    FOR_EACH_FLAGGED(ci, c, i, n_dirty, L_DIRTY) {
        struct line *l = &c->l[i];
        if ((int32_t)(l->ep - before_ep) < 0) {     /* dirtied before the sweep began */
            l->win = cur_win;
            lset(c, l, (l->f & ~(L_DIRTY | L_PEND | L_SAC)) | L_POU);
        }
    }
}

static void sweep_invalidate_all(uint32_t before_ep, uint64_t pc)
{
    uint64_t ci;

    pass_id++;
    for (ci = 0; ci < dir_len; ci++) {
        struct chunk *c = dir[ci];
        unsigned i;

        if (!c || !c->n_valid) {
            continue;
        }
        for (i = 0; i < CHUNK_LINES; i++) {
            struct line *l = &c->l[i];
            if (!(l->f & L_VALID)) {
                continue;
            }
            if (l->f & L_DIRTY) {
                if ((int32_t)(l->ep - before_ep) >= 0) {
                    continue;                  /* dirtied during the sweep */
                }
                if (!handoff_seen) {
                    uint64_t idx = (ci << CHUNK_SHIFT) | i;
                    hz_pass_range(HZ_DISCARDED, pc, idx, idx);
                }
            }
            lset(c, l, l->f & ~(L_VALID | L_DIRTY | L_STALE | L_PEND |
                                L_SAC | L_POU));
        }
    }
}

static void sweep_complete(unsigned kind, uint64_t pc)
{
    unsigned lv;

    if (kind == 0) {
        /* Clean to PoC: every level swept, inner levels before outer ones
         * (L1 data pushed into L2 after L2 was cleaned is still not at PoC). */
        for (lv = 0; lv < n_levels; lv++) {
            if (!swd[0][lv].valid) {
                return;
            }
            if (lv && swd[0][lv - 1].end_seq > swd[0][lv].start_seq) {
                return;
            }
        }
        sweep_clean_all(swd[0][0].start_ep);
        /* The loader's final clean: with the D-cache on, or after its disable
         * (U-Boot's order), before the window ends (seL4's stock path sweeps
         * again later, which is no part of the patch's promise). */
        if ((cpu.dc_on || pend_active) && !end_seen && loader_pc(pc)) {
            cov_setway[0] = true;
        }
        for (lv = 0; lv < n_levels; lv++) {
            swd[0][lv].valid = false;
        }
    } else {
        uint32_t ep = swd[1][0].start_ep;
        for (lv = 0; lv < n_levels; lv++) {
            if (!swd[1][lv].valid) {
                return;
            }
            if ((int32_t)(swd[1][lv].start_ep - ep) < 0) {
                ep = swd[1][lv].start_ep;
            }
        }
        sweep_invalidate_all(ep, pc);
        if (!cpu.dc_on && !loader_enabled && loader_pc(pc)) {
            cov_setway[1] = true;
        }
        for (lv = 0; lv < n_levels; lv++) {
            swd[1][lv].valid = false;
        }
    }
}

/* The guest walks the sets its CCSIDR_EL1 reports: when it names a set beyond
 * the configured geometry (QEMU's Cortex-A53 reports a 1 MiB L2, 1024 sets),
 * the level takes that many sets, a power of two, for both kinds of sweep.
 * Aliasing them instead would complete a sweep half way through and leave its
 * second half as a sweep of its own that never completes, which an earlier
 * agent's sweep (U-Boot's) would then leave behind for the loader's. */
static void sweep_fit_sets(unsigned lv, uint64_t x)
{
    struct sweep *s0 = &sw[0][lv];
    uint64_t field = s0->way_shift > cfg.line_shift ? s0->way_shift - cfg.line_shift : 0;
    uint64_t raw = field ? (x >> cfg.line_shift) & ((1ULL << field) - 1) : 0;
    unsigned sets = s0->sets, k;

    if (raw < sets) {
        return;
    }
    while (sets <= raw) {
        sets *= 2;
    }
    for (k = 0; k < 2; k++) {
        struct sweep *s = &sw[k][lv];
        g_free(s->bits);
        s->sets = sets;
        s->total = sets * s->ways;
        s->bits = g_new0(uint64_t, (s->total + 63) / 64);
        s->n = 0;
        s->active = false;
    }
}

static void sweep_visit(unsigned kind, uint64_t x, uint64_t pc)
{
    unsigned lv = (x >> 1) & 7, set, way, bit;
    struct sweep *s;

    if (lv >= n_levels) {
        return;
    }
    sweep_fit_sets(lv, x);
    s = &sw[kind][lv];
    set = (unsigned)((x >> cfg.line_shift) % s->sets);
    way = s->way_shift >= 32 ? 0 : (unsigned)((x >> s->way_shift) % s->ways);
    bit = set * s->ways + way;
    if (!s->active) {
        s->active = true;
        s->start_ep = ++g_ep;
        s->start_seq = sw_seq;
        s->n = 0;
        memset(s->bits, 0, ((s->total + 63) / 64) * sizeof(uint64_t));
    }
    if (!(s->bits[bit / 64] & (1ULL << (bit % 64)))) {
        s->bits[bit / 64] |= 1ULL << (bit % 64);
        if (++s->n == s->total) {
            s->active = false;
            swd[kind][lv] = (struct sweep_done){ true, s->start_ep,
                                                 s->start_seq, sw_seq };
            sweep_complete(kind, pc);
        }
    }
}

/* -------------------------------------------------------- instrumentation */

enum ikind {
    IK_MSR,        /* msr <tracked sysreg>, Xt */
    IK_CMO,        /* dc / ic / tlbi */
};

struct iinfo {
    uint64_t pc;
    uint8_t kind, rt, sub, el;     /* sub: RG_* or C_* */
    uint8_t dom;                   /* CMO: 0 local, 1 shareable (maint[]) */
};
static GHashTable *iinfos;       /* dedup by (pc, word) */

static struct iinfo *iinfo_get(uint64_t pc, uint32_t word, uint8_t kind,
                               uint8_t sub, uint8_t el)
{
    uint64_t key = pc * 0x100000001b3ULL ^ word;
    struct iinfo *ii = g_hash_table_lookup(iinfos, &key);

    if (!ii || ii->pc != pc) {
        uint64_t *k = g_new(uint64_t, 1);
        *k = key;
        ii = g_new0(struct iinfo, 1);
        ii->pc = pc;
        g_hash_table_insert(iinfos, k, ii);
    }
    ii->kind = kind;
    ii->rt = word & 31;
    ii->sub = sub;
    ii->el = el;
    return ii;
}

/* msr (register) to a tracked system register: returns RG_* and its EL. */
static bool decode_msr(uint32_t w, unsigned *rg, unsigned *el)
{
    unsigned op1, crn, crm, op2;

    if ((w & 0xfff80000u) != 0xd5180000u) {   /* msr, op0 = 3 */
        return false;
    }
    op1 = (w >> 16) & 7;
    crn = (w >> 12) & 15;
    crm = (w >> 8) & 15;
    op2 = (w >> 5) & 7;
    switch (op1) {
    case 0: *el = 1; break;
    case 4: *el = 2; break;
    case 6: *el = 3; break;
    default: return false;
    }
    if (crn == 1 && crm == 0 && op2 == 0) {
        *rg = RG_SCTLR;
    } else if (crn == 2 && crm == 0 && op2 == 0) {
        *rg = RG_TTBR0;
    } else if (crn == 2 && crm == 0 && op2 == 1 && *el == 1) {
        *rg = RG_TTBR1;
    } else if (crn == 2 && crm == 0 && op2 == 2) {
        *rg = RG_TCR;
    } else if (crn == 10 && crm == 2 && op2 == 0) {
        *rg = RG_MAIR;
    } else if (crn == 12 && crm == 0 && op2 == 0) {
        *rg = RG_VBAR;
    } else {
        return false;
    }
    return true;
}

/* sys instruction that is a cache or TLB maintenance op: returns C_*. */
static bool decode_cmo(uint32_t w, unsigned *op)
{
    unsigned op1, crn, crm, op2;

    if ((w & 0xfff80000u) != 0xd5080000u) {
        return false;
    }
    op1 = (w >> 16) & 7;
    crn = (w >> 12) & 15;
    crm = (w >> 8) & 15;
    op2 = (w >> 5) & 7;
    if (crn == 8) {
        *op = C_TLBI;
        return true;
    }
    if (crn != 7) {
        return false;
    }
#define M(o1, cm, o2) (op1 == (o1) && crm == (cm) && op2 == (o2))
    if (M(0, 6, 1)) *op = C_DC_IVAC;
    else if (M(0, 6, 2)) *op = C_DC_ISW;
    else if (M(0, 10, 2)) *op = C_DC_CSW;
    else if (M(0, 14, 2)) *op = C_DC_CISW;
    else if (M(3, 4, 1)) *op = C_DC_ZVA;
    else if (M(3, 10, 1)) *op = C_DC_CVAC;
    else if (M(3, 11, 1)) *op = C_DC_CVAU;
    else if (M(3, 12, 1)) *op = C_DC_CVAP;
    else if (M(3, 13, 1)) *op = C_DC_CVADP;
    else if (M(3, 14, 1)) *op = C_DC_CIVAC;
    else if (M(0, 1, 0)) *op = C_IC_IALLUIS;
    else if (M(0, 5, 0)) *op = C_IC_IALLU;
    else if (M(3, 5, 1)) *op = C_IC_IVAU;
    else return false;
#undef M
    return true;
}

/* Which maintenance a DSB must cover: 1 (shareable: by VA, broadcast ic and
 * tlbi) or 0 (local: set/way, ic iallu, tlbi without IS/OS). */
static uint8_t cmo_shareable(uint32_t w, unsigned op)
{
    unsigned crm = (w >> 8) & 15, op2 = (w >> 5) & 7;

    switch (op) {
    case C_DC_CSW: case C_DC_CISW: case C_DC_ISW: case C_IC_IALLU:
        return 0;
    case C_TLBI:
        /* CRm 3 IS, 1/5 OS, 0/2 IS range/IPA; 7/6 local; 4: IPA, OS if op2
         * is 0, 3, 4 or 7 (IPAS2E1OS, RIPAS2E1OS, ...). */
        if (crm == 7 || crm == 6) {
            return 0;
        }
        if (crm == 4) {
            return op2 == 0 || op2 == 3 || op2 == 4 || op2 == 7;
        }
        return 1;
    default:
        return 1;
    }
}

/* The regime whose every entry a tlbi drops: vmalle1, alle1, vmalls12e1
 * (EL1&0), alle2, alle3, in their local, IS and OS forms; 0 for the rest
 * (by VA, by ASID, by IPA). */
static uint8_t tlbi_regime(uint32_t w)
{
    unsigned op1 = (w >> 16) & 7, crm = (w >> 8) & 15, op2 = (w >> 5) & 7;

    if (crm != 7 && crm != 3 && crm != 1) {
        return 0;
    }
    if (op1 == 0 && op2 == 0) {
        return 1;
    }
    if (op1 == 4 && (op2 == 4 || op2 == 6)) {
        return 1;
    }
    if (op1 == 4 && op2 == 0) {
        return 2;
    }
    if (op1 == 6 && op2 == 0) {
        return 3;
    }
    return 0;
}

/* dsb <option>: *lvl 0 (loads only: completes no maintenance), 1 (NSH:
 * local maintenance), 2 (ISH, OSH, SY: all). False if not a DSB. */
static bool decode_dsb(uint32_t w, unsigned *lvl)
{
    unsigned crm = (w >> 8) & 15, dom = crm >> 2, types = crm & 3;

    if ((w & 0xfffff0ffu) != 0xd503309fu || types == 0) {
        return false;                         /* not a DSB (ssbb, pssbb) */
    }
    *lvl = types == 1 ? 0 : dom == 1 ? 1 : 2;
    return true;
}

static bool changes_el(uint32_t w)
{
    if (w == 0xd69f03e0u || w == 0xd69f0bffu || w == 0xd69f0fffu) {
        return true;                          /* eret, eretaa, eretab */
    }
    return (w & 0xffe0001cu) == 0xd4000000u && (w & 3) != 0;   /* svc/hvc/smc */
}

/* ----------------------------------------------------------- report */

static void json_ranges(GString *s, struct hazard *h, uint64_t *lines)
{
    guint i, n;
    const guint cap = 4096;

    hz_compact(h);
    *lines = 0;
    n = h->ranges->len;
    g_string_append(s, "[");
    for (i = 0; i < n; i++) {
        struct range *r = &g_array_index(h->ranges, struct range, i);
        *lines += (r->e - r->s) >> cfg.line_shift;
        if (i < cap) {
            g_string_append_printf(s, "%s[%" PRIu64 ", %" PRIu64 "]",
                                   i ? ", " : "", r->s, r->e);
        }
    }
    g_string_append(s, "]");
}

static gint hz_cmp(gconstpointer a, gconstpointer b)
{
    const struct hazard *x = *(struct hazard *const *)a;
    const struct hazard *y = *(struct hazard *const *)b;
    if (x->kind != y->kind) {
        return x->kind < y->kind ? -1 : 1;
    }
    return x->pc < y->pc ? -1 : x->pc > y->pc ? 1 : 0;
}

static void json_sizes(GString *s, const uint64_t v[5])
{
    g_string_append_printf(s, "{\"1\": %" PRIu64 ", \"2\": %" PRIu64
                           ", \"4\": %" PRIu64 ", \"8\": %" PRIu64
                           ", \"16\": %" PRIu64 "}", v[0], v[1], v[2], v[3],
                           v[4]);
}

/* "by_target": {"dest": {"loads": {"cacheable": {...}, "uncached": {...}},
 * "stores": {...}, "ranges": [[s, e], ...]}, ...}: the window's accesses by
 * where they went, so a report shows why an unpack is slow. */
static void json_targets(GString *s)
{
    unsigned t, st, i;

    for (t = 0; t < T_N; t++) {
        g_string_append_printf(s, "%s\n      \"%s\": {", t ? "," : "",
                               tg_names[t]);
        for (st = 0; st < 2; st++) {
            g_string_append_printf(s, "\"%s\": {\"cacheable\": ",
                                   st ? "stores" : "loads");
            json_sizes(s, cnt_tg[t][st][1]);
            g_string_append(s, ", \"uncached\": ");
            json_sizes(s, cnt_tg[t][st][0]);
            g_string_append(s, "}, ");
        }
        for (st = 0; st < 2; st++) {
            unsigned a;

            g_string_append_printf(s, "\"%s_by_attr\": {",
                                   st ? "stores" : "loads");
            for (a = 0; a < A_N; a++) {
                g_string_append_printf(s, "%s\"%s\": %" PRIu64, a ? ", " : "",
                                       attr_names[a], cnt_attr[t][st][a]);
            }
            g_string_append(s, "}, ");
        }
        g_string_append(s, "\"ranges\": [");
        for (i = 0; t < T_OTHER && i < cfg.n_rg[t]; i++) {
            g_string_append_printf(s, "%s[%" PRIu64 ", %" PRIu64 "]",
                                   i ? ", " : "", cfg.rg[t][i].s,
                                   cfg.rg[t][i].e);
        }
        g_string_append(s, "]}");
    }
}

static void write_report(bool complete)
{
    GString *s = g_string_new("");
    GPtrArray *hs = g_ptr_array_new();
    GHashTableIter it;
    gpointer k;
    guint i;
    unsigned c;

    g_hash_table_iter_init(&it, hazards);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        g_ptr_array_add(hs, k);
    }
    g_ptr_array_sort(hs, hz_cmp);

    g_string_append_printf(s, "{\n  \"version\": 1,\n  \"line_size\": %u,\n",
                           1u << cfg.line_shift);
    g_string_append_printf(s, "  \"complete\": %s,\n  \"handoff_seen\": %s,\n",
                           complete ? "true" : "false",
                           handoff_seen ? "true" : "false");
    if (handoff_seen) {
        g_string_append_printf(s, "  \"sctlr_at_handoff\": \"0x%" PRIx64 "\",\n"
                               "  \"el_at_handoff\": %d,\n", sctlr_at_handoff,
                               el_at_handoff);
    } else {
        g_string_append(s, "  \"sctlr_at_handoff\": null,\n"
                        "  \"el_at_handoff\": null,\n");
    }
    g_string_append_printf(s, "  \"vcpus\": %d,\n  \"ram\": [%" PRIu64 ", %"
                           PRIu64 "],\n", n_vcpus, cfg.ram_base,
                           cfg.ram_base + cfg.ram_size);
    g_string_append_printf(s, "  \"start\": \"%s\",\n  \"warm\": [",
                           cfg.n_warm ? "warm" : "cold");
    for (i = 0; i < cfg.n_warm; i++) {
        g_string_append_printf(s, "%s[%" PRIu64 ", %" PRIu64 "]", i ? ", " : "",
                               cfg.warm[i].s, cfg.warm[i].e);
    }
    g_string_append(s, "],\n  \"iwarm\": [");
    for (i = 0; i < cfg.n_iwarm; i++) {
        g_string_append_printf(s, "%s[%" PRIu64 ", %" PRIu64 "]", i ? ", " : "",
                               cfg.iwarm[i].s, cfg.iwarm[i].e);
    }
    g_string_append(s, "],\n  \"maintained\": {");
    for (c = 0; c < 2; c++) {
        struct hazard tmp = { .ranges = cov[c] };

        hz_compact(&tmp);
        g_string_append_printf(s, "%s\"%s\": [", c ? ", " : "",
                               c ? "invalidate" : "clean");
        for (i = 0; i < cov[c]->len; i++) {
            struct range *r = &g_array_index(cov[c], struct range, i);
            g_string_append_printf(s, "%s[%" PRIu64 ", %" PRIu64 "]",
                                   i ? ", " : "", r->s, r->e);
        }
        g_string_append_printf(s, "], \"setway_%s\": %s",
                               c ? "invalidate" : "clean",
                               cov_setway[c] ? "true" : "false");
    }
    g_string_append(s, "},\n  \"hazards\": [");
    for (i = 0; i < hs->len; i++) {
        struct hazard *h = g_ptr_array_index(hs, i);
        uint64_t lines;

        g_string_append_printf(s, "%s\n    {\"kind\": \"%s\", \"pc\": \"0x%"
                               PRIx64 "\", \"count\": %" PRIu64
                               ", \"ranges\": ", i ? "," : "",
                               hz_names[h->kind], h->pc, h->count);
        json_ranges(s, h, &lines);
        g_string_append_printf(s, ", \"lines\": %" PRIu64, lines);
        if (h->ranges->len > 4096) {
            g_string_append(s, ", \"ranges_truncated\": true");
        }
        if (h->has_state) {
            g_string_append_printf(s, ", \"sctlr\": \"0x%" PRIx64
                                   "\", \"el\": %d", h->sctlr, h->el);
        }
        if (h->has_va) {
            g_string_append_printf(s, ", \"va\": \"0x%" PRIx64 "\"", h->va);
        }
        if (h->detail) {
            g_string_append_printf(s, ", \"detail\": \"%s\"", h->detail);
        }
        if (!cfg.ranges_only) {
            guint j, n = 0;
            g_string_append(s, ", \"line_addrs\": [");
            for (j = 0; j < h->ranges->len && n < 4096; j++) {
                struct range *r = &g_array_index(h->ranges, struct range, j);
                uint64_t a;
                for (a = r->s; a < r->e && n < 4096; a += 1u << cfg.line_shift) {
                    g_string_append_printf(s, "%s\"0x%" PRIx64 "\"",
                                           n++ ? ", " : "", a);
                }
            }
            g_string_append(s, "]");
        }
        g_string_append(s, "}");
    }
    g_string_append(s, hs->len ? "\n  ],\n" : "],\n");

    g_string_append_printf(s, "  \"counts\": {\n    \"insns\": %" PRIu64
                           ",\n    \"ifetch_cacheable\": %" PRIu64
                           ",\n    \"ifetch_uncached\": %" PRIu64 ",\n",
                           fetch_acc[0] + fetch_acc[1], fetch_acc[1],
                           fetch_acc[0]);
    g_string_append(s, "    \"loads\": {\"cacheable\": ");
    json_sizes(s, cnt_ld[1]);
    g_string_append(s, ", \"uncached\": ");
    json_sizes(s, cnt_ld[0]);
    g_string_append(s, "},\n    \"stores\": {\"cacheable\": ");
    json_sizes(s, cnt_st[1]);
    g_string_append(s, ", \"uncached\": ");
    json_sizes(s, cnt_st[0]);
    g_string_append(s, "},\n    \"cmo\": {");
    for (c = 0; c < C_N; c++) {
        g_string_append_printf(s, "%s\"%s\": %" PRIu64, c ? ", " : "",
                               cmo_names[c], cnt_cmo[c]);
    }
    g_string_append_printf(s, "},\n    \"walks_failed\": %" PRIu64,
                           n_walks_failed);
    g_string_append(s, ",\n    \"by_target\": {");
    json_targets(s);
    g_string_append(s, "}\n  },\n");
    g_string_append_printf(s, "  \"expect_handoff\": \"%s\",\n",
                           cfg.expect_mmu_off ? "mmu-off"
                           : cfg.expect_sel4 ? "sel4" : "any");
    g_string_append_printf(s, "  \"window\": {\"begin_seen\": %s, "
                           "\"begin_hit\": %" PRIu64 ", \"end_seen\": %s, "
                           "\"end_pcs\": [", begin_seen ? "true" : "false",
                           cfg.begin_hit, end_seen ? "true" : "false");
    for (c = 0; c < cfg.n_end; c++) {
        g_string_append_printf(s, "%s\"0x%" PRIx64 "\"", c ? ", " : "",
                               cfg.end_pcs[c]);
    }
    g_string_append(s, "], \"begin_pc\": ");
    if (cfg.have_begin) {
        g_string_append_printf(s, "\"0x%" PRIx64 "\"", cfg.begin_pc);
    } else {
        g_string_append(s, "null");
    }
    g_string_append(s, ", \"handoff_pc\": ");
    if (cfg.have_handoff) {
        g_string_append_printf(s, "\"0x%" PRIx64 "\"", cfg.handoff_pc);
    } else {
        g_string_append(s, "null");
    }
    g_string_append_printf(s, "},\n  \"geometry\": {\"l1\": [%" PRIu64 ", %u], "
                           "\"l2\": [%" PRIu64 ", %u]},\n",
                           cfg.l1_size, cfg.l1_ways, cfg.l2_size, cfg.l2_ways);
    g_string_append_printf(s, "  \"api\": {\"version\": %d, "
                           "\"read_memory_hwaddr\": false}\n}\n",
                           QEMU_PLUGIN_VERSION);

    if (cfg.out) {
        char *tmp = g_strdup_printf("%s.tmp", cfg.out);
        FILE *f = fopen(tmp, "w");
        if (f && fwrite(s->str, 1, s->len, f) == s->len && fclose(f) == 0) {
            if (rename(tmp, cfg.out) != 0) {
                qemu_plugin_outs("cachemodel: cannot rename report\n");
            }
        } else {
            if (f) {
                fclose(f);
            }
            qemu_plugin_outs("cachemodel: cannot write report\n");
        }
        g_free(tmp);
    } else {
        qemu_plugin_outs(s->str);
    }
    g_ptr_array_free(hs, TRUE);
    g_string_free(s, TRUE);
}

/* -------------------------------------------------------------- callbacks */

static void el_refresh_cb(unsigned int vcpu, void *udata)
{
    uint64_t cpsr;
    int el;
    bool ok, first = !cpu.started;

    if (vcpu != 0) {
        return;
    }
    /* After eret/svc/hvc/smc or at an exception vector: context synchronized. */
    unsync.mask = 0;
    tlb_unsync.on = false;
    qemu_plugin_u64_set(SB_ELDIRTY, 0, 0);
    if (first) {
        started();          /* initial register values, line size */
        set_geometry();
    }
    cpsr = read_reg(reg_cpsr, &ok);
    el = ok ? (int)((cpsr >> 2) & 3) : 1;
    if (first || el != cpu.el) {
        cpu.el = el;
        regime_update((uint64_t)(uintptr_t)udata);
    }
}

/* Barrier rules at a write to a register of the current regime: the MMU and
 * caches change only with maintenance completed; the MMU goes on only with
 * earlier TTBR/TCR/MAIR writes synchronised; the write itself now waits for
 * its context synchronization event. */
static void sync_before_msr(const struct iinfo *ii, uint64_t v)
{
    const uint64_t mci = (1u << 0) | (1u << 2) | (1u << 12);

    if (ii->sub == RG_SCTLR) {
        uint64_t old = cpu.sctlr[ii->el];
        char what[48];

        if ((old ^ v) & mci) {
            snprintf(what, sizeof(what), "SCTLR_EL%u changed M/C/I", ii->el);
            maint_required(what, ii->pc);
        }
        if (!(old & 1) && (v & 1) && (unsync.mask & U_XLAT)) {
            snprintf(what, sizeof(what), "SCTLR_EL%u turned the MMU on", ii->el);
            unsync_hit(what, ii->pc);
        }
    }
    if (!unsync.mask) {
        unsync.pc = ii->pc;
        unsync.rg = ii->sub;
        unsync.el = ii->el;
    }
    unsync.mask |= ii->sub == RG_SCTLR ? U_SCTLR : U_XLAT;
}

static void msr_cb(unsigned int vcpu, void *udata)
{
    struct iinfo *ii = udata;
    uint64_t v;

    if (vcpu != 0) {
        return;
    }
    v = read_x(ii->rt);
    if (ii->el == regime_el() && ii->sub != RG_VBAR) {
        sync_before_msr(ii, v);
    }
    if (ii->sub != RG_MAIR && ii->sub != RG_VBAR) {
        tlb_at_msr(ii->sub, ii->el, v, ii->pc);
    }
    switch (ii->sub) {
    case RG_SCTLR: cpu.sctlr[ii->el] = v; break;
    case RG_TTBR0: cpu.ttbr0[ii->el] = v; break;
    case RG_TTBR1: cpu.ttbr1[ii->el] = v; break;
    case RG_TCR: cpu.tcr[ii->el] = v; break;
    case RG_MAIR: cpu.mair[ii->el] = v; break;
    case RG_VBAR: cpu.vbar[ii->el] = v; cpu.vbar_known[ii->el] = true; break;
    }
    if (ii->el == regime_el()) {
        if (ii->sub == RG_SCTLR) {
            regime_update(ii->pc);
        } else {
            xlat_flush();
            memo_reset();
        }
    }
}

/* Translate a VA operand of a maintenance instruction to a line index;
 * false if it is not in RAM. */
static bool op_line(uint64_t va, uint64_t *idx, uint64_t pc)
{
    uint64_t pa;

    walk_pc = pc;
    if (xlat(va, &pa) == X_UNKNOWN && cpu.m_on) {
        walk_failed(pc, va, 0, false);         /* never guess the line */
        return false;
    }
    if (!pa_in_ram(pa)) {
        return false;
    }
    *idx = line_of(pa);
    return true;
}

static void cov_add(unsigned k, uint64_t idx)
{
    uint64_t s = line_pa(idx), e = line_pa(idx + 1);
    struct hazard tmp = { .ranges = cov[k], .compact_at = cov_compact_at[k] };

    hz_add_range(&tmp, s, e);
    cov_compact_at[k] = tmp.compact_at;
}

/* Record a by-VA op of the loader's in the coverage it promises. */
static void cov_note(unsigned op, uint64_t idx, uint64_t pc)
{
    bool clean = op == C_DC_CVAC || op == C_DC_CVAP || op == C_DC_CVADP ||
                 op == C_DC_CIVAC;
    bool inval = op == C_DC_IVAC || op == C_DC_CIVAC;

    if (!loader_pc(pc)) {
        return;
    }
    if (clean && !end_seen) {
        cov_add(0, idx);       /* DC by VA cleans whatever SCTLR.C says */
    }
    if (inval && !cpu.dc_on && !loader_enabled) {
        cov_add(1, idx);
    }
}

static void cmo_cb(unsigned int vcpu, void *udata)
{
    struct iinfo *ii = udata;
    uint64_t x, idx, ci;
    struct chunk *c;
    unsigned i;

    if (vcpu != 0 || handoff_seen) {
        return;
    }
    if (win_active) {
        cnt_cmo[ii->sub]++;
    }
    unsync_check(cmo_names[ii->sub], ii->pc);
    if (store_unfenced && (ii->sub == C_DC_CSW || ii->sub == C_DC_CISW ||
                           ii->sub == C_DC_ISW)) {
        struct hazard *h = hz_get(HZ_SW_UNORDERED, ii->pc);
        h->count++;
        hz_detail(h, g_strdup_printf("store at pc=0x%" PRIx64 " not ordered by a dsb or dmb "
                                     "before %s (pc=0x%" PRIx64 ")", store_unfenced_pc,
                                     cmo_names[ii->sub], ii->pc));
        store_unfenced = false;
    }
    if (ii->sub == C_IC_IALLU || ii->sub == C_IC_IALLUIS || ii->sub == C_IC_IVAU) {
        ic_after_clean(ii->sub, ii->pc);
    }
    if (ii->sub != C_DC_ZVA) {
        maint_issue(ii->dom, ii->pc, ii->sub);
    }
    memo_reset();
    switch (ii->sub) {
    case C_TLBI:
        xlat_flush();
        tlbi_issue(ii->el, ii->dom, ii->pc);
        return;
    case C_IC_IALLU:
    case C_IC_IALLUIS:
        /* As ic ivau, for every line: the I-side refills from PoU, so a line
         * written through the D-cache and not yet cleaned there stays stale. */
        if (g_ivalid) {
            for (ci = 0; ci < dir_len; ci++) {
                if ((c = dir[ci]) != NULL) {
                    for (i = 0; i < CHUNK_LINES; i++) {
                        ivalid_drop(&c->l[i]);
                    }
                }
            }
        }
        if (!g_istale) {
            return;
        }
        FOR_EACH_FLAGGED(ci, c, i, n_istale, L_ISTALE) {
            uint8_t f = c->l[i].f;
            if (!(f & L_DIRTY) || (f & L_POU)) {
                lset(c, &c->l[i], f & ~L_ISTALE);
            }
        }
        return;
    case C_DC_CSW:
    case C_DC_ISW:
    case C_DC_CISW:
        x = read_x(ii->rt);
        sw_seq++;
        if (ii->sub != C_DC_ISW) {
            sweep_visit(0, x, ii->pc);
        }
        if (ii->sub != C_DC_CSW) {
            sweep_visit(1, x, ii->pc);
        }
        return;
    default:
        break;
    }
    x = read_x(ii->rt);
    if (ii->sub == C_DC_ZVA) {
        /* Zeroes a DCZID block (64 bytes on Cortex-A53) like a store. */
        uint64_t pa, first, last, l;
        int cls;
        bool cacheable;

        walk_pc = ii->pc;
        cls = xlat(x & ~63ULL, &pa);
        if (cls == X_UNKNOWN && cpu.m_on) {
            walk_failed(ii->pc, x, 0, false);
            return;
        }
        cacheable = cpu.dc_on && cls != X_DEV && cls != X_NC;
        if (!pa_in_ram(pa)) {
            return;
        }
        first = line_of(pa);
        last = line_of(pa + 63);
        for (l = first; l <= last; l++) {
            if (cacheable) {
                store_cacheable(l, ii->pc, cls == X_WT);
            } else if (g_valid || g_ivalid) {
                store_uncached(l);
            }
        }
        return;
    }
    if (!op_line(x, &idx, ii->pc)) {
        return;
    }
    cov_note(ii->sub, idx, ii->pc);
    switch (ii->sub) {
    case C_DC_CVAC:
    case C_DC_CVAP:
    case C_DC_CVADP:
        line_clean(idx);
        break;
    case C_DC_CIVAC:
        line_clean(idx);
        line_invalidate(idx, ii->pc, false);
        break;
    case C_DC_IVAC:
        line_invalidate(idx, ii->pc, true);
        break;
    case C_DC_CVAU: {
        struct chunk *c = chunk_get(idx);
        if (c) {
            struct line *l = &c->l[idx & (CHUNK_LINES - 1)];
            lset(c, l, l->f | L_POU);
        }
        break;
    }
    case C_IC_IVAU: {
        struct chunk *c = chunk_get(idx);
        if (c) {
            struct line *l = &c->l[idx & (CHUNK_LINES - 1)];
            ivalid_drop(l);
            if (!(l->f & L_DIRTY) || (l->f & L_POU)) {
                lset(c, l, l->f & ~L_ISTALE);
            }
        }
        break;
    }
    }
}

static inline bool in_rg(unsigned t, uint64_t pa)
{
    unsigned i;

    for (i = 0; i < cfg.n_rg[t]; i++) {
        if (pa - cfg.rg[t][i].s < cfg.rg[t][i].e - cfg.rg[t][i].s) {
            return true;
        }
    }
    return false;
}

/* Target class of a physical address, most specific first (the archive and
 * the stack lie inside the loader's image). */
static unsigned target_of(uint64_t pa, bool ram)
{
    if (in_rg(T_SOURCE, pa)) {
        return T_SOURCE;
    }
    if (in_rg(T_STACK, pa)) {
        return T_STACK;
    }
    if (in_rg(T_LOADER, pa)) {
        return T_LOADER;
    }
    if (!ram) {
        return T_OTHER;
    }
    if (!cfg.n_rg[T_DEST] || in_rg(T_DEST, pa)) {
        return T_DEST;
    }
    return T_OTHER;
}

static void mem_cb(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t va,
                   void *udata)
{
    unsigned sh, st, attr = A_MMU_OFF;
    uint64_t pa, first, last, l;
    bool ram, cacheable = false, wt = false, modeled = true;

    if (vcpu != 0 || handoff_seen) {
        return;
    }
    sh = qemu_plugin_mem_size_shift(info);
    st = qemu_plugin_mem_is_store(info) ? 1 : 0;
    if (st) {
        store_unfenced = true;
        store_unfenced_pc = (uint64_t)(uintptr_t)udata;
    }
    if (sh > 4) {
        sh = 4;
    }
    if (unsync.mask) {
        unsync_check("a memory access", (uint64_t)(uintptr_t)udata);
    }
    if (cpu.m_on) {
        uint64_t xpa;
        int cls;
        bool io = false;

        walk_pc = (uint64_t)(uintptr_t)udata;
        cls = xlat(va, &xpa);
        attr = cls == X_UNKNOWN ? A_UNKNOWN : !cpu.dc_on ? A_DC_OFF
               : cls == X_WB ? A_WB : cls == X_WT ? A_WT
               : cls == X_NC ? A_NC : A_DEV;
        if (cls == X_UNKNOWN) {
            /* The model could not walk: report it, count the access as
             * uncached and leave the line state alone (never guess WB). */
            struct qemu_plugin_hwaddr *h = qemu_plugin_get_hwaddr(info, va);

            io = h ? qemu_plugin_hwaddr_is_io(h) : false;
            pa = h ? qemu_plugin_hwaddr_phys_addr(h) : va;
            walk_failed((uint64_t)(uintptr_t)udata, va, pa, h != NULL);
            ram = !io && pa_in_ram(pa);
            modeled = false;
        } else if (pa_in_ram(xpa)) {
            /* Fast path: our own cached walk says DRAM (never MMIO). */
            pa = xpa;
            ram = true;
        } else {
            struct qemu_plugin_hwaddr *h = qemu_plugin_get_hwaddr(info, va);

            io = h ? qemu_plugin_hwaddr_is_io(h) : false;
            pa = h ? qemu_plugin_hwaddr_phys_addr(h) : xpa;
            ram = !io && pa_in_ram(pa);
        }
        if (!ram) {
            /* Only MMIO is a device: ROM and flash in read-array mode are
             * memory (U-Boot maps its flash Normal on purpose). */
            if (io && (cls == X_WB || cls == X_WT || cls == X_NC)) {
                uint64_t ls = pa & ~((1ULL << cfg.line_shift) - 1);
                struct hazard *hz = hz_get(HZ_DEVICE_NORMAL,
                                           (uint64_t)(uintptr_t)udata);
                hz->count++;
                hz_add_range(hz, ls, ls + (1ULL << cfg.line_shift));
            }
        } else if (cpu.dc_on && (cls == X_WB || cls == X_WT)) {
            cacheable = true;
            wt = cls == X_WT;
        }
    } else {
        pa = va;
        ram = pa_in_ram(pa);
    }
    if (win_active) {
        unsigned t = target_of(pa, ram);

        (st ? cnt_st : cnt_ld)[cacheable][sh]++;
        cnt_tg[t][st][cacheable][sh]++;
        cnt_attr[t][st][attr]++;
    }
    if (!ram || !dir || !modeled) {
        return;
    }
    if (!cacheable && !(st && (g_valid || g_ivalid))) {
        return;
    }
    first = line_of(pa);
    if (first == memo[st][cacheable]) {
        return;
    }
    last = line_of(pa + (1u << sh) - 1);
    if (last >= n_lines_ram) {
        last = n_lines_ram - 1;
    }
    for (l = first; l <= last; l++) {
        if (!cacheable) {
            store_uncached(l);
        } else if (st) {
            store_cacheable(l, (uint64_t)(uintptr_t)udata, wt);
        } else {
            load_cacheable(l, (uint64_t)(uintptr_t)udata);
        }
    }
    memo[st][cacheable] = first == last ? first : UINT64_MAX;
}

struct tbinfo {
    uint64_t va, pa;
    uint32_t len;
    uint32_t gen;                 /* xgen of cls below (0: not looked up yet) */
    uint8_t cls;                  /* the block's mapping class */
};
static GHashTable *tbinfos;

static guint tbi_hash(gconstpointer p)
{
    const struct tbinfo *t = p;
    return g_int64_hash(&t->va) ^ g_int64_hash(&t->pa) ^ t->len;
}

static gboolean tbi_equal(gconstpointer a, gconstpointer b)
{
    const struct tbinfo *x = a, *y = b;
    return x->va == y->va && x->pa == y->pa && x->len == y->len;
}

static void ifetch_check_cb(unsigned int vcpu, void *udata)
{
    const struct tbinfo *t = udata;
    uint64_t first, last, l;

    if (vcpu != 0 || handoff_seen || !cpu.ic_on || !pa_in_ram(t->pa)) {
        return;
    }
    first = line_of(t->pa);
    last = line_of(t->pa + t->len - 1);
    for (l = first; l <= last && l < n_lines_ram; l++) {
        struct chunk *c = chunk_get(l);
        struct line *ln;
        if (!c) {
            continue;
        }
        ln = &c->l[l & (CHUNK_LINES - 1)];
        if ((ln->f & (L_ISTALE | L_CODE)) == (L_ISTALE | L_CODE)) {
            uint64_t off = line_pa(l) > t->pa ? line_pa(l) - t->pa : 0;
            hz_event(HZ_STALE_ICACHE, t->va + off, l, l);
            /* Report once per translation: stop watching the line. */
            lset(c, ln, ln->f & ~L_CODE);
        }
    }
}

/* MMU and I-cache on: a fetch takes the cacheability of the block's mapping
 * (Normal WB/WT cacheable; Non-cacheable, Device or a failed walk not). The
 * inline counter gives exact counts: credit up to here, then switch. */
static void fetch_class_cb(unsigned int vcpu, void *udata)
{
    struct tbinfo *t = udata;
    bool c;

    if (vcpu != 0 || !cpu.m_on || !cpu.ic_on) {
        return;
    }
    if (t->gen != xgen) {
        uint64_t pa;

        walk_pc = t->va;
        t->cls = (uint8_t)xlat(t->va, &pa);
        t->gen = xgen;
        if (t->cls == X_UNKNOWN) {
            walk_failed(t->va, t->va, 0, false);
        }
    }
    c = t->cls == X_WB || t->cls == X_WT;
    if (c != fetch_c) {
        attribute_fetches();
        fetch_c = c;
    }
}

static void begin_cb(unsigned int vcpu, void *udata G_GNUC_UNUSED)
{
    if (vcpu != 0 || begin_seen || handoff_seen) {
        return;
    }
    if (++begin_hits < cfg.begin_hit) {
        return;
    }
    begin_seen = true;
    ins_last = qemu_plugin_u64_get(SB_INSNS, 0);
    win_active = true;
}

/* The window can end before the hand-off: seL4's unpack window (the seed's)
 * ends where the loader enables the MMU, not at the kernel entry. */
static void end_cb(unsigned int vcpu, void *udata)
{
    if (vcpu != 0 || !begin_seen || end_seen || handoff_seen) {
        return;
    }
    attribute_fetches();
    win_active = false;
    paused = false;
    end_seen = true;
    /* The window ends where seL4's stock path enables its own MMU: it must
     * find the MMU off, as the loader was entered (arm_enable_mmu rewrites
     * the translation registers, which is only safe with the MMU off). */
    if (cfg.expect_sel4 && cpu.m_on) {
        struct hazard *h = hz_get(HZ_HANDOFF_STATE, (uint64_t)(uintptr_t)udata);
        h->count++;
        h->has_state = true;
        h->sctlr = cpu.sctlr[regime_el()];
        h->el = (int)cpu.el;
    }
    close_clean("the window's end, where the stock boot path starts",
                (uint64_t)(uintptr_t)udata);
}

/* The loader's self-report (CRCs of what landed) is verification, not unpack:
 * it is left out of the counts between pause_pc and resume_pc. Hazards are
 * still tracked there. */
static void pause_cb(unsigned int vcpu, void *udata G_GNUC_UNUSED)
{
    if (vcpu != 0 || !win_active) {
        return;
    }
    attribute_fetches();
    win_active = false;
    paused = true;
}

static void resume_cb(unsigned int vcpu, void *udata G_GNUC_UNUSED)
{
    if (vcpu != 0 || !paused || handoff_seen || end_seen) {
        return;
    }
    paused = false;
    ins_last = qemu_plugin_u64_get(SB_INSNS, 0);
    win_active = true;
}

/* The hand-off state against the contract: mmu-off wants M, C and I clear;
 * sel4 wants M and C set (its kernel runs at a virtual address, cached) and,
 * when given, the EL the kernel expects. */
static bool handoff_state_wrong(void)
{
    const uint64_t m = 1u << 0, c = 1u << 2, i = 1u << 12;

    if (cfg.expect_mmu_off) {
        return (sctlr_at_handoff & (m | c | i)) != 0;
    }
    if (cfg.expect_sel4) {
        return (sctlr_at_handoff & (m | c)) != (m | c) ||
               (cfg.handoff_el >= 0 && el_at_handoff != cfg.handoff_el);
    }
    return false;
}

/* The kernel is entered with the D-cache on (seL4's contract): it reads
 * memory through the cache, so a stale copy of any line is what it gets. */
static void judge_stale_at_handoff(uint64_t pc)
{
    uint64_t ci;
    struct chunk *c;
    unsigned i;

    if (!g_valid) {
        return;
    }
    pass_id++;
    FOR_EACH_FLAGGED(ci, c, i, n_valid, L_STALE) {
        hz_pass_range(HZ_STALE_HANDOFF, pc, (ci << CHUNK_SHIFT) | i,
                      (ci << CHUNK_SHIFT) | i);
    }
}

static void handoff_cb(unsigned int vcpu, void *udata G_GNUC_UNUSED)
{
    uint64_t pc = cfg.handoff_pc, cpsr, ci;
    bool ok;

    /* The hand-off comes after the window opened: firmware may execute at the
     * kernel's entry address first (QEMU's boot stub sits at the base of RAM). */
    if (vcpu != 0 || handoff_seen || (cfg.have_begin && !begin_seen)) {
        return;
    }
    attribute_fetches();
    win_active = false;
    cpsr = read_reg(reg_cpsr, &ok);
    el_at_handoff = ok ? (int)((cpsr >> 2) & 3) : cpu.el;
    sctlr_at_handoff = cpu.sctlr[el_at_handoff <= 1 ? 1 : el_at_handoff];
    close_clean("the hand-off", pc);
    if (cpu.dc_on) {
        judge_stale_at_handoff(pc);
    }

    if (cpu.dc_on) {
        /* seL4's contract keeps the caches on across the hand-off: its dirty
         * lines stay coherent for the kernel, which runs cached too. */
        if (g_dirty && !cfg.expect_sel4) {
            classify_dirty(0, HZ_DIRTY_HANDOFF, pc, false);
        }
    } else {
        flush_pending();
    }
    if (g_istale) {
        /* Dirty lines were reported by the D-side (dirty at a disable or at
         * the hand-off) unless seL4's contract keeps them coherent. */
        bool skip_dirty = !(cpu.dc_on && cfg.expect_sel4);
        struct chunk *c;
        unsigned i;

        pass_id++;
        FOR_EACH_FLAGGED(ci, c, i, n_istale, L_ISTALE) {
            uint64_t idx = (ci << CHUNK_SHIFT) | i;
            if (!(skip_dirty && (c->l[i].f & L_DIRTY))) {
                hz_pass_range(HZ_STALE_ICACHE, pc, idx, idx);
            }
        }
    }
    if (handoff_state_wrong()) {
        struct hazard *h = hz_get(HZ_HANDOFF_STATE, pc);
        h->count++;
        h->has_state = true;
        h->sctlr = sctlr_at_handoff;
        h->el = el_at_handoff;
    }
    handoff_seen = true;
    write_report(true);
}

static bool in_vectors(uint64_t va)
{
    unsigned el;

    for (el = 1; el <= 3; el++) {
        /* VBAR 0 is the reset value, not a vector table yet. */
        if (cpu.vbar_known[el] && cpu.vbar[el] &&
            va - (cpu.vbar[el] & ~0x7ffULL) < 0x800) {
            return true;
        }
    }
    return false;
}

static void tb_trans(qemu_plugin_id_t id G_GNUC_UNUSED, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb), i;
    uint64_t tb_va = qemu_plugin_tb_vaddr(tb), pa, len;
    struct qemu_plugin_insn *last;
    struct tbinfo key, *t;

    /* Exception level refresh at block start, when an eret/svc/hvc/smc has
     * run (conditional) or unconditionally at an exception vector. */
    if (in_vectors(tb_va)) {
        qemu_plugin_register_vcpu_tb_exec_cb(tb, el_refresh_cb,
                                             QEMU_PLUGIN_CB_R_REGS,
                                             (void *)(uintptr_t)tb_va);
    } else {
        qemu_plugin_register_vcpu_tb_exec_cond_cb(tb, el_refresh_cb,
                                                  QEMU_PLUGIN_CB_R_REGS,
                                                  QEMU_PLUGIN_COND_NE,
                                                  SB_ELDIRTY, 0,
                                                  (void *)(uintptr_t)tb_va);
    }

    /* Stale I-cache watch on the block's lines. */
    last = qemu_plugin_tb_get_insn(tb, n - 1);
    len = qemu_plugin_insn_vaddr(last) + qemu_plugin_insn_size(last) - tb_va;
    if (cpu.started) {
        walk_pc = tb_va;
        xlat(tb_va, &pa);
    } else {
        pa = tb_va;
    }
    key = (struct tbinfo){ tb_va, pa, (uint32_t)len, 0, 0 };
    t = g_hash_table_lookup(tbinfos, &key);
    if (!t) {
        t = g_memdup2(&key, sizeof(key));
        g_hash_table_add(tbinfos, t);
    }
    if (dir && pa_in_ram(pa) && !handoff_seen) {
        uint64_t l, first = line_of(pa), lastl = line_of(pa + len - 1);
        for (l = first; l <= lastl && l < n_lines_ram; l++) {
            struct chunk *c = chunk_alloc(l);
            struct line *ln = &c->l[l & (CHUNK_LINES - 1)];
            lset(c, ln, ln->f | L_CODE);
        }
    }
    qemu_plugin_register_vcpu_tb_exec_cond_cb(tb, ifetch_check_cb,
                                              QEMU_PLUGIN_CB_NO_REGS,
                                              QEMU_PLUGIN_COND_NE, SB_ICHECK,
                                              0, t);
    qemu_plugin_register_vcpu_tb_exec_cond_cb(tb, fetch_class_cb,
                                              QEMU_PLUGIN_CB_NO_REGS,
                                              QEMU_PLUGIN_COND_NE, SB_FCHECK,
                                              0, t);

    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t va = qemu_plugin_insn_vaddr(insn);
        uint32_t w = 0;
        unsigned rg, el, op, lvl;

        qemu_plugin_insn_data(insn, &w, sizeof(w));
        /* Window callbacks before the counter: the begin instruction counts
         * inside the window, the handoff (kernel) instruction does not. */
        if (cfg.have_begin && va == cfg.begin_pc) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, begin_cb,
                                                   QEMU_PLUGIN_CB_NO_REGS,
                                                   NULL);
        }
        if (cfg.have_pause && va == cfg.pause_pc) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, pause_cb,
                                                   QEMU_PLUGIN_CB_NO_REGS,
                                                   NULL);
        }
        if (cfg.have_pause && va == cfg.resume_pc) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, resume_cb,
                                                   QEMU_PLUGIN_CB_NO_REGS,
                                                   NULL);
        }
        for (unsigned e = 0; e < cfg.n_end; e++) {
            if (va == cfg.end_pcs[e]) {
                qemu_plugin_register_vcpu_insn_exec_cb(insn, end_cb,
                                                       QEMU_PLUGIN_CB_NO_REGS,
                                                       (void *)(uintptr_t)va);
            }
        }
        if (cfg.have_handoff && va == cfg.handoff_pc) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, handoff_cb,
                                                   QEMU_PLUGIN_CB_R_REGS,
                                                   NULL);
        }
        qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
            insn, QEMU_PLUGIN_INLINE_ADD_U64, SB_INSNS, 1);
        if (decode_msr(w, &rg, &el)) {
            qemu_plugin_register_vcpu_insn_exec_cb(
                insn, msr_cb, QEMU_PLUGIN_CB_R_REGS,
                iinfo_get(va, w, IK_MSR, (uint8_t)rg, (uint8_t)el));
        } else if (decode_cmo(w, &op)) {
            struct iinfo *ii = iinfo_get(va, w, IK_CMO, (uint8_t)op,
                                         op == C_TLBI ? tlbi_regime(w) : 0);
            ii->dom = cmo_shareable(w, op);
            qemu_plugin_register_vcpu_insn_exec_cb(
                insn, cmo_cb, QEMU_PLUGIN_CB_R_REGS, ii);
        } else if (decode_dsb(w, &lvl)) {
            if (lvl) {
                qemu_plugin_register_vcpu_insn_exec_cb(
                    insn, dsb_cb, QEMU_PLUGIN_CB_NO_REGS,
                    (void *)(uintptr_t)lvl);
            }
        } else if ((w & 0xfffff0ffu) == 0xd50330bfu && ((w >> 8) & 3) != 1) {
            /* dmb, not a *LD one */
            qemu_plugin_register_vcpu_insn_exec_cb(insn, dmb_cb,
                                                   QEMU_PLUGIN_CB_NO_REGS,
                                                   NULL);
        } else if ((w & 0xffffffe0u) == 0xd51a0000u) {    /* msr csselr_el1 */
            qemu_plugin_register_vcpu_insn_exec_cb(insn, csselr_cb,
                                                   QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)va);
        } else if ((w & 0xffffffe0u) == 0xd5390000u) {    /* mrs ccsidr_el1 */
            qemu_plugin_register_vcpu_insn_exec_cb(insn, ccsidr_cb,
                                                   QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)va);
        } else if ((w & 0xfffff0ffu) == 0xd50330dfu) {    /* isb */
            qemu_plugin_register_vcpu_insn_exec_cb(insn, isb_cb,
                                                   QEMU_PLUGIN_CB_NO_REGS,
                                                   NULL);
        } else if (changes_el(w)) {
            qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
                insn, QEMU_PLUGIN_INLINE_STORE_U64, SB_ELDIRTY, 1);
        }
        qemu_plugin_register_vcpu_mem_cb(insn, mem_cb, QEMU_PLUGIN_CB_NO_REGS,
                                         QEMU_PLUGIN_MEM_RW,
                                         (void *)(uintptr_t)va);
    }
}

static void vcpu_init(qemu_plugin_id_t id G_GNUC_UNUSED, unsigned int vcpu)
{
    GArray *regs;
    guint i;
    unsigned k, el;

    if (vcpu != 0) {
        return;
    }
    regs = qemu_plugin_get_registers();
    for (i = 0; i < regs->len; i++) {
        qemu_plugin_reg_descriptor *d =
            &g_array_index(regs, qemu_plugin_reg_descriptor, i);
        if (d->name[0] == 'x' && g_ascii_isdigit(d->name[1])) {
            int n = atoi(d->name + 1);
            if (n >= 0 && n < 31) {
                reg_x[n] = d->handle;
            }
        } else if (!strcmp(d->name, "cpsr")) {
            reg_cpsr = d->handle;
        } else if (!strcmp(d->name, "CTR_EL0")) {
            reg_ctr = d->handle;
        } else {
            for (k = 0; k < RG_N; k++) {
                for (el = 1; el <= 3; el++) {
                    if (rg_names[k][el] && !strcmp(d->name, rg_names[k][el])) {
                        reg_sys[k][el] = d->handle;
                    }
                }
            }
        }
    }
    g_array_free(regs, TRUE);
    qemu_plugin_u64_set(SB_ELDIRTY, 0, 1);     /* first block: read state */
}

static void at_exit(qemu_plugin_id_t id G_GNUC_UNUSED, void *p G_GNUC_UNUSED)
{
    if (handoff_seen) {
        return;                                /* the handoff report stands */
    }
    if (cpu.started) {
        attribute_fetches();
    }
    flush_pending();
    write_report(!cfg.have_handoff);
}

/* ------------------------------------------------------------------ args */

static bool parse_size(const char *s, uint64_t *v)
{
    char *end;
    uint64_t x = strtoull(s, &end, 0);

    switch (*end) {
    case 'k': case 'K': x <<= 10; end++; break;
    case 'm': case 'M': x <<= 20; end++; break;
    case 'g': case 'G': x <<= 30; end++; break;
    default: break;
    }
    if (end == s || *end) {
        return false;
    }
    *v = x;
    return true;
}

static bool parse_geom(const char *s, uint64_t *size, unsigned *ways)
{
    g_auto(GStrv) p = g_strsplit(s, ":", 2);
    uint64_t w = 1;

    if (!p[0] || !parse_size(p[0], size)) {
        return false;
    }
    if (p[1] && (!parse_size(p[1], &w) || w == 0 || w > 64)) {
        return false;
    }
    if (*size && !p[1]) {
        return false;
    }
    *ways = (unsigned)w;
    return true;
}

static bool parse_hex(const char *s, uint64_t *v)
{
    char *end;

    if (!*s) {
        return false;
    }
    *v = strtoull(s, &end, 16);
    return *end == '\0';
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info, int argc,
                                           char **argv)
{
    int i;

    if (!info->system_emulation) {
        fprintf(stderr, "cachemodel: needs full-system emulation\n");
        return -1;
    }
    if (strcmp(info->target_name, "aarch64") != 0) {
        fprintf(stderr, "cachemodel: needs an aarch64 guest, not %s\n",
                info->target_name);
        return -1;
    }
    n_vcpus = info->system.smp_vcpus;
    for (i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        const char *key = argv[i], *val;
        size_t kl;
        bool ok = true;

        if (!eq) {
            fprintf(stderr, "cachemodel: argument '%s' is not key=value\n",
                    argv[i]);
            return -1;
        }
        kl = (size_t)(eq - key);
        val = eq + 1;
#define IS(k) (kl == strlen(k) && !strncmp(key, (k), kl))
        if (IS("out")) {
            cfg.out = g_strdup(val);
        } else if (IS("line")) {
            uint64_t v;
            ok = parse_size(val, &v) && v >= 16 && v <= 2048 && !(v & (v - 1));
            if (ok) {
                cfg.line_shift = (unsigned)__builtin_ctzll(v);
                cfg.line_given = true;
            }
        } else if (IS("ram")) {
            g_auto(GStrv) p = g_strsplit(val, ":", 2);
            ok = p[0] && p[1] && parse_hex(p[0], &cfg.ram_base) &&
                 parse_hex(p[1], &cfg.ram_size) && cfg.ram_size > 0;
        } else if (IS("begin_pc")) {
            ok = parse_hex(val, &cfg.begin_pc);
            cfg.have_begin = ok;
        } else if (IS("pause")) {
            g_auto(GStrv) p = g_strsplit(val, ":", 2);
            ok = p[0] && p[1] && parse_hex(p[0], &cfg.pause_pc) &&
                 parse_hex(p[1], &cfg.resume_pc);
            cfg.have_pause = ok;
        } else if (IS("handoff_pc")) {
            ok = parse_hex(val, &cfg.handoff_pc);
            cfg.have_handoff = ok;
        } else if (IS("begin_hit")) {
            ok = parse_size(val, &cfg.begin_hit) && cfg.begin_hit >= 1;
        } else if (IS("end_pc")) {
            ok = cfg.n_end < 4 && parse_hex(val, &cfg.end_pcs[cfg.n_end]);
            cfg.n_end += ok;
        } else if (IS("handoff_el")) {
            uint64_t v;
            ok = parse_size(val, &v) && v <= 3;
            cfg.handoff_el = ok ? (int)v : -1;
        } else if (IS("dest") || IS("source") || IS("loader") || IS("stack")) {
            unsigned t = IS("dest") ? T_DEST : IS("source") ? T_SOURCE
                         : IS("loader") ? T_LOADER : T_STACK;
            g_auto(GStrv) p = g_strsplit(val, ":", 2);
            ok = cfg.n_rg[t] < 16 && p[0] && p[1] &&
                 parse_hex(p[0], &cfg.rg[t][cfg.n_rg[t]].s) &&
                 parse_hex(p[1], &cfg.rg[t][cfg.n_rg[t]].e) &&
                 cfg.rg[t][cfg.n_rg[t]].s < cfg.rg[t][cfg.n_rg[t]].e;
            cfg.n_rg[t] += ok;
        } else if (IS("iwarm")) {
            g_auto(GStrv) p = g_strsplit(val, ":", 2);
            ok = cfg.n_iwarm < 16 && p[0] && p[1] &&
                 parse_hex(p[0], &cfg.iwarm[cfg.n_iwarm].s) &&
                 parse_hex(p[1], &cfg.iwarm[cfg.n_iwarm].e) &&
                 cfg.iwarm[cfg.n_iwarm].s < cfg.iwarm[cfg.n_iwarm].e;
            cfg.n_iwarm += ok;
        } else if (IS("warm")) {
            g_auto(GStrv) p = g_strsplit(val, ":", 2);
            ok = cfg.n_warm < 16 && p[0] && p[1] &&
                 parse_hex(p[0], &cfg.warm[cfg.n_warm].s) &&
                 parse_hex(p[1], &cfg.warm[cfg.n_warm].e) &&
                 cfg.warm[cfg.n_warm].s < cfg.warm[cfg.n_warm].e;
            cfg.n_warm += ok;
        } else if (IS("expect_handoff")) {
            cfg.expect_mmu_off = !strcmp(val, "mmu-off");
            cfg.expect_sel4 = !strcmp(val, "sel4");
            ok = cfg.expect_mmu_off || cfg.expect_sel4 || !strcmp(val, "any") ||
                 !strcmp(val, "none");
        } else if (IS("ranges_only")) {
            if (!strcmp(val, "0") || !strcmp(val, "1")) {
                cfg.ranges_only = val[0] == '1';
            } else {
                ok = qemu_plugin_bool_parse("ranges_only", val,
                                            &cfg.ranges_only);
            }
        } else if (IS("l1")) {
            ok = parse_geom(val, &cfg.l1_size, &cfg.l1_ways) && cfg.l1_size;
        } else if (IS("l2")) {
            ok = parse_geom(val, &cfg.l2_size, &cfg.l2_ways);
        } else {
            fprintf(stderr, "cachemodel: unknown argument '%s'\n", argv[i]);
            return -1;
        }
#undef IS
        if (!ok) {
            fprintf(stderr, "cachemodel: bad value in '%s'\n", argv[i]);
            return -1;
        }
    }

    sb = qemu_plugin_scoreboard_new(sizeof(struct vsb));
    regbuf = g_byte_array_new();
    membuf = g_byte_array_new();
    hazards = g_hash_table_new(hz_hash, hz_equal);
    cov[0] = g_array_new(FALSE, FALSE, sizeof(struct range));
    cov[1] = g_array_new(FALSE, FALSE, sizeof(struct range));
    iinfos = g_hash_table_new(g_int64_hash, g_int64_equal);
    tbinfos = g_hash_table_new(tbi_hash, tbi_equal);
    win_active = !cfg.have_begin;
    begin_seen = !cfg.have_begin;
    cpu.el = 1;
    memo_reset();
    set_geometry();

    qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
