/* The console UART. One implementation is linked in per machine (uart_pl011.c or uart_imx.c).
 * Both only poll: no interrupts, no global state (the probe must not write .data/.bss). */
#ifndef COMMON_UART_H
#define COMMON_UART_H

/* Make the UART able to transmit 8N1, keeping the baud rate the boot loader chose. */
void uart_init(void);
/* Send one byte, waiting while the transmit FIFO is full. */
void uart_putc(char c);
/* Wait (bounded) until everything written so far has left the transmitter, so that a timer
 * mark taken next does not include the time to send earlier console text. */
void uart_flush(void);

#endif
