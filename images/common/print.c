#include <stdarg.h>
#include "common/print.h"
#include "common/uart.h"

#ifndef SEL4_CONSOLE
#define SEL4_CONSOLE 0
#endif

/* CONSOLE=sel4 builds drop every "@h" line, so the loader's console is exactly
 * the seL4 elfloader's. A line is dropped from its "@h " to its newline. */
static void emit(char c)
{
    if (c == '\n')
        uart_putc('\r');
    uart_putc(c);
}

void con_putc(char c)
{
    static unsigned column;      /* characters since the last newline */
    static bool dropping;        /* inside an "@h" line */
    static char held[3];         /* the start of a line, until we know what it is */

    if (!SEL4_CONSOLE) {
        emit(c);
        return;
    }
    if (c == '\n') {
        for (unsigned i = 0; !dropping && column < 3 && i < column; i++)
            emit(held[i]);      /* a line shorter than "@h " */
        if (!dropping)
            emit(c);
        column = 0;
        dropping = false;
        return;
    }
    if (column < 3) {
        held[column++] = c;
        if (column == 3 && held[0] == '@' && held[1] == 'h' && held[2] == ' ')
            dropping = true;
        else if (column == 3)
            for (unsigned i = 0; i < 3; i++)
                emit(held[i]);
        return;
    }
    column++;
    if (!dropping)
        emit(c);
}

void con_puts(const char *s)
{
    while (*s)
        con_putc(*s++);
}

/* Format v in base 10 or 16 into the end of buf (at least 21 bytes); return the first digit. */
static char *format_number(char *end, uint64_t v, unsigned base)
{
    static const char digits[] = "0123456789abcdef";
    char *p = end;

    *--p = '\0';
    do {
        *--p = digits[v % base];
        v /= base;
    } while (v);
    return p;
}

static size_t length(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

static void put_padded(const char *s, unsigned width, char pad)
{
    for (size_t n = length(s); n < width; n++)
        con_putc(pad);
    con_puts(s);
}

static void put_number(uint64_t v, unsigned base, bool prefix, unsigned width, char pad)
{
    char buf[24];

    if (prefix) {
        con_puts("0x");
        width = width > 2 ? width - 2 : 0;
    }
    put_padded(format_number(buf + sizeof(buf), v, base), width, pad);
}

void con_hex(uint64_t v)
{
    put_number(v, 16, false, 0, ' ');
}

void con_hex0x(uint64_t v)
{
    put_number(v, 16, true, 0, ' ');
}

void con_dec(uint64_t v)
{
    put_number(v, 10, false, 0, ' ');
}

static void put_signed(int64_t v, unsigned width, char pad)
{
    if (v < 0) {
        con_putc('-');
        put_number((uint64_t)0 - (uint64_t)v, 10, false, width ? width - 1 : 0, pad);
    } else {
        put_number((uint64_t)v, 10, false, width, pad);
    }
}

void con_printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            con_putc(*p);
            continue;
        }
        p++;
        bool prefix = false, wide = false;
        char pad = ' ';
        unsigned width = 0;

        for (; *p == '#' || *p == '0'; p++) {
            if (*p == '#')
                prefix = true;
            else
                pad = '0';
        }
        for (; *p >= '0' && *p <= '9'; p++)
            width = width * 10 + (unsigned)(*p - '0');
        if (*p == 'l') {
            wide = true;
            p++;
        }
        switch (*p) {
        case 's':
            put_padded(va_arg(ap, const char *), width, ' ');
            break;
        case 'c':
            con_putc((char)va_arg(ap, int));
            break;
        case 'd':
            put_signed(wide ? va_arg(ap, int64_t) : va_arg(ap, int), width, pad);
            break;
        case 'u':
            put_number(wide ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, false, width, pad);
            break;
        case 'x':
            put_number(wide ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, prefix, width, pad);
            break;
        case 'p':
            put_number((uintptr_t)va_arg(ap, void *), 16, true, width, pad);
            break;
        case '%':
            con_putc('%');
            break;
        case '\0':
            p--;            /* a lone '%' at the end: stop at the terminator */
            break;
        default:
            con_putc('%');
            con_putc(*p);
            break;
        }
    }
    va_end(ap);
}
