/* SPDX-License-Identifier: MIT */
/* Text helpers: see text.h. */
#include "tools/vec/text.h"

#include <string.h>

void vb_init(struct vec_buf *b, char *storage, size_t cap)
{
	b->s = storage;
	b->cap = cap;
	b->len = 0;
	if (cap)
		storage[0] = '\0';
}

void vb_char(struct vec_buf *b, char c)
{
	if (b->len + 1 >= b->cap)
		return;
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

void vb_strn(struct vec_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		vb_char(b, s[i]);
}

void vb_str(struct vec_buf *b, const char *s) { vb_strn(b, s, strlen(s)); }

/* Digits of V in BASE, most significant first, at least MIN_DIGITS. */
static void vb_digits(struct vec_buf *b, uint64_t v, unsigned base, unsigned min_digits)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[24];
	unsigned n = 0;
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	while (n < min_digits)
		tmp[n++] = '0';
	while (n)
		vb_char(b, tmp[--n]);
}

void vb_dec(struct vec_buf *b, uint64_t v) { vb_digits(b, v, 10, 1); }

void vb_hex(struct vec_buf *b, uint64_t v)
{
	vb_str(b, "0x");
	vb_digits(b, v, 16, 1);
}

void vb_byte(struct vec_buf *b, uint8_t v)
{
	vb_str(b, "0x");
	vb_digits(b, v, 16, 2);
}

bool vec_collapse_blanks(char *dst, size_t cap, const char *src, size_t n)
{
	size_t out = 0;
	bool pending_space = false;
	for (size_t i = 0; i < n; i++) {
		if (vec_is_blank(src[i])) {
			pending_space = out > 0;
			continue;
		}
		if (out + (pending_space ? 2 : 1) >= cap)
			return false;
		if (pending_space)
			dst[out++] = ' ';
		pending_space = false;
		dst[out++] = src[i];
	}
	if (cap == 0)
		return false;
	dst[out] = '\0';
	return true;
}

bool vec_token_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

const char *vec_find_char(const char *s, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == c)
			return s + i;
	return NULL;
}

bool vec_str_eq(const char *a, const char *b)
{
	size_t n = strlen(a);
	return strlen(b) == n && memcmp(a, b, n) == 0;
}
