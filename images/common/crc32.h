/* zlib's CRC-32 (reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF),
 * computed with the ARMv8 CRC32 instructions (crc32x: 8 bytes, crc32b: 1 byte), which
 * implement exactly that polynomial without the initial/final inversion. */
#ifndef COMMON_CRC32_H
#define COMMON_CRC32_H

#include "common/types.h"

/* CRC-32 of len bytes at addr. Only aligned loads are used (with the MMU off all memory is
 * Device memory and an unaligned load faults). */
uint32_t crc32(uintptr_t addr, uint64_t len);

#endif
