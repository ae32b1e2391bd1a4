#include "elfloader/elf.h"

#define EHDR_SIZE   64u
#define PHDR_SIZE   56u
#define ET_EXEC     2u
#define EM_AARCH64  183u
#define PT_LOAD     1u
#define PAGE_SIZE   4096u

/*
 * The archive only guarantees 4-byte alignment of a member, and with the MMU off an
 * unaligned load faults: ELF fields are therefore read byte by byte (little-endian).
 */
static uint64_t le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;

    for (unsigned i = bytes; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

bool ranges_overlap(struct range a, struct range b)
{
    return a.start < b.end && b.start < a.end;
}

bool range_in_dram(struct range r)
{
    uint64_t lo = (uint64_t)DRAM_BASE, hi = (uint64_t)DRAM_BASE + (uint64_t)DRAM_SIZE;

    return r.start <= r.end && r.start >= lo && r.end <= hi;
}

static bool ehdr_valid(const uint8_t *f, uint64_t size)
{
    if (size < EHDR_SIZE)
        return false;
    if (f[0] != 0x7f || f[1] != 'E' || f[2] != 'L' || f[3] != 'F')
        return false;
    if (f[4] != 2 /* ELFCLASS64 */ || f[5] != 1 /* ELFDATA2LSB */ || f[6] != 1 /* EV_CURRENT */)
        return false;
    if (le(f + 16, 2) != ET_EXEC || le(f + 18, 2) != EM_AARCH64)
        return false;

    uint64_t phoff = le(f + 32, 8);
    uint64_t phentsize = le(f + 54, 2), phnum = le(f + 56, 2);
    if (phentsize != PHDR_SIZE || phnum == 0)
        return false;
    /* The program header table lies inside the file (no overflow: phnum < 2^16). */
    return phoff <= size && (size - phoff) / PHDR_SIZE >= phnum;
}

/* Fill one segment from a PT_LOAD header; false if its file bytes are not inside the file. */
static bool read_load(const uint8_t *f, uint64_t size, const uint8_t *ph, struct segment *s)
{
    uint64_t offset = le(ph + 8, 8);

    s->flags = (uint32_t)le(ph + 4, 4);
    s->vaddr = le(ph + 16, 8);
    s->paddr = le(ph + 24, 8);
    s->filesz = le(ph + 32, 8);
    s->memsz = le(ph + 40, 8);
    if (s->filesz > s->memsz || offset > size || size - offset < s->filesz)
        return false;
    /* Only now: f + a p_offset beyond the file is undefined, and can wrap the address
     * (found by fuzzing: fuzz/regressions/cpio/). */
    s->src = f + offset;
    /* Neither end may wrap around the address space. */
    return s->vaddr + s->memsz >= s->vaddr && s->paddr + s->memsz >= s->paddr;
}

static void compute_bounds(struct image *img)
{
    img->min_vaddr = img->min_paddr = ~(uint64_t)0;
    img->max_vaddr = img->max_paddr = 0;
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct segment *s = &img->seg[i];

        /* An empty PT_LOAD occupies nothing, and elf_check_destinations skips it: counting
         * it here let its unchecked p_paddr stretch the span that mmu-off zeroes -- down to
         * address 0, over the devices (found by fuzzing: fuzz/regressions/cpio/). */
        if (s->memsz == 0)
            continue;
        if (s->vaddr < img->min_vaddr)
            img->min_vaddr = s->vaddr;
        if (s->vaddr + s->memsz > img->max_vaddr)
            img->max_vaddr = s->vaddr + s->memsz;
        if (s->paddr < img->min_paddr)
            img->min_paddr = s->paddr;
        if (s->paddr + s->memsz > img->max_paddr)
            img->max_paddr = s->paddr + s->memsz;
    }
}

/* Convert e_entry to a physical address through the PT_LOAD that contains it. */
static bool convert_entry(struct image *img)
{
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct segment *s = &img->seg[i];

        if (img->entry >= s->vaddr && img->entry - s->vaddr < s->memsz) {
            img->entry_paddr = s->paddr + (img->entry - s->vaddr);
            return true;
        }
    }
    return false;
}

enum elf_status elf_read(const uint8_t *f, uint64_t size, const char *name, struct image *img)
{
    if (!ehdr_valid(f, size))
        return ELF_INVALID;

    uint64_t phoff = le(f + 32, 8), phnum = le(f + 56, 2);

    img->name = name;
    img->entry = le(f + 24, 8);
    img->nseg = 0;
    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = f + phoff + i * PHDR_SIZE;

        if (le(ph, 4) != PT_LOAD)
            continue;
        if (img->nseg == MAX_SEGS || !read_load(f, size, ph, &img->seg[img->nseg]))
            return ELF_INVALID;
        img->nseg++;
    }
    if (img->nseg == 0)
        return ELF_INVALID;
    compute_bounds(img);
    return convert_entry(img) ? ELF_OK : ELF_INVALID;
}

void elf_relocate(struct image *img, uint64_t base)
{
    uint64_t dest = base + (img->min_vaddr & (PAGE_SIZE - 1));

    for (unsigned i = 0; i < img->nseg; i++)
        img->seg[i].paddr = dest + (img->seg[i].vaddr - img->min_vaddr);
    compute_bounds(img);
    convert_entry(img);
}

static struct range seg_range(const struct segment *s)
{
    return (struct range){ s->paddr, s->paddr + s->memsz };
}

enum elf_status elf_check_destinations(const struct image *img, const struct range *taken,
                                       unsigned ntaken, struct range loader)
{
    for (unsigned i = 0; i < img->nseg; i++) {
        struct range r = seg_range(&img->seg[i]);

        if (r.start == r.end)
            continue;                   /* an empty PT_LOAD occupies nothing */
        if (ranges_overlap(r, loader))
            return ELF_OVERLAPS_LOADER;
        if (!range_in_dram(r))
            return ELF_BAD_DESTINATION;
        for (unsigned j = 0; j < ntaken; j++) {
            if (ranges_overlap(r, taken[j]))
                return ELF_BAD_DESTINATION;
        }
        for (unsigned j = 0; j < i; j++) {
            if (ranges_overlap(r, seg_range(&img->seg[j])))
                return ELF_BAD_DESTINATION;
        }
    }
    return ELF_OK;
}
