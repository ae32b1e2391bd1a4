/* Console output: strings, numbers and a tiny printf. Every '\n' goes out as CRLF.
 * No global state (the probe must not write .data/.bss before it checked them). */
#ifndef COMMON_PRINT_H
#define COMMON_PRINT_H

#include "common/types.h"

void con_putc(char c);
void con_puts(const char *s);                    /* no newline appended */
void con_hex(uint64_t v);                        /* lower-case hex, no prefix */
void con_hex0x(uint64_t v);                      /* lower-case hex with 0x */
void con_dec(uint64_t v);                        /* unsigned decimal */

/* printf-lite. Conversions: %s %c %d %u %x %p and the length modifier l (64-bit);
 * flags: '#' (0x prefix on %x), '0' (zero pad); a field width. %p is %#lx. */
void con_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
