/* SPDX-License-Identifier: MIT */
/* libFuzzer harness over the vector runner on the software machine: any
 * bytes are a vector file. The runner must come back (no crash, no hang, no
 * ASan/UBSan report) with an exit status of 0, 1 or 2 and only the lines
 * the format allows; anything else traps.
 *
 *   build/fuzz/fuzz-vectors CORPUS_DIR...   fuzz (libFuzzer options apply)
 *   build/fuzz/fuzz-vectors FILE...          run these inputs once each
 *
 * A malformed input runs a second time with its malformed lines dropped
 * (run_repaired). FUZZ_VECTORS_VERBOSE=1 prints the runner's lines to
 * stderr; FUZZ_VECTORS_SAVE=PATH writes the repaired file to PATH. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/exec_sim.h"
#include "tools/vec/vec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the lines of one run looked like. */
struct seen {
	unsigned lines, diags, summaries, skips;
	unsigned long passed, failed; /* of the summary line */
	const char *bad;              /* the first line the format does not allow */
	char bad_copy[VEC_LINE_MAX + 1];
};

static struct seen seen;
static bool verbose;

#define INPUT_NAME "fuzz"

static bool is_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "N passed, N failed" */
static bool parse_summary(const char *line, unsigned long *passed, unsigned long *failed)
{
	char tail;
	return sscanf(line, "%lu passed, %lu failed%c", passed, failed, &tail) == 2;
}

/* A line is a result or aside ("LINE: ..."), a sanitizer line ("LINE: tlbsan:
 * ..." or "end: tlbsan: ..."), a diagnostic ("fuzz:LINE: ..."), a skip, or the
 * summary. */
static bool classify(const char *line)
{
	const char *colon = strchr(line, ':');
	if (parse_summary(line, &seen.passed, &seen.failed)) {
		seen.summaries++;
		return true;
	}
	if (strncmp(line, "skip ", 5) == 0) {
		seen.skips++;
		return true;
	}
	if (strncmp(line, INPUT_NAME ":", sizeof INPUT_NAME) == 0) {
		const char *num = line + sizeof INPUT_NAME, *end = strchr(num, ':');
		seen.diags++;
		return end && is_digits(num, (size_t)(end - num)) && end[1] == ' ' && end[2] != '\0';
	}
	if (strncmp(line, "end: tlbsan: ", 13) == 0)
		return true;
	return colon && is_digits(line, (size_t)(colon - line)) && colon[1] == ' ' && colon[2] != '\0';
}

static void collect(void *ctx, const char *line)
{
	(void)ctx;
	if (verbose)
		fprintf(stderr, "%s\n", line);
	if (strlen(line) >= VEC_LINE_MAX && !seen.bad)
		seen.bad = "a line longer than VEC_LINE_MAX";
	if (!classify(line) && !seen.bad) {
		snprintf(seen.bad_copy, sizeof seen.bad_copy, "%s", line);
		seen.bad = seen.bad_copy;
	}
	seen.lines++;
}

static void fail(const char *why, int status)
{
	fprintf(stderr, "fuzz-vectors: %s (status %d, %u lines, %u diagnostics, %u summaries, %u skips)\n", why,
		status, seen.lines, seen.diags, seen.summaries, seen.skips);
	if (seen.bad)
		fprintf(stderr, "  line: %s\n", seen.bad);
	__builtin_trap();
}

/* The runner's answer must be one of the three outcomes of the format. */
static void check_outcome(int status)
{
	if (seen.bad)
		fail("a line the format does not allow", status);
	switch (status) {
	case VEC_MALFORMED:
		if (seen.lines != 1 || seen.diags != 1)
			fail("a malformed file must print exactly one diagnostic", status);
		return;
	case VEC_PASSED:
	case VEC_FAILED:
		if (seen.summaries != 1 || seen.diags != 0 || seen.skips > 1)
			fail("a run must end with one summary line and no diagnostic", status);
		if ((status == VEC_FAILED) != (seen.failed > 0))
			fail("the status disagrees with the summary's failures", status);
		return;
	default:
		fail("an exit status other than 0, 1 or 2", status);
	}
}

/* A mutated file is mostly malformed, and a malformed file runs nothing:
 * so a second run takes the input with its malformed lines dropped, one
 * at a time (at most REPAIR_MAX of them), and the executor gets to run
 * what the mutation made of the commands. */
#define REPAIR_MAX 64

/* The first malformed line of TEXT; 0 when the file is well formed. */
static unsigned first_malformed(const char *text, size_t len)
{
	struct vec_parser p;
	struct vec_stmt st;
	struct vec_diag d;
	enum vec_next next;
	vec_parser_init(&p, text, len);
	while ((next = vec_parse_next(&p, &st, &d)) == VEC_NEXT_STMT)
		;
	return next == VEC_NEXT_ERROR ? (d.line ? d.line : 1) : 0;
}

/* Drop line LINE (1-based) of TEXT in place; the new length. */
static size_t drop_line(char *text, size_t len, unsigned line)
{
	size_t start = 0, end;
	for (unsigned l = 1; l < line && start < len; start++)
		if (text[start] == '\n')
			l++;
	end = start;
	while (end < len && text[end] != '\n')
		end++;
	if (end < len)
		end++;
	memmove(text + start, text + end, len - end);
	return len - (end - start);
}

static int run_text(const char *text, size_t len)
{
	static struct vec_session session;
	struct exec_sim exec = {0};
	struct vec_io io = {.file = INPUT_NAME, .text = text, .len = len, .out = collect};
	int status;
	memset(&seen, 0, sizeof seen);
	status = vec_run(&session, &io, &exec_sim_ops, &exec);
	check_outcome(status);
	return status;
}

/* FUZZ_VECTORS_SAVE=PATH: write the repaired file there (for mmu64 run). */
static void save_repaired(const char *text, size_t len)
{
	const char *path = getenv("FUZZ_VECTORS_SAVE");
	FILE *f = path ? fopen(path, "wb") : NULL;
	if (!f)
		return;
	fwrite(text, 1, len, f);
	fclose(f);
}

static void run_repaired(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	size_t len = size;
	unsigned bad = 1;
	if (!text)
		return;
	memcpy(text, data, size);
	for (unsigned i = 0; i < REPAIR_MAX && len && (bad = first_malformed(text, len)) != 0; i++)
		len = drop_line(text, len, bad);
	if (len && !bad) {
		save_repaired(text, len);
		(void)run_text(text, len);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	verbose = getenv("FUZZ_VECTORS_VERBOSE") != NULL;
	if (run_text((const char *)data, size) == VEC_MALFORMED)
		run_repaired(data, size);
	return 0;
}
