/*
 * Host stand-ins for what the loader's parser files reference but the host does not have.
 *
 * cpio.c and elf.c are pure C and need nothing. unpack.c refers to copy_wide (copy.S,
 * AArch64 ldp/stp) in unpack_image, which the fuzzers never call: the stand-in below keeps
 * the link honest and aborts loudly should a driver ever reach it. unpack.c also names the
 * linker symbols _start and _end (for zero_span); on the host the C runtime's own symbols of
 * those names satisfy the link, and zero_span is never called here either.
 */
#include <stdio.h>
#include <stdlib.h>

#include "elfloader/unpack.h"

void copy_wide(uintptr_t dst, const uint8_t *src, uint64_t n)
{
    (void)dst;
    (void)src;
    (void)n;
    fprintf(stderr, "shim: copy_wide is guest-only (copy.S); no host driver may call it\n");
    abort();
}
