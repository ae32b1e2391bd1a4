/*
 * Copy and zero, the loader's hot loops.
 *
 * With the MMU off every data access is to Device-nGnRnE memory, where an unaligned access
 * faults; the build uses -mstrict-align, and these loops only ever use aligned 8-byte loads
 * and stores, with single bytes where a range does not start or end on an 8-byte boundary.
 * A source that is misaligned relative to its destination (archive members are only 4-byte
 * aligned) is read with aligned 8-byte loads and the bytes are shifted into place.
 *
 * -fno-builtin and -fno-tree-loop-distribute-patterns keep GCC from turning these loops into
 * calls to memcpy/memset (which do not exist here: the link would fail).
 */
#include "elfloader/unpack.h"

extern const uint8_t _start[], _end[];

/* n whole words from an 8-byte aligned source to an 8-byte aligned destination. */
static void copy_words_aligned(uint64_t *d, const uint64_t *s, uint64_t n)
{
    for (; n >= 4; n -= 4, d += 4, s += 4) {
        uint64_t a = s[0], b = s[1], c = s[2], e = s[3];

        d[0] = a;
        d[1] = b;
        d[2] = c;
        d[3] = e;
    }
    for (; n; n--)
        *d++ = *s++;
}

/*
 * n whole words to an aligned destination from a source that is k = src % 8 (1..7) bytes past
 * an aligned word. Little-endian: the 8 bytes at src are the top 8-k bytes of one aligned word
 * and the low k bytes of the next. Only aligned words that contain wanted bytes are loaded.
 */
static void copy_words_shifted(uint64_t *d, const uint8_t *src, uint64_t n)
{
    unsigned k = (uintptr_t)src & 7;
    unsigned rs = 8 * k, ls = 64 - rs;
    const uint64_t *s = (const uint64_t *)(src - k);
    uint64_t lo = *s++;

    for (; n >= 4; n -= 4, d += 4, s += 4) {
        uint64_t w0 = s[0], w1 = s[1], w2 = s[2], w3 = s[3];

        d[0] = (lo >> rs) | (w0 << ls);
        d[1] = (w0 >> rs) | (w1 << ls);
        d[2] = (w1 >> rs) | (w2 << ls);
        d[3] = (w2 >> rs) | (w3 << ls);
        lo = w3;
    }
    for (; n; n--) {
        uint64_t hi = *s++;

        *d++ = (lo >> rs) | (hi << ls);
        lo = hi;
    }
}

void copy_bytes(uintptr_t dst, const uint8_t *src, uint64_t n)
{
    /* Head: single bytes until the destination is 8-byte aligned. */
    for (; n && (dst & 7); n--)
        *(volatile uint8_t *)dst++ = *src++;

    uint64_t words = n / 8;
    if (((uintptr_t)src & 7) == 0)
        copy_words_aligned((uint64_t *)dst, (const uint64_t *)src, words);
    else
        copy_words_shifted((uint64_t *)dst, src, words);
    dst += words * 8;
    src += words * 8;

    /* Tail: the last 0..7 bytes. */
    for (n &= 7; n; n--)
        *(volatile uint8_t *)dst++ = *src++;
}

void zero_bytes(uintptr_t dst, uint64_t n)
{
#ifdef BUG_SKIP_BSS
    /* NEGATIVE CONTROL: never zero anything (neither the span nor the bss gaps). */
    (void)dst;
    (void)n;
    return;
#endif
    for (; n && (dst & 7); n--)
        *(volatile uint8_t *)dst++ = 0;

    uint64_t *d = (uint64_t *)dst;
    uint64_t words = n / 8;
    for (; words >= 4; words -= 4, d += 4) {
        d[0] = 0;
        d[1] = 0;
        d[2] = 0;
        d[3] = 0;
    }
    for (; words; words--)
        *d++ = 0;

    dst = (uintptr_t)d;
    for (n &= 7; n; n--)
        *(volatile uint8_t *)dst++ = 0;
}

/* Zero [start, end), leaving out the loader's own [_start, _end) if the span straddles it
 * (the loader's image -- code, archive, stack -- must survive its own unpack). */
void zero_span(uint64_t start, uint64_t end)
{
    uint64_t ls = (uintptr_t)_start, le = (uintptr_t)_end;

    if (end <= ls || start >= le) {
        zero_bytes(start, end - start);
        return;
    }
    if (start < ls)
        zero_bytes(start, ls - start);
    if (end > le)
        zero_bytes(le, end - le);
}

/* The lowest-placed non-empty PT_LOAD that ends above done, or NULL. */
static const struct segment *next_above(const struct image *img, uint64_t done)
{
    const struct segment *next = NULL;

    for (unsigned i = 0; i < img->nseg; i++) {
        const struct segment *s = &img->seg[i];

        if (s->memsz && s->paddr + s->memsz > done && (!next || s->paddr < next->paddr))
            next = s;
    }
    return next;
}

/*
 * Walk the segments in address order, not header order: the program headers need not be
 * sorted by p_paddr, and a walk in header order took a later-placed segment's bytes for a
 * hole and zeroed them after the copy (found by fuzzing: fuzz/regressions/cpio/).
 * Empty PT_LOADs occupy nothing and open no hole.
 */
void for_each_gap(const struct image *img, void (*fn)(uint64_t start, uint64_t end))
{
    uint64_t done = img->min_paddr;     /* everything below has a segment */
    const struct segment *s;

    while ((s = next_above(img, done)) != NULL) {
        if (s->paddr > done)
            fn(done, s->paddr);
        done = s->paddr + s->memsz;     /* > done: the walk always moves on */
    }
}

/*
 * ZERO_SPAN (mmu-off, seL4's way): zero the whole span, then copy every PT_LOAD with the
 * 8-byte loops above -- each destination byte of the file is written twice.
 * ZERO_GAPS (early-mmu, fallback): every byte is written once -- the file bytes by copy_wide
 * (copy.S: 16-byte ldp/stp, also when source and destination are not co-aligned), zeros only
 * where the file has none: each PT_LOAD's memsz - filesz tail and the holes between PT_LOADs.
 */
void unpack_image(const struct image *img, enum zero_policy policy)
{
    if (policy == ZERO_SPAN) {
        zero_span(img->min_paddr, img->max_paddr);
        for (unsigned i = 0; i < img->nseg; i++)
            copy_bytes(img->seg[i].paddr, img->seg[i].src, img->seg[i].filesz);
        return;
    }
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct segment *s = &img->seg[i];

        copy_wide(s->paddr, s->src, s->filesz);
        zero_bytes(s->paddr + s->filesz, s->memsz - s->filesz);
    }
    for_each_gap(img, zero_span);
}
