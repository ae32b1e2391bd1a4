/*
 * Stretch: the same idea over seL4_tools' elfloader (libcpio + the elfloader's ELF reader),
 * built from the pinned upstream sources at fuzz time, never copied here. The input is the
 * archive; the driver follows load_images() in elfloader-tool/src/common.c up to the copy:
 * find kernel.elf, elf_checkFile, elf_getMemoryBounds, and read each PT_LOAD's file bytes
 * as unpack_elf_to_paddr() would (into a host buffer instead of physical memory).
 * Findings are reported (fuzz/README.md), upstream is not patched.
 */
#include <cpio/cpio.h>
#include <binaries/elf/elf.h>
#include <strops.h>

void *malloc(size_t n);
void free(void *p);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What unpack_elf_to_paddr reads: every PT_LOAD's [p_offset, p_offset + p_filesz). */
static void read_segments(void const *elf)
{
    for (unsigned i = 0; i < elf_getNumProgramHeaders(elf); i++) {
        if (elf_getProgramHeaderType(elf, i) != PT_LOAD)
            continue;
        uint64_t filesz = elf_getProgramHeaderFileSize(elf, i);
        uint64_t offset = elf_getProgramHeaderOffset(elf, i);
        if (filesz > (1u << 20))
            continue;           /* a real loader would write that much to memory; skip */
        uint8_t *copy = malloc(filesz ? filesz : 1);
        memcpy(copy, (const uint8_t *)elf + offset, filesz);
        free(copy);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned long elf_size = 0;
    uint64_t lo, hi;
    void const *elf = cpio_get_file(data, size, "kernel.elf", &elf_size);

    if (!elf || elf_checkFile(elf) != 0)
        return 0;
    if (elf_getMemoryBounds(elf, 1, &lo, &hi) != 1)
        return 0;
    read_segments(elf);
    return 0;
}
