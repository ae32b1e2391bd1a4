/* Code mapped Normal Non-cacheable with SCTLR.I set: instruction fetches
 * take the mapping's attribute, so every fetch in the window is uncached.
 * Window: `begin` .. `handoff`, LOOPS iterations of subs/b.ne + b handoff. */
#include "common.h"
#define LOOPS 100
#define ATTR_NC 2                 /* MAIR index 2: 0x44 Normal Non-cacheable */
    .text
    .global _start
_start:
    ldr x9, =TT
    ldr x10, =(0x0060000000000401 | (ATTR_DEVICE << 2))   /* 0: Device, XN */
    str x10, [x9]
    ldr x10, =(0x40000701 | (ATTR_NC << 2))       /* 1: 0x40000000 Normal NC */
    str x10, [x9, #8]
    str xzr, [x9, #16]
    str xzr, [x9, #24]
    regime_on 0x44ff00, 0x803520  /* TCR: T0SZ=32 IRGN0=ORGN0=WBWA SH0=IS TG0=4K EPD1 */
    caches_on
    mov x2, #LOOPS
    .global begin
begin:
    subs x2, x2, #1
    b.ne begin
    b handoff
    handoff_exit
