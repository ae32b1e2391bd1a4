/* NXP i.MX UART (i.MX8M Plus UART2, the board console).
 *
 * On the real board U-Boot has set the UART up; under QEMU's bare-ELF boot nobody has. So
 * uart_init() makes sure the UART is out of reset, enabled, transmitting, 8N1 without flow
 * control, and leaves the baud rate registers (UFCR.RFDIV, UBIR, UBMR) exactly as they were. */
#include "common/uart.h"
#include "common/mmio.h"

#define IMX_UTXD 0x40u              /* transmitter register */
#define IMX_UCR1 0x80u
#define IMX_UCR2 0x84u
#define IMX_UCR3 0x88u
#define IMX_USR2 0x98u
#define IMX_UTS  0xb4u              /* test register: FIFO status */

#define UCR1_UARTEN    (1u << 0)    /* UART enable */
#define UCR2_SRST_B    (1u << 0)    /* 0 = software reset asserted */
#define UCR2_RXEN      (1u << 1)
#define UCR2_TXEN      (1u << 2)
#define UCR2_WS        (1u << 5)    /* 1 = 8-bit words */
#define UCR2_STPB      (1u << 6)    /* 1 = two stop bits */
#define UCR2_PREN      (1u << 8)    /* parity enable */
#define UCR2_IRTS      (1u << 14)   /* ignore the RTS pin (no hardware flow control) */
#define UCR3_RXDMUXSEL (1u << 2)    /* must be set on i.MX6 and later */
#define USR2_TXDC      (1u << 3)    /* transmission complete */
#define UTS_TXFULL     (1u << 4)
#define UTS_TXEMPTY    (1u << 6)

static uintptr_t uart_base(void)
{
    return (uintptr_t)UART_BASE;
}

/* Let a character the boot loader is still shifting out finish before reconfiguring.
 * Bounded, because a model may not implement USR2.TXDC. */
static void uart_wait_idle(uintptr_t base)
{
    for (unsigned i = 0; i < 100000u; i++) {
        if (mmio_read32(base + IMX_USR2) & USR2_TXDC)
            return;
    }
}

/* Write a register only when the wanted value differs, so that an already working console
 * (U-Boot's) is not disturbed at all. */
static void uart_update(uintptr_t reg, uint32_t set, uint32_t clear)
{
    uint32_t old = mmio_read32(reg);
    uint32_t val = (old & ~clear) | set;

    if (val != old)
        mmio_write32(reg, val);
}

void uart_init(void)
{
    uintptr_t base = uart_base();

    uart_wait_idle(base);
    uart_update(base + IMX_UCR2, UCR2_SRST_B | UCR2_RXEN | UCR2_TXEN | UCR2_WS | UCR2_IRTS,
                UCR2_STPB | UCR2_PREN);
    uart_update(base + IMX_UCR3, UCR3_RXDMUXSEL, 0);
    uart_update(base + IMX_UCR1, UCR1_UARTEN, 0);
}

void uart_putc(char c)
{
    uintptr_t base = uart_base();

    while (mmio_read32(base + IMX_UTS) & UTS_TXFULL)
        ;
    mmio_write32(base + IMX_UTXD, (uint8_t)c);
}

void uart_flush(void)
{
    uintptr_t base = uart_base();

    /* Bounded: a model need not implement the flags the way hardware does. */
    for (unsigned i = 0; i < 1000000u; i++) {
        if ((mmio_read32(base + IMX_UTS) & UTS_TXEMPTY) &&
            (mmio_read32(base + IMX_USR2) & USR2_TXDC))
            return;
    }
}
