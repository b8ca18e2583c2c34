/* SPDX-License-Identifier: MIT */
/* A growable string for building JSON (mmu64 view). Hosted. */
#ifndef MMU64_TOOLS_JSONBUF_H
#define MMU64_TOOLS_JSONBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jbuf {
	char *s;
	size_t len, cap;
	bool failed; /* out of memory: the text is cut */
};

void jb_free(struct jbuf *b);
void jb_raw(struct jbuf *b, const char *s);
void jb_rawn(struct jbuf *b, const char *s, size_t n);
/* A JSON string literal of S; `<` is escaped too, so the text can sit in
 * a <script> element. */
void jb_str(struct jbuf *b, const char *s);
void jb_strn(struct jbuf *b, const char *s, size_t n);
void jb_u64(struct jbuf *b, uint64_t v);
/* "0x..." as a JSON string (JavaScript numbers lose bits above 2^53). */
void jb_hex(struct jbuf *b, uint64_t v);
/* `"KEY":` with a comma before it unless B ends in { or [. */
void jb_key(struct jbuf *b, const char *key);
/* A comma unless B ends in { or [ (between array elements). */
void jb_sep(struct jbuf *b);

#endif
