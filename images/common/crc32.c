#include "common/crc32.h"

static inline uint32_t crc32_byte(uint32_t crc, uint8_t b)
{
    __asm__("crc32b %w0, %w0, %w1" : "+r"(crc) : "r"((uint32_t)b));
    return crc;
}

static inline uint32_t crc32_dword(uint32_t crc, uint64_t d)
{
    __asm__("crc32x %w0, %w0, %x1" : "+r"(crc) : "r"(d));
    return crc;
}

uint32_t crc32(uintptr_t addr, uint64_t len)
{
    const volatile uint8_t *p = (const volatile uint8_t *)addr;
    uint32_t crc = 0xffffffffu;

    /* Byte head up to the first 8-byte boundary. */
    while (len && ((uintptr_t)p & 7)) {
        crc = crc32_byte(crc, *p++);
        len--;
    }
    /* Aligned 8-byte words: the bytes of a little-endian word are in memory order. */
    const volatile uint64_t *w = (const volatile uint64_t *)p;
    for (; len >= 8; len -= 8)
        crc = crc32_dword(crc, *w++);
    /* Byte tail. */
    p = (const volatile uint8_t *)w;
    while (len--)
        crc = crc32_byte(crc, *p++);
    return ~crc;
}
