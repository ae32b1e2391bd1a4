/* 32-bit device register access. volatile keeps every access, in order, exactly once. */
#ifndef COMMON_MMIO_H
#define COMMON_MMIO_H

#include "common/types.h"

static inline uint32_t mmio_read32(uintptr_t addr)
{
    return *(volatile uint32_t *)addr;
}

static inline void mmio_write32(uintptr_t addr, uint32_t val)
{
    *(volatile uint32_t *)addr = val;
}

#endif
