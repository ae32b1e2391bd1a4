/* Entered at EL2 (-machine virt,virtualization=on): drops to EL1 with eret,
 * then makes the no-clean mistake at EL1.  Checks that the model follows the
 * exception level (SCTLR_EL1 governs after the eret): expected dirty-at-disable
 * and el_at_handoff == 1. */
#include "common.h"
    .text
    .global _start
_start:
    mov x9, #(1 << 31)            /* HCR_EL2.RW: EL1 is AArch64 */
    msr hcr_el2, x9
    mov x9, #0x3c5                /* EL1h, DAIF masked */
    msr spsr_el2, x9
    adr x9, el1_entry
    msr elr_el2, x9
    isb
    eret
el1_entry:
    mmu_setup ATTR_DEVICE
    caches_on
    mov x0, #0x55
    fill_buf
    icache_inval
    caches_off
    b handoff
    handoff_exit
