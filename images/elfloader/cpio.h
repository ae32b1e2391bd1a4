/* A reader for "newc" CPIO archives (magic 070701, or 070702 with checksums, not verified),
 * the format seL4's build tools use for the elfloader's payload. */
#ifndef ELFLOADER_CPIO_H
#define ELFLOADER_CPIO_H

#include "common/types.h"

#define CPIO_MODE_TYPE    0170000u
#define CPIO_MODE_REGULAR 0100000u

struct cpio_member {
    const char *name;           /* NUL-terminated, a leading "./" removed */
    const uint8_t *data;        /* the file bytes (4-byte aligned in the archive) */
    uint64_t size;
    uint32_t mode;
};

enum cpio_status { CPIO_MEMBER, CPIO_END, CPIO_CORRUPT };

/* Read the member at *offset and advance *offset to the next one. CPIO_END at the trailer
 * (or at the end of the bytes), CPIO_CORRUPT if a header or size is invalid. */
enum cpio_status cpio_next(const uint8_t *archive, uint64_t len, uint64_t *offset,
                           struct cpio_member *m);

/* Find the first regular file called name. */
bool cpio_find(const uint8_t *archive, uint64_t len, const char *name, struct cpio_member *m);

bool str_equal(const char *a, const char *b);

#endif
