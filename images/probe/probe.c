/*
 * The probe kernel: checks, from the inside, what the loader left behind.
 *
 * At entry it reports the exception level and SCTLR (the loader must hand off with MMU,
 * D-cache and I-cache off), then recomputes the CRC-32 of each of its own segments against the
 * table the host patched in after linking, and checks that every bss gap is zero. Only its
 * stack (its own PT_LOAD, skipped in the table) is written before these checks; .data and .bss
 * are never written at all.
 */
#include "common/crc32.h"
#include "common/print.h"
#include "common/sysreg.h"
#include "common/timer.h"
#include "common/uart.h"
#include "probe/probe.h"

void probe_main(uint64_t x0);

/* Filled in by the host; the linker leaves it zero except for the magic. */
__attribute__((section(".expected"), used, aligned(8)))
const struct probe_expected probe_expected = { .magic = PROBE_MAGIC };

/* Some initialised data and some bss, so that the data segment has filesz < memsz. */
__attribute__((used)) uint64_t probe_data[4] = { 0x0123456789abcdefull, 0xfedcba9876543210ull,
                                                 0x5555aaaa5555aaaaull, 0x0f0f0f0ff0f0f0f0ull };
__attribute__((used)) uint8_t probe_bss[8192 + 24];

struct tally {
    unsigned crc_bad, bss_dirty;
};

/* The table is read through a volatile pointer: its contents were patched after compilation,
 * the compiler must not fold the zeros it saw. */
static const volatile struct probe_expected *table(void)
{
    return (const volatile struct probe_expected *)&probe_expected;
}

static const char *on_off(uint64_t sctlr, uint64_t bit)
{
    return (sctlr & bit) ? "on" : "off";
}

static void report_entry(uint64_t x0, uint64_t sctlr)
{
    con_printf("@h probe entry el=%u sctlr=%#lx mmu=%s dcache=%s icache=%s x0=%#lx\n",
               current_el(), sctlr, on_off(sctlr, SCTLR_M), on_off(sctlr, SCTLR_C),
               on_off(sctlr, SCTLR_I), x0);
}

/* First non-zero byte in [addr, addr + len), or 0 if all are zero. Aligned loads only. */
static uint64_t first_nonzero(uint64_t addr, uint64_t len)
{
    uint64_t end = addr + len;

    while (addr < end && (addr & 7)) {
        if (*(const volatile uint8_t *)addr)
            return addr;
        addr++;
    }
    for (; end - addr >= 8; addr += 8) {
        if (*(const volatile uint64_t *)addr)
            break;
    }
    for (; addr < end; addr++) {
        if (*(const volatile uint8_t *)addr)
            return addr;
    }
    return 0;
}

static void check_crc(unsigned idx, const volatile struct probe_seg *s, struct tally *t)
{
    uint64_t paddr = s->paddr, size = s->filesz;
    uint32_t expected = s->crc32, got = crc32(paddr, size);
    bool ok = got == expected;

    con_printf("@h probe seg idx=%u paddr=%#lx size=%lu crc32=%#010x expected=%#010x %s\n",
               idx, paddr, size, got, expected, ok ? "ok" : "BAD");
    if (!ok)
        t->crc_bad++;
}

static void check_bss(unsigned idx, const volatile struct probe_seg *s, struct tally *t)
{
    uint64_t start = s->paddr + s->filesz, size = s->memsz - s->filesz;
    uint64_t dirty = first_nonzero(start, size);

    con_printf("@h probe bss idx=%u paddr=%#lx size=%lu ", idx, start, size);
    if (dirty) {
        con_printf("dirty=%#lx\n", dirty);
        t->bss_dirty++;
    } else {
        con_puts("ok\n");
    }
}

static const char *skip_name(uint32_t flags)
{
    return (flags & PROBE_SKIP_TABLE) ? "table" : "stack";
}

void probe_main(uint64_t x0)
{
    uint64_t ticks = timer_ticks();
    uint64_t sctlr = read_sctlr();
    const volatile struct probe_expected *tab = table();
    struct tally t = { 0, 0 };

    uart_init();
    con_printf("@h mark name=kernel.entry ticks=%lu freq=%lu\n", ticks, timer_freq());
    report_entry(x0, sctlr);

    unsigned count = tab->count;
    if (tab->magic != PROBE_MAGIC || count == 0 || count > PROBE_MAX_SEGS) {
        con_puts("@h probe verdict fail table=missing\n");
        return;
    }
    for (unsigned i = 0; i < count; i++) {
        uint32_t flags = tab->seg[i].flags;

        if (flags & (PROBE_SKIP_TABLE | PROBE_SKIP_STACK))
            con_printf("@h probe seg idx=%u skipped=%s\n", i, skip_name(flags));
        else
            check_crc(i, &tab->seg[i], &t);
    }
    for (unsigned i = 0; i < count; i++) {
        const volatile struct probe_seg *s = &tab->seg[i];

        if (!(s->flags & (PROBE_SKIP_TABLE | PROBE_SKIP_STACK)) && s->memsz > s->filesz)
            check_bss(i, s, &t);
    }

    unsigned handoff = (sctlr & (SCTLR_M | SCTLR_C | SCTLR_I)) ? 1 : 0;
    if (t.crc_bad == 0 && t.bss_dirty == 0 && handoff == 0)
        con_puts("@h probe verdict ok\n");
    else
        con_printf("@h probe verdict fail crc=%u bss=%u handoff=%u\n", t.crc_bad, t.bss_dirty,
                   handoff);
}
