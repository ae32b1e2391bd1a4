/* The ARM generic timer: the physical count (CNTPCT_EL0) and its frequency (CNTFRQ_EL0). */
#ifndef COMMON_TIMER_H
#define COMMON_TIMER_H

#include "common/types.h"

static inline uint64_t timer_ticks(void)
{
    uint64_t v;

    /* isb: CNTPCT_EL0 may be read speculatively/out of order; the barrier makes the read happen
     * after every instruction before it, so a mark really measures what came before it. */
    __asm__ volatile("isb\n\tmrs %0, cntpct_el0" : "=r"(v) : : "memory");
    return v;
}

static inline uint64_t timer_freq(void)
{
    uint64_t v;

    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v & 0xffffffffu;
}

#endif
