/* SPDX-License-Identifier: MIT */
/* The user programs' library: system-call stubs and a little libc. */
#ifndef KERNEL_USER_ULIB_H
#define KERNEL_USER_ULIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/user/syscall.h"

int64_t syscall3(uint64_t nr, uint64_t a, uint64_t b, uint64_t c);

_Noreturn void exit(int status);
int64_t write(const void *buf, size_t len);
int64_t fork(void);
int64_t wait(struct uwait *w);
int64_t kread(void *buf, size_t len, uint8_t byte);
int64_t map(uint64_t va, uint64_t len, unsigned prot);
int64_t unmap(uint64_t va, uint64_t len);
int64_t protect(uint64_t va, uint64_t len, unsigned prot);
int64_t walk(const volatile void *va, struct uwalk *out);
int64_t getpid(void);
int64_t meminfo(struct umeminfo *out);
int64_t strcopy(const char *src, char *dst, size_t max);
int64_t kstrlen(const char *s, size_t max);
int64_t sbrk(int64_t increment);
int64_t mapshared(uint64_t va, uint64_t len, unsigned prot);
int64_t mapfile(uint64_t va, uint64_t len, unsigned prot);
int64_t sethuge(int on);
int64_t setswap(int on);
int64_t pageout(const volatile void *va);
int64_t filepageout(uint64_t page);
int64_t opageout(uint64_t va);

void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
size_t strlen(const char *s);
/* %d %u %x %lx %lu %ld %s %p, no widths. */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
