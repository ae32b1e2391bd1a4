/*
 * The reference elfloader: unpack the ELF images of a linked-in CPIO archive and enter the
 * kernel, printing seL4's human console lines plus machine-readable "@h" lines
 * (docs/console-protocol.md).
 *
 * Three regimes, one unpack routine (unpack.c):
 *   mmu-off    caches and MMU stay off; like seL4, each image's whole span is zeroed, then its
 *              PT_LOADs are copied.
 *   early-mmu  an identity map turns the caches on for the unpack; each byte is written once
 *              (16-byte copies, zeros only where the file has no bytes);
 *              everything written is cleaned to PoC and MMU/caches go off before the handoff.
 *   fallback   early-mmu was built but the page-table pool is too small: MMU off, gaps only.
 */
#include "common/crc32.h"
#include "common/print.h"
#include "common/sysreg.h"
#include "common/timer.h"
#include "common/types.h"
#include "common/uart.h"
#include "elfloader/cpio.h"
#include "elfloader/elf.h"
#include "elfloader/mmu.h"
#include "elfloader/unpack.h"

#define PAGE_SIZE   4096u
#define MAX_IMAGES  8u
#define FDT_MAGIC   0xd00dfeedu

extern const uint8_t _start[], _end[], _writable_start[], _writable_end[];
extern const uint8_t _archive_start[], _archive_start_end[];

struct clean_range {
    uint64_t start, end;
};

NORETURN void jump_to_entry(uintptr_t entry, uintptr_t dtb);
NORETURN void clean_disable_jump(const struct clean_range *ranges, uint64_t nranges,
                                 uintptr_t entry, uintptr_t dtb);
NORETURN void exception_report(unsigned kind);
NORETURN void main(uint64_t dtb_in, unsigned el);

enum regime { REGIME_MMU_OFF, REGIME_EARLY_MMU, REGIME_FALLBACK };

static struct image images[MAX_IMAGES];
static unsigned nimages;

/* Destinations handed out so far (all segments, the DTB copy): nothing may overlap them. */
static struct range taken[MAX_IMAGES * MAX_SEGS + 1];
static unsigned ntaken;

/* The early-mmu handoff's clean list: every segment, the DTB copy, the loader's own data. */
/* Per image: each PT_LOAD and each hole between PT_LOADs (zeroed too); then DTB and loader. */
static struct clean_range clean_ranges[2 * MAX_IMAGES * MAX_SEGS + 2];
static unsigned nclean;

/* ---------------------------------------------------------------------------------------- */
/* Console helpers                                                                            */

static NORETURN void abort_loader(void)
{
    con_puts("abort() called.\n");
    for (;;)
        __asm__ volatile("wfe");
}

static NORETURN void loading_failed(void)
{
    con_puts("ERROR: image loading failed\n");
    abort_loader();
}

/* seL4's cascade: the specific reason (if it has a text), which image, then the summary. */
static NORETURN void image_failed(bool kernel, enum elf_status st)
{
    if (st == ELF_OVERLAPS_LOADER)
        con_puts("ERROR: image load address overlaps with ELF-loader!\n");
    con_puts(kernel ? "ERROR: Could not load kernel ELF\n"
                    : "ERROR: Could not load user image ELF\n");
    loading_failed();
}

static void mark(const char *name, const char *image, uint64_t ticks)
{
    con_printf("@h mark name=%s ticks=%lu freq=%lu", name, ticks, timer_freq());
    if (image)
        con_printf(" image=%s", image);
    con_puts("\n");
}

static const char *cpu_part_name(unsigned implementer, unsigned part)
{
    if (implementer != 0x41)
        return "Unknown";
    switch (part) {
    case 0xd03: return "Cortex-A53";
    case 0xd04: return "Cortex-A35";
    case 0xd07: return "Cortex-A57";
    case 0xd08: return "Cortex-A72";
    default:    return "Unknown";
    }
}

static void print_banner(void)
{
    uint64_t midr = read_midr();
    unsigned implementer = (unsigned)(midr >> 24) & 0xff;
    unsigned variant = (unsigned)(midr >> 20) & 0xf;
    unsigned part = (unsigned)(midr >> 4) & 0xfff;
    unsigned revision = (unsigned)midr & 0xf;

    con_printf("ELF-loader started on CPU: %s %s r%up%u\n",
               implementer == 0x41 ? "ARM Ltd." : "Unknown",
               cpu_part_name(implementer, part), variant, revision);
}

static const char *flags_text(uint32_t flags)
{
    static const char *const text[8] = { "none", "x", "w", "wx", "r", "rx", "rw", "rwx" };

    return text[flags & 7];
}

void exception_report(unsigned kind)
{
    static const char *const kinds[4] = { "Synchronous", "IRQ", "FIQ", "SError" };

    uart_init();
    if (kind == 0)
        con_puts("ELF-LOADER: Synchronous exception received:\n");
    else
        con_printf("ELF-LOADER: Unexpected %s exception received:\n", kinds[kind & 3]);
    con_printf("  ESR=%lx\n  ELR=%lx\n  FAR=%lx\n", read_esr(), read_elr(), read_far());
    abort_loader();
}

/* ---------------------------------------------------------------------------------------- */
/* Placement                                                                                  */

static struct range loader_range(void)
{
    return (struct range){ (uintptr_t)_start, (uintptr_t)_end };
}

static void take_image(const struct image *img)
{
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct segment *s = &img->seg[i];

        if (s->memsz)
            taken[ntaken++] = (struct range){ s->paddr, s->paddr + s->memsz };
    }
}

/* Read, place and check one archive member; on failure print seL4's error lines and stop. */
static struct image *prepare_image(const struct cpio_member *m, const char *name, bool kernel,
                                   uint64_t *next_free)
{
    if (nimages == MAX_IMAGES)
        image_failed(kernel, ELF_INVALID);

    struct image *img = &images[nimages];
    enum elf_status st = elf_read(m->data, m->size, name, img);

    if (st == ELF_OK && !kernel)
        elf_relocate(img, *next_free);  /* user images follow the kernel (and DTB), as in seL4 */
    if (st == ELF_OK)
        st = elf_check_destinations(img, taken, ntaken, loader_range());
    if (st != ELF_OK)
        image_failed(kernel, st);

    take_image(img);
    nimages++;
    *next_free = ALIGN_UP(img->max_paddr, PAGE_SIZE);
    return img;
}

/* ---------------------------------------------------------------------------------------- */
/* The DTB from the archive                                                                   */

struct dtb_copy {
    const uint8_t *src;
    uint64_t dest, size;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Find kernel.dtb, print seL4's lines and reserve its destination (the copy is made later,
 * in the unpack regime). Returns false if the archive has no DTB. */
static bool plan_dtb(const uint8_t *archive, uint64_t len, uint64_t *next_free,
                     struct dtb_copy *dtb)
{
    struct cpio_member m;

    if (!cpio_find(archive, len, "kernel.dtb", &m))
        return false;

    con_printf("Looking for DTB in CPIO archive...found at %lx.\n", (uint64_t)(uintptr_t)m.data);
    if (m.size < 8 || be32(m.data) != FDT_MAGIC || be32(m.data + 4) > m.size)
        loading_failed();

    dtb->src = m.data;
    dtb->size = be32(m.data + 4);               /* the FDT header's totalsize */
    dtb->dest = *next_free;

    struct range r = { dtb->dest, dtb->dest + dtb->size };
    if (!range_in_dram(r) || ranges_overlap(r, loader_range()))
        loading_failed();
    taken[ntaken++] = r;
    *next_free = ALIGN_UP(r.end, PAGE_SIZE);

    con_printf("Loaded DTB from %lx.\n", (uint64_t)(uintptr_t)m.data);
    con_printf("   paddr=[%lx..%lx]\n", r.start, r.end - 1);
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Regime                                                                                     */

static enum regime choose_regime(unsigned el)
{
#if MODE_EARLY_MMU
    unsigned need = mmu_pages_needed(), have = mmu_pages_available();

    if (need > have) {
        con_printf("@h mode fallback el=%u reason=no-pagetable-memory need=%u have=%u\n",
                   el, need, have);
        return REGIME_FALLBACK;
    }
    con_printf("@h mode early-mmu el=%u\n", el);
    return REGIME_EARLY_MMU;
#else
    con_printf("@h mode mmu-off el=%u\n", el);
    return REGIME_MMU_OFF;
#endif
}

/* ---------------------------------------------------------------------------------------- */
/* Unpack                                                                                     */

/* A named, global, never-inlined function called right before the first unpack, so tools
 * (gdb, a TCG plugin) can find the start of the unpack window by symbol. */
NOINLINE void unpack_window_begin(void)
{
    __asm__ volatile("" ::: "memory");
}

static void corrupt_segment_bug(const struct image *kernel)
{
#ifdef BUG_CORRUPT_SEGMENT
    /* NEGATIVE CONTROL: flip one bit in the middle of the kernel's last PT_LOAD. */
    const struct segment *s = &kernel->seg[kernel->nseg - 1];
    volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)(s->paddr + s->filesz / 2);

    *p ^= 0x01;
#else
    (void)kernel;
#endif
}

static void print_image(const struct image *img, unsigned idx)
{
    con_printf("@h image name=%s idx=%u entry=%#lx segs=%u\n", img->name, idx, img->entry,
               img->nseg);
    con_printf("ELF-loading image '%s' to %lx\n", img->name, img->min_paddr);
    con_printf("  paddr=[%lx..%lx]\n", img->min_paddr, img->max_paddr - 1);
    con_printf("  vaddr=[%lx..%lx]\n", img->min_vaddr, img->max_vaddr - 1);
    con_printf("  virt_entry=%lx\n", img->entry);
}

static void load_image(const struct image *img, unsigned idx, enum zero_policy policy)
{
    print_image(img, idx);
    uart_flush();               /* the begin mark must not include sending the lines above */
    mark("unpack.begin", img->name, timer_ticks());
    if (idx == 0)
        unpack_window_begin();
    unpack_image(img, policy);
    if (idx == 0)
        corrupt_segment_bug(img);
    mark("unpack.end", img->name, timer_ticks());
}

/* The user images: every other regular file of the archive, in archive order. */
static void load_user_images(const uint8_t *archive, uint64_t len, uint64_t *next_free,
                             enum zero_policy policy)
{
    struct cpio_member m;
    uint64_t off = 0;
    enum cpio_status st;

    while ((st = cpio_next(archive, len, &off, &m)) == CPIO_MEMBER) {
        if ((m.mode & CPIO_MODE_TYPE) != CPIO_MODE_REGULAR || str_equal(m.name, "kernel.elf") ||
            str_equal(m.name, "kernel.dtb"))
            continue;
        unsigned idx = nimages;
        load_image(prepare_image(&m, m.name, false, next_free), idx, policy);
    }
    if (st == CPIO_CORRUPT)
        loading_failed();
}

/* One @h seg line per PT_LOAD of every image: the CRC-32 of what landed at paddr. */
/* Markers around the CRC self-report: it verifies the unpack, it is not part of
 * it, so the harness's cache model leaves it out of the modeled unpack time.
 * The empty asm keeps the calls from being optimised away. */
NOINLINE void self_report_begin(void) { __asm__ volatile(""); }
NOINLINE void self_report_end(void) { __asm__ volatile(""); }

static void report_segments(void)
{
    for (unsigned i = 0; i < nimages; i++) {
        const struct image *img = &images[i];

        for (unsigned j = 0; j < img->nseg; j++) {
            const struct segment *s = &img->seg[j];

            con_printf("@h seg image=%s idx=%u paddr=%#lx vaddr=%#lx filesz=%lu memsz=%lu "
                       "flags=%s crc32=%#010x\n",
                       img->name, j, s->paddr, s->vaddr, s->filesz, s->memsz,
                       flags_text(s->flags), crc32(s->paddr, s->filesz));
        }
    }
    mark("crc.end", NULL, timer_ticks());
}

/* ---------------------------------------------------------------------------------------- */
/* Handoff                                                                                    */

static uint64_t dcache_line_size(void)
{
    return 4ull << ((READ_SYSREG(ctr_el0) >> 16) & 0xf);
}

/* A hole starts where a PT_LOAD ends, and that PT_LOAD's own range already cleans the line
 * they share: begin at the next line, so each line has one owner (and the clean-short control
 * really leaves the kernel's last line dirty). */
static void add_gap_range(uint64_t start, uint64_t end)
{
    start = ALIGN_UP(start, dcache_line_size());
    if (start < end)
        clean_ranges[nclean++] = (struct clean_range){ start, end };
}

static unsigned build_clean_ranges(const struct dtb_copy *dtb)
{
    unsigned n = 0;

    for (unsigned i = 0; i < nimages; i++) {
        for (unsigned j = 0; j < images[i].nseg; j++) {
            const struct segment *s = &images[i].seg[j];

            if (s->memsz)
                clean_ranges[n++] = (struct clean_range){ s->paddr, s->paddr + s->memsz };
        }
    }
#ifdef BUG_CLEAN_SHORT
    /* NEGATIVE CONTROL: the kernel's first segment range misses its last cache line. */
    clean_ranges[0].end -= dcache_line_size();
#endif
    /* The holes between PT_LOADs, which the unpack zeroed (unpack.c, ZERO_GAPS). */
    nclean = n;
    for (unsigned i = 0; i < nimages; i++)
        for_each_gap(&images[i], add_gap_range);
    n = nclean;
    if (dtb)
        clean_ranges[n++] = (struct clean_range){ dtb->dest, dtb->dest + dtb->size };
    clean_ranges[n++] = (struct clean_range){ (uintptr_t)_writable_start,
                                              (uintptr_t)_writable_end };
    return n;
}

static void report_clean(unsigned n)
{
    uint64_t line = dcache_line_size(), bytes = 0, lines = 0;

    for (unsigned i = 0; i < n; i++) {
        const struct clean_range *r = &clean_ranges[i];

        if (r->end <= r->start)
            continue;
        bytes += r->end - r->start;
        lines += (ALIGN_UP(r->end, line) - ALIGN_DOWN(r->start, line)) / line;
    }
    con_printf("@h clean ranges=%u bytes=%lu lines=%lu\n", n, bytes, lines);
}

static NORETURN void handoff(enum regime regime, const struct dtb_copy *dtb, uint64_t dtb_out)
{
    uint64_t entry = images[0].entry_paddr;

    if (regime == REGIME_EARLY_MMU) {
        unsigned n = build_clean_ranges(dtb);

        report_clean(n);
        mark("handoff", NULL, timer_ticks());
        con_puts("Jumping to kernel-image entry point...\n");
        /* From here on: no stores until the kernel runs (see cache.S). */
        clean_disable_jump(clean_ranges, n, entry, dtb_out);
    }
    mark("handoff", NULL, timer_ticks());
    con_puts("Jumping to kernel-image entry point...\n");
    jump_to_entry(entry, dtb_out);
}

/* ---------------------------------------------------------------------------------------- */

void main(uint64_t dtb_in, unsigned el)
{
    uint64_t start_ticks = timer_ticks();
    const uint8_t *archive = _archive_start;
    uint64_t archive_len = (uint64_t)(_archive_start_end - _archive_start);
    struct cpio_member m;
    struct dtb_copy dtb;
    uint64_t next_free, dtb_out = dtb_in;

    uart_init();
    con_puts("\n");
    print_banner();
    con_printf("  paddr=[%lx..%lx]\n", (uint64_t)(uintptr_t)_start,
               (uint64_t)(uintptr_t)_end - 1);
    if (dtb_in)
        con_printf("  dtb=%lx\n", dtb_in);
    else
        con_puts("No DTB passed in from boot loader.\n");

    /* The kernel is read and placed first: the DTB goes right after it. */
    if (!cpio_find(archive, archive_len, "kernel.elf", &m)) {
        con_puts("ERROR: No kernel image present in archive\n");
        loading_failed();
    }
    struct image *kernel = prepare_image(&m, "kernel", true, &next_free);
    bool have_dtb = plan_dtb(archive, archive_len, &next_free, &dtb);
    if (have_dtb)
        dtb_out = dtb.dest;

    enum regime regime = choose_regime(el);
    mark("loader.start", NULL, start_ticks);
    if (regime == REGIME_EARLY_MMU) {
        mmu_enable();
        mark("mmu.on", NULL, timer_ticks());
    }
    if (have_dtb && regime == REGIME_MMU_OFF)
        copy_bytes(dtb.dest, dtb.src, dtb.size);
    else if (have_dtb)
        copy_wide(dtb.dest, dtb.src, dtb.size);

    enum zero_policy policy = regime == REGIME_MMU_OFF ? ZERO_SPAN : ZERO_GAPS;
    load_image(kernel, 0, policy);
    load_user_images(archive, archive_len, &next_free, policy);

    self_report_begin();
    report_segments();
    self_report_end();
    handoff(regime, have_dtb ? &dtb : NULL, dtb_out);
}
