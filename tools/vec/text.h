/* SPDX-License-Identifier: MIT */
/* Text helpers of the vector interpreter: a bounded line builder and number
 * formatting, with no stdio (the interpreter also runs in a kernel). */
#ifndef MMU64_VEC_TEXT_H
#define MMU64_VEC_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A NUL-terminated string in caller storage; appends past CAP-1 are cut. */
struct vec_buf {
	char *s;
	size_t cap;
	size_t len;
};

void vb_init(struct vec_buf *b, char *storage, size_t cap);
void vb_char(struct vec_buf *b, char c);
void vb_str(struct vec_buf *b, const char *s);
void vb_strn(struct vec_buf *b, const char *s, size_t n);
/* Decimal, no padding. */
void vb_dec(struct vec_buf *b, uint64_t v);
/* 0x and lowercase hex without leading zeros: 0x0, 0x15. */
void vb_hex(struct vec_buf *b, uint64_t v);
/* A byte as exactly two lowercase digits: 0x00, 0xc3. */
void vb_byte(struct vec_buf *b, uint8_t v);

/* Copy SRC[0..N) to DST with every run of blanks (space, tab) made one
 * space and none at either end. False when it does not fit in CAP bytes
 * (NUL included). */
bool vec_collapse_blanks(char *dst, size_t cap, const char *src, size_t n);

/* The first C in S[0..N), or NULL (memchr, which a kernel may lack). */
const char *vec_find_char(const char *s, size_t n, char c);

/* True when the C strings A and B are equal. */
bool vec_str_eq(const char *a, const char *b);

/* True when the N bytes at S spell the C string LIT. */
bool vec_token_is(const char *s, size_t n, const char *lit);

static inline bool vec_is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

#endif
