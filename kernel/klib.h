/* SPDX-License-Identifier: MIT */
/* C library subset (lib.c) and kernel printing (serial.c). */
#ifndef KERNEL_KLIB_H
#define KERNEL_KLIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Serial ports. COM1 carries the vector output; the kernel's own log goes
 * to COM1 too unless `quiet` moved it to COM2 (serial_log_to_com2). */
void serial_init(void);
void serial_log_to_com2(void);
void serial_write(const char *s, size_t n); /* COM1, raw */
uint8_t serial_read_byte(void);             /* COM1, waits */
/* The log: %s %c %d %u %x %lu %lx %ld %llx %p, '0' and width. */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);

/* Leave QEMU through isa-debug-exit: QEMU exits with (CODE << 1) | 1. */
_Noreturn void qemu_exit(unsigned code);
_Noreturn void kpanic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Exit codes written to isa-debug-exit (scripts/qemu-vector maps back). */
enum {
	KEXIT_PASSED = 0x10,    /* QEMU status 33 */
	KEXIT_FAILED = 0x11,    /* 35 */
	KEXIT_MALFORMED = 0x12, /* 37 */
	KEXIT_PANIC = 0x1f,     /* 63 */
};

#endif
