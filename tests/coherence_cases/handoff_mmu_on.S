/* Jumps to the kernel with MMU and caches still on -> handoff-state. */
#include "common.h"
    .text
    .global _start
_start:
    mmu_setup ATTR_DEVICE
    caches_on
    b handoff
    handoff_exit
