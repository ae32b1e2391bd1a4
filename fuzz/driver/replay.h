/*
 * The reference elfloader's use of its parsers (images/elfloader/main.c), replayed on host
 * memory: find kernel.elf, read and place it, reserve kernel.dtb, then read, relocate and
 * place every other regular member. The parsers themselves (cpio.c, elf.c, and for_each_gap
 * and copy_bytes from unpack.c) are the guest's own files, compiled for the host.
 *
 * Whatever the loader would accept is then checked against what the loader is about to do
 * with it; a broken promise aborts, which libFuzzer reports as a crash.
 */
#ifndef FUZZ_REPLAY_H
#define FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* The input is a newc archive, as linked into the loader. */
void replay_archive(const uint8_t *data, size_t size);

/* The input is one ELF file: read it as the kernel, then as a relocated user image. */
void replay_elf(const uint8_t *data, size_t size);

#endif
