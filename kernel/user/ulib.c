/* SPDX-License-Identifier: MIT */
/* System-call stubs and the few libc functions the programs (and GCC,
 * which may turn loops into memset/memcpy calls) need. */
#include "kernel/user/ulib.h"

int64_t syscall3(uint64_t nr, uint64_t a, uint64_t b, uint64_t c)
{
	int64_t ret;
	__asm__ volatile("int $0x81" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "memory", "rcx", "r11");
	return ret;
}

_Noreturn void exit(int status)
{
	syscall3(SYS_EXIT, (uint64_t)(int64_t)status, 0, 0);
	__builtin_unreachable();
}
int64_t write(const void *buf, size_t len) { return syscall3(SYS_WRITE, (uint64_t)buf, len, 0); }
int64_t fork(void) { return syscall3(SYS_FORK, 0, 0, 0); }
int64_t wait(struct uwait *w) { return syscall3(SYS_WAIT, (uint64_t)w, 0, 0); }
int64_t kread(void *buf, size_t len, uint8_t byte) { return syscall3(SYS_READ, (uint64_t)buf, len, byte); }
int64_t map(uint64_t va, uint64_t len, unsigned prot) { return syscall3(SYS_MAP, va, len, prot); }
int64_t unmap(uint64_t va, uint64_t len) { return syscall3(SYS_UNMAP, va, len, 0); }
int64_t protect(uint64_t va, uint64_t len, unsigned prot) { return syscall3(SYS_PROTECT, va, len, prot); }
int64_t walk(const volatile void *va, struct uwalk *out) { return syscall3(SYS_WALK, (uint64_t)va, (uint64_t)out, 0); }
int64_t getpid(void) { return syscall3(SYS_GETPID, 0, 0, 0); }
int64_t meminfo(struct umeminfo *out) { return syscall3(SYS_MEMINFO, (uint64_t)out, 0, 0); }
int64_t strcopy(const char *src, char *dst, size_t max) { return syscall3(SYS_STRCOPY, (uint64_t)src, (uint64_t)dst, max); }
int64_t kstrlen(const char *s, size_t max) { return syscall3(SYS_STRLEN, (uint64_t)s, max, 0); }
int64_t sbrk(int64_t increment) { return syscall3(SYS_SBRK, (uint64_t)increment, 0, 0); }
int64_t mapshared(uint64_t va, uint64_t len, unsigned prot) { return syscall3(SYS_MAPSHARED, va, len, prot); }
int64_t mapfile(uint64_t va, uint64_t len, unsigned prot) { return syscall3(SYS_MAPFILE, va, len, prot); }
int64_t sethuge(int on) { return syscall3(SYS_SETHUGE, (uint64_t)on, 0, 0); }
int64_t setswap(int on) { return syscall3(SYS_SETSWAP, (uint64_t)on, 0, 0); }
int64_t pageout(const volatile void *va) { return syscall3(SYS_PAGEOUT, (uint64_t)va, 0, 0); }
int64_t filepageout(uint64_t page) { return syscall3(SYS_FILEPAGEOUT, page, 0, 0); }
int64_t opageout(uint64_t va) { return syscall3(SYS_OPAGEOUT, va, 0, 0); }

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* ---- printf: formats into a line buffer, one write per call ---- */

struct out {
	char buf[256];
	size_t n;
};

static void put(struct out *o, char c)
{
	if (o->n < sizeof o->buf)
		o->buf[o->n++] = c;
}

static void put_num(struct out *o, uint64_t v, unsigned base, int neg)
{
	char tmp[24];
	int i = 0;
	do {
		tmp[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		put(o, '-');
	while (i)
		put(o, tmp[--i]);
}

void printf(const char *fmt, ...)
{
	struct out o = {.n = 0};
	va_list ap;
	va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		int lng = 0;
		while (*++p == 'l')
			lng = 1;
		switch (*p) {
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(&o, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0);
			break;
		}
		case 'u': put_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, 0); break;
		case 'x': put_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, 0); break;
		case 'p':
			put(&o, '0'), put(&o, 'x');
			put_num(&o, (uint64_t)va_arg(ap, void *), 16, 0);
			break;
		case 's':
			for (const char *s = va_arg(ap, const char *); *s; s++)
				put(&o, *s);
			break;
		case '%': put(&o, '%'); break;
		default: put(&o, '?'); break;
		}
		if (!*p)
			break;
	}
	va_end(ap);
	write(o.buf, o.n);
}
