/* System register access for "the current exception level".
 *
 * The loader and the probe run at EL1, EL2 or EL3 depending on how they were started, and the
 * MMU/cache controls exist once per EL (SCTLR_EL1/2/3, TCR_ELx, MAIR_ELx, TTBR0_ELx). These
 * helpers read CurrentEL and use the register of that level. */
#ifndef COMMON_SYSREG_H
#define COMMON_SYSREG_H

#include "common/types.h"

#define SCTLR_M   (1ull << 0)     /* MMU enable */
#define SCTLR_A   (1ull << 1)     /* alignment check */
#define SCTLR_C   (1ull << 2)     /* data/unified cache enable */
#define SCTLR_I   (1ull << 12)    /* instruction cache enable */
#define SCTLR_WXN (1ull << 19)    /* writable implies execute-never */

#define HCR_E2H   (1ull << 34)    /* EL2 host (VHE): EL2 uses the EL1 register formats */

#define READ_SYSREG(name) ({                                            \
    uint64_t v_;                                                        \
    __asm__ volatile("mrs %0, " #name : "=r"(v_));                      \
    v_;                                                                 \
})
#define WRITE_SYSREG(name, v) \
    __asm__ volatile("msr " #name ", %0" : : "r"((uint64_t)(v)) : "memory")

static inline unsigned current_el(void)
{
    return (unsigned)(READ_SYSREG(CurrentEL) >> 2) & 3u;
}

#define DEFINE_EL_ACCESSORS(reg)                                        \
    static inline uint64_t read_##reg(void)                             \
    {                                                                   \
        switch (current_el()) {                                         \
        case 3:  return READ_SYSREG(reg##_el3);                         \
        case 2:  return READ_SYSREG(reg##_el2);                         \
        default: return READ_SYSREG(reg##_el1);                         \
        }                                                               \
    }                                                                   \
    static inline void write_##reg(uint64_t v)                          \
    {                                                                   \
        switch (current_el()) {                                         \
        case 3:  WRITE_SYSREG(reg##_el3, v); break;                     \
        case 2:  WRITE_SYSREG(reg##_el2, v); break;                     \
        default: WRITE_SYSREG(reg##_el1, v); break;                     \
        }                                                               \
    }

DEFINE_EL_ACCESSORS(sctlr)
DEFINE_EL_ACCESSORS(tcr)
DEFINE_EL_ACCESSORS(mair)
DEFINE_EL_ACCESSORS(ttbr0)
DEFINE_EL_ACCESSORS(esr)
DEFINE_EL_ACCESSORS(elr)
DEFINE_EL_ACCESSORS(far)

static inline uint64_t read_midr(void)
{
    return READ_SYSREG(midr_el1);
}

#endif
