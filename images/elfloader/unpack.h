/* The one copy/zero implementation of the loader, used in every mode. */
#ifndef ELFLOADER_UNPACK_H
#define ELFLOADER_UNPACK_H

#include "common/types.h"
#include "elfloader/elf.h"

enum zero_policy {
    /* mmu-off, like seL4: zero the image's whole destination span [min paddr, max end) first
     * (except the loader's own bytes, should the span straddle it), then copy the file bytes. */
    ZERO_SPAN,
    /* early-mmu and fallback: copy the file bytes (copy_wide), zero only what the file leaves:
     * memsz - filesz of each PT_LOAD and the holes between PT_LOADs. */
    ZERO_GAPS,
};

/* Copy the PT_LOADs of img to their destinations, zeroing as the policy says. */
void unpack_image(const struct image *img, enum zero_policy policy);

/* The primitives, with aligned 8-byte accesses only (plus single bytes at the ends). */
void copy_bytes(uintptr_t dst, const uint8_t *src, uint64_t n);
void zero_bytes(uintptr_t dst, uint64_t n);

/* Zero [start, end) except the loader's own bytes. */
void zero_span(uint64_t start, uint64_t end);

/* copy.S: 16-byte ldp/stp whatever the co-alignment, aligned accesses only (MMU on or off). */
void copy_wide(uintptr_t dst, const uint8_t *src, uint64_t n);

/* Call fn for each hole of img's span [min_paddr, max_paddr) that no PT_LOAD covers. */
void for_each_gap(const struct image *img, void (*fn)(uint64_t start, uint64_t end));

#endif
