/*
 * main.c's sequence over the loader's parsers, on host memory (see replay.h).
 *
 * The parsers decide what the loader will do; this file checks, for every image they accept,
 * the promises the rest of the loader relies on without checking again:
 *   - every byte it will read (a member, a segment's file bytes, the DTB) is inside the input;
 *   - every byte it will write is inside DRAM, clear of the loader, of what was placed
 *     before, and (for the zeros between segments) clear of the image's own file bytes --
 *     both for mmu-off's whole-span zeroing and for early-mmu's gaps-only zeroing;
 *   - the entry point lies in a segment that is loaded.
 * The copy and zero loops of unpack.c then run on host buffers with the same alignments the
 * guest would see, and the result is compared with the source.
 *
 * Only the orchestration (which member, in which order, with which next-free address) is
 * repeated here: main.c's own glue drives hardware (UART, timer, MMU) and cannot run on a host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elfloader/cpio.h"
#include "elfloader/elf.h"
#include "elfloader/unpack.h"
#include "replay.h"

/* main.c's limits (private to main.c, repeated here). */
#define MAX_IMAGES 8u
#define PAGE_SIZE  4096u
#define FDT_MAGIC  0xd00dfeedu

/* How much of a segment's memsz - filesz tail is zeroed on the host: enough to run every
 * branch of zero_bytes, small enough for tens of thousands of runs a second. */
#define ZERO_TAIL_MAX 4096u

/* Where user images go in the lone-ELF run (main.c: right after the kernel and DTB). */
#define USER_BASE ((uint64_t)DRAM_BASE + 0x01000000u)

struct loader_state {
    const uint8_t *bytes;       /* the input: the archive, or the lone ELF */
    uint64_t len;
    struct range loader;        /* the loader's own [_start, _end) */
    struct range taken[MAX_IMAGES * MAX_SEGS + 1];
    unsigned ntaken;
    struct image images[MAX_IMAGES];
    unsigned nimages;
    uint64_t next_free;
};

/* ---------------------------------------------------------------------------------------- */
/* Promises                                                                                   */

/* A broken promise is a bug in the loader: abort, so that libFuzzer records the input. */
static void broken(const char *promise, const char *image)
{
    fprintf(stderr, "replay: broken promise: %s (image '%s')\n", promise, image);
    abort();
}

/* [p, p + n) lies inside [base, base + len). */
static bool inside(const void *p, uint64_t n, const uint8_t *base, uint64_t len)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;

    return a >= b && a - b <= len && len - (a - b) >= n;
}

/* Two ranges share a byte (an empty range shares none, wherever it lies). */
static bool share_bytes(struct range a, struct range b)
{
    return a.start < a.end && b.start < b.end && ranges_overlap(a, b);
}

static bool overlaps_taken(const struct loader_state *st, struct range r)
{
    for (unsigned i = 0; i < st->ntaken; i++) {
        if (share_bytes(r, st->taken[i]))
            return true;
    }
    return false;
}

/* A member the CPIO reader returned: its name and bytes lie inside the archive. */
static void check_member(const struct loader_state *st, const struct cpio_member *m)
{
    uint64_t name_room = st->len - ((uintptr_t)m->name - (uintptr_t)st->bytes);

    if (!inside(m->name, 1, st->bytes, st->len) || !memchr(m->name, 0, name_room))
        broken("member name outside the archive", "?");
    if (!inside(m->data, m->size, st->bytes, st->len))
        broken("member data outside the archive", m->name);
}

/* The loader copies each PT_LOAD's file bytes and trusts them to be in the member. */
static void check_sources(const struct image *img, const uint8_t *file, uint64_t size)
{
    if (img->nseg == 0 || img->nseg > MAX_SEGS)
        broken("segment count out of range", img->name);
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct segment *s = &img->seg[i];

        if (s->filesz > s->memsz)
            broken("filesz larger than memsz", img->name);
        if (!inside(s->src, s->filesz, file, size))
            broken("segment file bytes outside the member", img->name);
    }
}

/* A destination the loader writes (copy or zeros) must be DRAM nobody else owns. */
static void check_destination(const struct loader_state *st, struct range r, bool loader_ok,
                              const char *what, const char *image)
{
    if (r.start == r.end)
        return;
    if (!range_in_dram(r))
        broken(what, image);
    if (!loader_ok && ranges_overlap(r, st->loader))
        broken(what, image);
    if (overlaps_taken(st, r))
        broken(what, image);
}

static struct range seg_range(const struct segment *s)
{
    return (struct range){ s->paddr, s->paddr + s->memsz };
}

/* The entry point must be a loaded byte (main.c jumps to entry_paddr). */
static void check_entry(const struct image *img)
{
    for (unsigned i = 0; i < img->nseg; i++) {
        struct range r = seg_range(&img->seg[i]);

        if (img->entry_paddr >= r.start && img->entry_paddr < r.end)
            return;
    }
    broken("entry point outside every loaded segment", img->name);
}

/* for_each_gap passes no context: the gap checker finds its image and state here. */
static const struct loader_state *gap_state;
static const struct image *gap_image;

/* early-mmu zeroes the holes between PT_LOADs after copying: a hole must not cover any of
 * the image's own file bytes, nor anything placed before. */
static void check_gap(uint64_t start, uint64_t end)
{
    struct range gap = { start, end };

    if (start > end)
        broken("gap with its end below its start", gap_image->name);
    /* zero_span leaves the loader's own bytes alone, so the loader may sit in a gap. */
    check_destination(gap_state, gap, true, "zeroed gap outside DRAM or over a placed range",
                      gap_image->name);
    for (unsigned i = 0; i < gap_image->nseg; i++) {
        if (share_bytes(gap, seg_range(&gap_image->seg[i])))
            broken("zeroed gap overlaps the image's own segment", gap_image->name);
    }
}

/* Everything the loader will write for this image, under both zero policies. */
static void check_writes(const struct loader_state *st, const struct image *img)
{
    for (unsigned i = 0; i < img->nseg; i++) {
        check_destination(st, seg_range(&img->seg[i]), false,
                          "segment outside DRAM, over the loader or over a placed range",
                          img->name);
        for (unsigned j = 0; j < i; j++) {
            if (share_bytes(seg_range(&img->seg[i]), seg_range(&img->seg[j])))
                broken("two segments share a destination", img->name);
        }
    }
    /* mmu-off (ZERO_SPAN) zeroes [min_paddr, max_paddr) whole, except the loader. */
    check_destination(st, (struct range){ img->min_paddr, img->max_paddr }, true,
                      "mmu-off zeroes outside DRAM or over a placed range", img->name);
    /* early-mmu (ZERO_GAPS) zeroes each hole between segments. */
    gap_state = st;
    gap_image = img;
    for_each_gap(img, check_gap);
}

/* ---------------------------------------------------------------------------------------- */
/* The copy and zero loops on host buffers                                                   */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* A buffer whose size is exactly its whole aligned words (at least one): copy_bytes may load
 * any aligned word holding a wanted byte, and ASan flags one more. */
static uint8_t *alloc_words(uint64_t bytes)
{
    uint64_t size = ALIGN_UP(bytes ? bytes : 1, 8);
    uint8_t *p = aligned_alloc(8, size);

    if (!p)
        abort();
    return p;
}

/*
 * Unpack one segment as the guest would, on the host: the source keeps its offset within an
 * aligned word (archive members are only 4-byte aligned), the destination keeps paddr's.
 * Then: the file bytes arrived, the tail is zero, nothing around was touched.
 */
static void unpack_segment(const struct segment *s, const char *image)
{
    unsigned skew = (uintptr_t)s->src & 7, dskew = s->paddr & 7;
    uint64_t tail = min_u64(s->memsz - s->filesz, ZERO_TAIL_MAX);
    uint64_t dsize = dskew + s->filesz + tail + 8;
    uint8_t *stage = alloc_words(skew + s->filesz);
    uint8_t *dest = alloc_words(dsize);

    memcpy(stage + skew, s->src, s->filesz);        /* ASan: the source is in the input */
    memset(dest, 0xa5, dsize);
    copy_bytes((uintptr_t)(dest + dskew), stage + skew, s->filesz);
    zero_bytes((uintptr_t)(dest + dskew + s->filesz), tail);

    for (uint64_t i = 0; i < dsize; i++) {
        uint64_t at = i - dskew;
        uint8_t want = i < dskew ? 0xa5 : at < s->filesz ? s->src[at]
                     : at < s->filesz + tail ? 0 : 0xa5;

        if (dest[i] != want)
            broken("copy_bytes/zero_bytes wrote the wrong bytes", image);
    }
    free(stage);
    free(dest);
}

/* ---------------------------------------------------------------------------------------- */
/* main.c's sequence                                                                          */

static void begin(struct loader_state *st, const uint8_t *bytes, uint64_t len)
{
    memset(st, 0, sizeof(*st));
    st->bytes = bytes;
    st->len = len;
    /* The loader's image holds its code and the archive. */
    st->loader = (struct range){ LOADER_BASE, LOADER_BASE + ALIGN_UP(0x40000u + len, PAGE_SIZE) };
}

static void take_image(struct loader_state *st, const struct image *img)
{
    for (unsigned i = 0; i < img->nseg; i++) {
        if (img->seg[i].memsz)
            st->taken[st->ntaken++] = seg_range(&img->seg[i]);
    }
}

/* main.c's prepare_image: read, place (user images after what is placed), check. False
 * where the loader would stop with "ERROR: Could not load ... ELF". */
static bool prepare_image(struct loader_state *st, const uint8_t *file, uint64_t size,
                          const char *name, bool kernel)
{
    if (st->nimages == MAX_IMAGES)
        return false;

    struct image *img = &st->images[st->nimages];
    enum elf_status status = elf_read(file, size, name, img);

    if (status == ELF_OK && !kernel)
        elf_relocate(img, st->next_free);
    if (status == ELF_OK)
        status = elf_check_destinations(img, st->taken, st->ntaken, st->loader);
    if (status != ELF_OK)
        return false;

    check_sources(img, file, size);
    check_entry(img);
    check_writes(st, img);
    for (unsigned i = 0; i < img->nseg; i++)
        unpack_segment(&img->seg[i], name);

    take_image(st, img);
    st->nimages++;
    st->next_free = ALIGN_UP(img->max_paddr, PAGE_SIZE);
    return true;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* main.c's plan_dtb: reserve kernel.dtb's destination after the kernel. False where the
 * loader would stop. */
static bool plan_dtb(struct loader_state *st)
{
    struct cpio_member m;

    if (!cpio_find(st->bytes, st->len, "kernel.dtb", &m))
        return true;
    check_member(st, &m);
    if (m.size < 8 || be32(m.data) != FDT_MAGIC || be32(m.data + 4) > m.size)
        return false;

    struct range r = { st->next_free, st->next_free + be32(m.data + 4) };
    if (!range_in_dram(r) || ranges_overlap(r, st->loader))
        return false;
    check_destination(st, r, false, "DTB over a placed range", "kernel.dtb");
    st->taken[st->ntaken++] = r;
    st->next_free = ALIGN_UP(r.end, PAGE_SIZE);
    return true;
}

/* main.c's load_user_images: every other regular member, in archive order. */
static void place_user_images(struct loader_state *st)
{
    struct cpio_member m;
    uint64_t off = 0, before;

    for (;;) {
        before = off;
        if (cpio_next(st->bytes, st->len, &off, &m) != CPIO_MEMBER)
            return;
        check_member(st, &m);
        if (off <= before)
            broken("cpio_next did not advance", m.name);
        if ((m.mode & CPIO_MODE_TYPE) != CPIO_MODE_REGULAR || str_equal(m.name, "kernel.elf") ||
            str_equal(m.name, "kernel.dtb"))
            continue;
        if (!prepare_image(st, m.data, m.size, m.name, false))
            return;
    }
}

void replay_archive(const uint8_t *data, size_t size)
{
    struct loader_state st;
    struct cpio_member m;

    begin(&st, data, size);
    if (!cpio_find(data, size, "kernel.elf", &m))
        return;
    check_member(&st, &m);
    if (!prepare_image(&st, m.data, m.size, "kernel", true) || !plan_dtb(&st))
        return;
    place_user_images(&st);
}

void replay_elf(const uint8_t *data, size_t size)
{
    struct loader_state st;

    begin(&st, data, size);
    prepare_image(&st, data, size, "kernel", true);

    begin(&st, data, size);
    st.next_free = USER_BASE;
    prepare_image(&st, data, size, "app", false);
}
