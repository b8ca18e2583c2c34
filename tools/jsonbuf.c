/* SPDX-License-Identifier: MIT */
/* The growable JSON string of jsonbuf.h. */
#include "tools/jsonbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jb_free(struct jbuf *b)
{
	free(b->s);
	*b = (struct jbuf){0};
}

static bool grow(struct jbuf *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		b->failed = true;
		return false;
	}
	b->s = s;
	b->cap = cap;
	return true;
}

void jb_rawn(struct jbuf *b, const char *s, size_t n)
{
	if (!grow(b, n))
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void jb_raw(struct jbuf *b, const char *s) { jb_rawn(b, s, strlen(s)); }

void jb_strn(struct jbuf *b, const char *s, size_t n)
{
	jb_raw(b, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c, esc[2] = '\0';
			jb_raw(b, esc);
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			jb_raw(b, esc);
		} else {
			jb_rawn(b, (const char *)&s[i], 1);
		}
	}
	jb_raw(b, "\"");
}

void jb_str(struct jbuf *b, const char *s) { jb_strn(b, s, strlen(s)); }

void jb_u64(struct jbuf *b, uint64_t v)
{
	char t[24];
	snprintf(t, sizeof t, "%llu", (unsigned long long)v);
	jb_raw(b, t);
}

void jb_hex(struct jbuf *b, uint64_t v)
{
	char t[24];
	snprintf(t, sizeof t, "\"0x%llx\"", (unsigned long long)v);
	jb_raw(b, t);
}

void jb_sep(struct jbuf *b)
{
	if (b->len && b->s[b->len - 1] != '{' && b->s[b->len - 1] != '[')
		jb_raw(b, ",");
}

void jb_key(struct jbuf *b, const char *key)
{
	jb_sep(b);
	jb_str(b, key);
	jb_raw(b, ":");
}
