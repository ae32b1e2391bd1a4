#include "elfloader/mmu.h"
#include "common/sysreg.h"

#define PAGE_SIZE     4096u
#define ENTRIES       512u
#define L1_SHIFT      30u                      /* a level-1 entry maps 1 GiB */
#define L2_SHIFT      21u                      /* a level-2 entry maps 2 MiB */
#define BLOCK_SIZE    (1ull << L2_SHIFT)
#define VA_BITS       39u
#define T0SZ          (64u - VA_BITS)          /* 25 */

/* Descriptor bits (VMSAv8-64, stage 1). */
#define DESC_BLOCK    0x1ull                   /* bits[1:0] = 01: block (level 1/2) */
#define DESC_TABLE    0x3ull                   /* bits[1:0] = 11: next-level table */
#define DESC_VALID    0x1ull
#define ATTR_INDX(n)  ((uint64_t)(n) << 2)     /* which MAIR byte */
#define AP_RES1_EL23  (1ull << 6)              /* AP[1]: RES1 in the EL2/EL3 regimes */
#define SH_INNER      (3ull << 8)              /* inner shareable */
#define AF            (1ull << 10)             /* access flag: set, or the first access faults */
#define PXN           (1ull << 53)
#define UXN_XN        (1ull << 54)             /* UXN at EL1&0, XN at EL2/EL3 */
#define TABLE_ADDR    0x0000fffffffff000ull

/* MAIR: attribute 0 = Device-nGnRnE (0x00), attribute 1 = Normal, inner and outer write-back
 * non-transient, read- and write-allocate (0xff). */
#define MAIR_DEVICE_IDX 0u
#define MAIR_NORMAL_IDX 1u
#define MAIR_VALUE      (0x00ull << (8 * MAIR_DEVICE_IDX) | 0xffull << (8 * MAIR_NORMAL_IDX))

/* TCR fields common to all ELs: T0SZ, table walks write-back write-allocate cacheable
 * (IRGN0 = ORGN0 = 01), inner shareable (SH0 = 11), 4 KiB granule (TG0 = 00). */
#define TCR_COMMON     ((uint64_t)T0SZ | 1ull << 8 | 1ull << 10 | 3ull << 12)
#define TCR_EL1_EPD1   (1ull << 23)            /* no walks through TTBR1 */
#define TCR_EL1_IPS(x) ((uint64_t)(x) << 32)
#define TCR_EL23_PS(x) ((uint64_t)(x) << 16)
#define TCR_EL23_RES1  (1ull << 23 | 1ull << 31)

extern const uint8_t _writable_start[], _writable_end[];
void dcache_invalidate_range(uintptr_t start, uintptr_t end);

/* The pool, zeroed by start.S with the rest of .bss. */
static uint64_t pt_pool[PT_PAGES][ENTRIES] __attribute__((aligned(PAGE_SIZE)));

struct region {
    uint64_t base, size;
    bool device;
};

/* What gets mapped: DRAM, and the 2 MiB block around the console UART. */
static unsigned map_regions(struct region *r)
{
    r[0] = (struct region){ (uint64_t)DRAM_BASE, (uint64_t)DRAM_SIZE, false };
#ifdef BUG_DEVICE_NORMAL
    /* NEGATIVE CONTROL: the UART block is mapped as Normal cacheable, executable memory. */
    r[1] = (struct region){ ALIGN_DOWN((uint64_t)UART_BASE, BLOCK_SIZE), BLOCK_SIZE, false };
#else
    r[1] = (struct region){ ALIGN_DOWN((uint64_t)UART_BASE, BLOCK_SIZE), BLOCK_SIZE, true };
#endif
    return 2;
}

/* The EL2/EL3 (single privilege level) regimes have their own TCR layout, unless EL2 runs
 * with HCR_EL2.E2H set (VHE), where TCR_EL2 has the EL1 layout. */
static bool el1_format(void)
{
    unsigned el = current_el();

    return el == 1 || (el == 2 && (READ_SYSREG(hcr_el2) & HCR_E2H));
}

static uint64_t block_attrs(bool device)
{
    uint64_t a = DESC_BLOCK | AF;

    if (!el1_format())
        a |= AP_RES1_EL23;                     /* read/write at this EL */
    if (device)
        return a | ATTR_INDX(MAIR_DEVICE_IDX) | UXN_XN | (el1_format() ? PXN : 0);
    return a | ATTR_INDX(MAIR_NORMAL_IDX) | SH_INNER;
}

unsigned mmu_pages_available(void)
{
    return PT_PAGES;
}

/* One level-1 table, plus one level-2 table per distinct 1 GiB slot that a region touches. */
unsigned mmu_pages_needed(void)
{
    struct region r[2];
    unsigned n = map_regions(r);
    uint64_t used[ENTRIES / 64] = { 0 };
    unsigned pages = 1;

    for (unsigned i = 0; i < n; i++) {
        for (uint64_t a = r[i].base; a < r[i].base + r[i].size; a += BLOCK_SIZE) {
            unsigned idx = (unsigned)(a >> L1_SHIFT) % ENTRIES;

            if (!(used[idx / 64] & (1ull << (idx % 64)))) {
                used[idx / 64] |= 1ull << (idx % 64);
                pages++;
            }
        }
    }
    return pages;
}

/* The level-2 table for address a, taken from the pool on first use. */
static uint64_t *l2_table(uint64_t a, unsigned *next)
{
    uint64_t *l1 = pt_pool[0];
    unsigned idx = (unsigned)(a >> L1_SHIFT) % ENTRIES;

    if (!(l1[idx] & DESC_VALID))
        l1[idx] = (uintptr_t)pt_pool[(*next)++] | DESC_TABLE;
    return (uint64_t *)(uintptr_t)(l1[idx] & TABLE_ADDR);
}

/* Fill the tables. The MMU is off: these are plain (Device) stores straight to memory. */
static void build_tables(void)
{
    struct region r[2];
    unsigned n = map_regions(r), next = 1;

    for (unsigned i = 0; i < n; i++) {
        uint64_t attrs = block_attrs(r[i].device);

        for (uint64_t a = r[i].base; a < r[i].base + r[i].size; a += BLOCK_SIZE)
            l2_table(a, &next)[(a >> L2_SHIFT) % ENTRIES] = a | attrs;
    }
}

static uint64_t tcr_value(void)
{
    uint64_t pa = READ_SYSREG(id_aa64mmfr0_el1) & 0xf;   /* PARange */

    if (pa > 5)
        pa = 5;                                /* 48 bits: the most a 4 KiB granule maps */
    if (el1_format())
        return TCR_COMMON | TCR_EL1_EPD1 | TCR_EL1_IPS(pa);
    return TCR_COMMON | TCR_EL23_PS(pa) | TCR_EL23_RES1;
}

/* Drop every TLB entry of the current EL's translation regime: entries cached from some
 * earlier map (a boot loader's) must not be used together with the new tables. Completed
 * by the caller's dsb before the MMU goes on. */
static void tlb_invalidate_current_el(void)
{
    switch (current_el()) {
    case 3:
        __asm__ volatile("tlbi alle3" ::: "memory");     /* all EL3 entries */
        break;
    case 2:
        __asm__ volatile("tlbi alle2" ::: "memory");     /* all EL2 entries */
        break;
    default:
        __asm__ volatile("tlbi vmalle1" ::: "memory");   /* all EL1&0 entries */
        break;
    }
}

/*
 * Turn on the identity map with caches on. One barrier pair, each half required: the dsb
 * completes the table stores (the walker must see them), the D-cache invalidates and the
 * TLB invalidate before the MMU goes on; the isb puts MAIR/TCR/TTBR0 and the completed TLB
 * invalidate in effect before the SCTLR write relies on them.
 */
void mmu_enable(void)
{
    build_tables();

    /* Everything the loader wrote so far (data, bss, stack, the tables) was written with the
     * caches off, straight to memory. A cache may still hold stale lines for those addresses
     * (from a boot loader that ran with caches on): once caches are on, such a line would be
     * read instead of memory, and the table walker (which walks with cacheable attributes)
     * could see stale descriptors. Invalidate the whole writable range first. The boot
     * protocol leaves clean lines only, so a DC IVAC carries no data: it may take effect
     * before or after an uncached store to its line, with the same result. */
    dcache_invalidate_range((uintptr_t)_writable_start, (uintptr_t)_writable_end);

    /* Stale TLB entries from before must not be used with the new tables. */
    tlb_invalidate_current_el();

    write_mair(MAIR_VALUE);
    write_tcr(tcr_value());
    write_ttbr0((uintptr_t)pt_pool[0]);
    /* dsb: table stores, D-cache and TLB invalidates complete; isb: MAIR/TCR/TTBR0 and the
     * TLB invalidate are in effect before the MMU is on. The I-cache needs no invalidate
     * here: the boot protocol forbids stale instruction lines for the loaded image, and the
     * loader fetches only its own code until clean_disable_jump invalidates it. */
    __asm__ volatile("dsb sy\n\tisb" ::: "memory");

    uint64_t sctlr = read_sctlr();
    sctlr |= SCTLR_M | SCTLR_C | SCTLR_I;
    sctlr &= ~(SCTLR_A | SCTLR_WXN);           /* no alignment faults, executable RW memory */
    write_sctlr(sctlr);
    /* isb: the next instruction is fetched with the MMU and caches on. */
    __asm__ volatile("isb" ::: "memory");
}
