/* Reading and checking the ELF64 images of the archive (little-endian AArch64 ET_EXEC). */
#ifndef ELFLOADER_ELF_H
#define ELFLOADER_ELF_H

#include "common/types.h"

#define MAX_SEGS 16

#define PF_X 1u
#define PF_W 2u
#define PF_R 4u

/* One PT_LOAD: where its bytes come from and where they go. */
struct segment {
    uint64_t paddr;             /* destination (physical; the loader runs identity mapped) */
    uint64_t vaddr;             /* p_vaddr, for reports only */
    uint64_t filesz, memsz;
    const uint8_t *src;         /* the file bytes inside the archive member */
    uint32_t flags;             /* PF_R | PF_W | PF_X */
};

struct image {
    const char *name;           /* "kernel", or the archive member's name */
    uint64_t entry;             /* e_entry (virtual) */
    uint64_t entry_paddr;       /* e_entry converted through the PT_LOAD that holds it */
    uint64_t min_vaddr, max_vaddr;   /* [min, max) over the PT_LOADs */
    uint64_t min_paddr, max_paddr;   /* [min, max) of the destinations */
    unsigned nseg;
    struct segment seg[MAX_SEGS];
};

/* A half-open physical range [start, end). */
struct range {
    uint64_t start, end;
};

enum elf_status {
    ELF_OK,
    ELF_INVALID,                /* not an ELF we can load, or a PT_LOAD outside the file */
    ELF_OVERLAPS_LOADER,        /* a destination overlaps [_start, _end) of the loader */
    ELF_BAD_DESTINATION,        /* outside DRAM, or overlapping another destination */
};

/* Parse and check the file; destinations are the ELF's own physical addresses (p_paddr). */
enum elf_status elf_read(const uint8_t *file, uint64_t size, const char *name,
                         struct image *img);

/* Move an image so that its lowest vaddr lands at base (plus the page offset of that vaddr);
 * segments keep their distances in virtual memory. Used for user images, as seL4 does. */
void elf_relocate(struct image *img, uint64_t base);

/* Check every destination: inside DRAM, clear of the loader, clear of the ranges already
 * taken and of each other. */
enum elf_status elf_check_destinations(const struct image *img, const struct range *taken,
                                       unsigned ntaken, struct range loader);

bool ranges_overlap(struct range a, struct range b);
bool range_in_dram(struct range r);

#endif
