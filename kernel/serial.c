/* SPDX-License-Identifier: MIT */
/* 16550 UART output and the kernel log. Polling, no interrupts: output is
 * small and must get out even from a panic. */
#include <stdbool.h>

#include "kernel/cpu.h"
#include "kernel/klib.h"
#include "kernel/spinlock.h"

#define COM1 0x3f8
#define COM2 0x2f8
#define UART_LSR 5
#define LSR_THRE 0x20
#define LSR_DATA_READY 0x01

static uint16_t log_port = COM1;
static struct spinlock serial_lock = SPINLOCK_INIT;

static void uart_init(uint16_t port)
{
	outb(port + 1, 0x00); /* no interrupts */
	outb(port + 3, 0x80); /* DLAB: divisor 1 = 115200 baud */
	outb(port + 0, 0x01);
	outb(port + 1, 0x00);
	outb(port + 3, 0x03); /* 8N1 */
	outb(port + 2, 0xc7); /* FIFO on */
}

void serial_init(void)
{
	uart_init(COM1);
	uart_init(COM2);
}

void serial_log_to_com2(void) { log_port = COM2; }

static void uart_putc(uint16_t port, char c)
{
	/* A missing UART reads 0xff: never spin forever on it. */
	for (unsigned i = 0; i < 100000 && !(inb(port + UART_LSR) & LSR_THRE); i++)
		cpu_pause();
	outb(port, (uint8_t)c);
}

static void port_write(uint16_t port, const char *s, size_t n)
{
	bool on = spin_lock_irqsave(&serial_lock);
	for (size_t i = 0; i < n; i++)
		uart_putc(port, s[i]);
	spin_unlock_irqrestore(&serial_lock, on);
}

void serial_write(const char *s, size_t n) { port_write(COM1, s, n); }

uint8_t serial_read_byte(void)
{
	while (!(inb(COM1 + UART_LSR) & LSR_DATA_READY))
		cpu_pause();
	return inb(COM1);
}

/* ---- formatting ---- */

struct out {
	char buf[256];
	size_t len;
};

static void out_c(struct out *o, char c)
{
	if (o->len < sizeof o->buf - 1)
		o->buf[o->len++] = c;
}

static void out_num(struct out *o, uint64_t v, unsigned base, bool neg, unsigned width, char pad)
{
	char tmp[24];
	unsigned n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	while (width > n) {
		out_c(o, pad);
		width--;
	}
	while (n)
		out_c(o, tmp[--n]);
}

void kvprintf(const char *fmt, va_list ap)
{
	struct out o = {.len = 0};
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			out_c(&o, *p);
			continue;
		}
		p++;
		char pad = ' ';
		unsigned width = 0, longs = 0;
		if (*p == '0')
			pad = '0', p++;
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (unsigned)(*p++ - '0');
		while (*p == 'l' || *p == 'z')
			longs++, p++;
		switch (*p) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (*s)
				out_c(&o, *s++);
			break;
		}
		case 'c': out_c(&o, (char)va_arg(ap, int)); break;
		case 'd': {
			int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
			out_num(&o, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			out_num(&o, v, *p == 'u' ? 10 : 16, false, width, pad);
			break;
		}
		case 'p':
			out_c(&o, '0'), out_c(&o, 'x');
			out_num(&o, (uint64_t)va_arg(ap, void *), 16, false, 16, '0');
			break;
		case '%': out_c(&o, '%'); break;
		default: out_c(&o, '?'); break;
		}
	}
	port_write(log_port, o.buf, o.len);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

_Noreturn void qemu_exit(unsigned code)
{
	outl(0xf4, code);
	/* Without isa-debug-exit: stop here. */
	for (;;)
		__asm__ volatile("cli; hlt");
}

_Noreturn void kpanic(const char *fmt, ...)
{
	va_list ap;
	kprintf("kernel panic: ");
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	qemu_exit(KEXIT_PANIC);
}
