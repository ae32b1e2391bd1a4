#include "elfloader/cpio.h"

/*
 * newc layout: a 110-byte ASCII header, the name (namesize bytes including its NUL), padding
 * to a multiple of 4, the file data, padding to a multiple of 4. The header is the magic
 * "070701" followed by 13 fields of 8 hex digits.
 */
#define NEWC_HEADER_SIZE 110u
#define NEWC_FIELD_MODE  1u
#define NEWC_FIELD_SIZE  6u
#define NEWC_FIELD_NAMESIZE 11u

bool str_equal(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static bool has_newc_magic(const uint8_t *h)
{
    static const char magic[] = "07070";

    for (unsigned i = 0; i < 5; i++) {
        if (h[i] != (uint8_t)magic[i])
            return false;
    }
    return h[5] == '1' || h[5] == '2';
}

/* Parse 8 hex digits; false if any is not a hex digit. */
static bool parse_hex8(const uint8_t *p, uint32_t *out)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < 8; i++) {
        uint8_t c = p[i];
        uint32_t d;

        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        v = (v << 4) | d;
    }
    *out = v;
    return true;
}

static bool header_field(const uint8_t *h, unsigned idx, uint32_t *out)
{
    return parse_hex8(h + 6 + 8 * idx, out);
}

static const char *strip_dot_slash(const char *name)
{
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    return name;
}

enum cpio_status cpio_next(const uint8_t *archive, uint64_t len, uint64_t *offset,
                           struct cpio_member *m)
{
    uint64_t off = *offset;
    uint32_t mode, size, namesize;

    if (off >= len)
        return CPIO_END;
    if (len - off < NEWC_HEADER_SIZE)
        return CPIO_CORRUPT;

    const uint8_t *h = archive + off;
    if (!has_newc_magic(h) || !header_field(h, NEWC_FIELD_MODE, &mode) ||
        !header_field(h, NEWC_FIELD_SIZE, &size) ||
        !header_field(h, NEWC_FIELD_NAMESIZE, &namesize) || namesize == 0)
        return CPIO_CORRUPT;

    uint64_t name_off = off + NEWC_HEADER_SIZE;
#ifdef FUZZ_CONTROL_CPIO_NAMESIZE
    /* NEGATIVE CONTROL for the fuzzer only (fuzz/Makefile; never in a guest build): the
     * name's NUL left out of its length, an off-by-one tests/test_fuzz.py must see caught. */
    uint64_t data_off = ALIGN_UP(name_off + namesize - 1, 4);
#else
    uint64_t data_off = ALIGN_UP(name_off + namesize, 4);
#endif
    if (data_off > len || len - data_off < size)
        return CPIO_CORRUPT;

    const char *name = (const char *)(archive + name_off);
    if (name[namesize - 1] != '\0')
        return CPIO_CORRUPT;
    if (str_equal(name, "TRAILER!!!"))
        return CPIO_END;

    m->name = strip_dot_slash(name);
    m->data = archive + data_off;
    m->size = size;
    m->mode = mode;
    *offset = ALIGN_UP(data_off + size, 4);
    return CPIO_MEMBER;
}

bool cpio_find(const uint8_t *archive, uint64_t len, const char *name, struct cpio_member *m)
{
    uint64_t off = 0;

    while (cpio_next(archive, len, &off, m) == CPIO_MEMBER) {
        if ((m->mode & CPIO_MODE_TYPE) == CPIO_MODE_REGULAR && str_equal(m->name, name))
            return true;
    }
    return false;
}
