/* SPDX-License-Identifier: MIT */
/* Formatting without libc, for assertion messages and dumps. */
#include "internal.h"

struct fmt_out {
	char *buf;
	size_t size;
	size_t len;
};

static void out_char(struct fmt_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_number(struct fmt_out *o, uint64_t v, unsigned base, bool negative, unsigned width, char pad)
{
	char digits[24];
	unsigned n = 0;
	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (negative)
		digits[n++] = '-';
	for (unsigned i = n; i < width; i++)
		out_char(o, pad);
	while (n)
		out_char(o, digits[--n]);
}

/* One conversion after '%': returns the pointer past it. */
static const char *out_conversion(struct fmt_out *o, const char *f, va_list *ap)
{
	char pad = ' ';
	unsigned width = 0;
	bool is_long = false;
	if (*f == '0')
		pad = '0', f++;
	while (*f >= '0' && *f <= '9')
		width = width * 10 + (unsigned)(*f++ - '0');
	if (*f == 'l')
		is_long = true, f++;
	switch (*f) {
	case 's': {
		const char *s = va_arg(*ap, const char *);
		size_t len = 0;
		while (s[len])
			len++;
		for (size_t i = len; i < width; i++)
			out_char(o, ' ');
		while (*s)
			out_char(o, *s++);
		break;
	}
	case 'c':
		out_char(o, (char)va_arg(*ap, int));
		break;
	case 'd': {
		int64_t v = is_long ? va_arg(*ap, long) : va_arg(*ap, int);
		out_number(o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
		break;
	}
	case 'u':
	case 'x': {
		uint64_t v = is_long ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned);
		out_number(o, v, *f == 'x' ? 16 : 10, false, width, pad);
		break;
	}
	case '%':
		out_char(o, '%');
		break;
	default:
		out_char(o, '?');
		break;
	}
	return f + 1;
}

size_t mmu_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmt_out o = {buf, size, 0};
	va_list args;
	va_copy(args, ap);
	while (*fmt) {
		if (*fmt != '%')
			out_char(&o, *fmt++);
		else
			fmt = out_conversion(&o, fmt + 1, &args);
	}
	va_end(args);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}

size_t mmu_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = mmu_vfmt(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

_Noreturn void mmu_panicf(const struct mmu *mmu, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	mmu_vfmt(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mmu->port.ops->panic(mmu->port.ctx, msg);
	__builtin_trap();
}
