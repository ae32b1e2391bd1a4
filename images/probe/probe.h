/* The table of expected segments the host patches into the probe after linking
 * (harness/images/probe.py). Layout is fixed: little-endian, 8 + 16 * 32 bytes. */
#ifndef PROBE_PROBE_H
#define PROBE_PROBE_H

#include "common/types.h"

#define PROBE_MAGIC      0x58425250u    /* "PRBX" */
#define PROBE_MAX_SEGS   16
#define PROBE_SKIP_TABLE 1u             /* this segment holds the table itself */
#define PROBE_SKIP_STACK 2u             /* the probe's own stack */

struct probe_seg {
    uint64_t paddr, filesz, memsz;
    uint32_t crc32, flags;
};                                      /* 32 bytes */

struct probe_expected {
    uint32_t magic, count;
    struct probe_seg seg[PROBE_MAX_SEGS];
};

_Static_assert(sizeof(struct probe_seg) == 32, "probe_seg layout");
_Static_assert(sizeof(struct probe_expected) == 8 + 16 * 32, "probe_expected layout");

#endif
