/* Load with caches on (line cached clean), turn caches off, store with caches
 * off, turn them on again and load without invalidating: the cached copy is
 * stale -> stale-clean-line. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    ldr x11, =BUF
    ldr x2, [x11]
    caches_off
    mov x3, #0x77
    str x3, [x11]
    caches_on
    .global stale_load
stale_load:
    ldr x4, [x11]
    caches_off
    b handoff
    handoff_exit
