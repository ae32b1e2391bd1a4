/* ARM PL011 UART (QEMU virt). The boot loader (or QEMU) has already enabled it. */
#include "common/uart.h"
#include "common/mmio.h"

#define PL011_DR   0x00u          /* data register: a write sends one byte */
#define PL011_FR   0x18u          /* flag register */
#define PL011_FR_BUSY (1u << 3)   /* still transmitting */
#define PL011_FR_TXFF (1u << 5)   /* transmit FIFO full */
#define PL011_FR_TXFE (1u << 7)   /* transmit FIFO empty */

void uart_init(void)
{
    /* Nothing to do: firmware and QEMU leave the PL011 enabled for transmit. */
}

void uart_putc(char c)
{
    uintptr_t base = (uintptr_t)UART_BASE;

    while (mmio_read32(base + PL011_FR) & PL011_FR_TXFF)
        ;
    mmio_write32(base + PL011_DR, (uint8_t)c);
}

void uart_flush(void)
{
    uintptr_t base = (uintptr_t)UART_BASE;

    /* Bounded: a model need not implement the flags the way hardware does. */
    for (unsigned i = 0; i < 1000000u; i++) {
        uint32_t fr = mmio_read32(base + PL011_FR);

        if ((fr & PL011_FR_TXFE) && !(fr & PL011_FR_BUSY))
            return;
    }
}
