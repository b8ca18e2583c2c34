/* SPDX-License-Identifier: MIT */
/* Readable runs: `mmu64 run --annotate` (each command beside its result,
 * fault codes decoded) and `mmu64 explain CODE`. Hosted. */
#ifndef MMU64_TOOLS_ANNOTATE_H
#define MMU64_TOOLS_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/jsonbuf.h"

/* The vector file whose output is being annotated. */
struct annotate {
	const char *text;
	size_t len;
	FILE *to;
	struct jbuf held; /* a command's `| ...` lines, printed after its result */
};

/* The command part of line LN of TEXT (comment and expectation cut,
 * blanks trimmed) into OUT; "" past the end. */
void annotate_command_text(const char *text, size_t len, unsigned ln, char *out, size_t cap);

/* A vec_out_fn: LINE of `mmu64 run` output, printed with its command
 * (the lines a command prints before its result follow it). */
void annotate_line(void *ctx, const char *line);
/* Print what is still held and free it. */
void annotate_done(struct annotate *a);

/* "P U" for a #PF error code (bits 0-6: P W U RSVD I/D PK SS), and what
 * it says in words ("user read of a present page: a protection
 * violation"). Both into caller buffers. */
void pf_bit_names(uint32_t code, char *out, size_t cap);
void pf_sentence(uint32_t code, char *out, size_t cap);

/* `mmu64 explain CODE`: 0 when CODE parses, else 2 (message printed). */
int explain_main(const char *code);

/* Command-line help (mmu64 --help): usage and the command summary. */
void print_usage(FILE *to);
/* `mmu64 --version`: the library's version and the vector format's. */
void print_version(void);

#endif
