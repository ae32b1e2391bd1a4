/* The early identity map: DRAM as Normal write-back memory, the console UART as Device memory,
 * nothing else. 4 KiB granule, 39-bit VA (T0SZ = 25: the walk starts at level 1), DRAM in
 * 2 MiB blocks. Page tables come from a fixed pool of PT_PAGES pages in .bss. */
#ifndef ELFLOADER_MMU_H
#define ELFLOADER_MMU_H

#include "common/types.h"

/* Table pages the map needs, and pages the pool has. */
unsigned mmu_pages_needed(void);
unsigned mmu_pages_available(void);

/* Build the tables (MMU off) and turn MMU, D-cache and I-cache on at the current EL.
 * Only call when mmu_pages_needed() <= mmu_pages_available(). */
void mmu_enable(void);

#endif
