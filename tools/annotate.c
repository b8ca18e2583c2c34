/* SPDX-License-Identifier: MIT */
/* Readable runs: see annotate.h. */
#include "tools/annotate.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* #PF error code bits (SDM vol. 3A 4.7). */
static const struct {
	const char *name;
	const char *set, *clear;
} pf_bits[] = {
	{"P", "the page was present: a protection violation", "the page (or a table above it) was not present"},
	{"W", "the access was a write", "the access was a read (or a fetch)"},
	{"U", "the access was made in user mode (CPL 3)", "the access was made in supervisor mode"},
	{"RSVD", "a paging entry had a reserved bit set", "no reserved bit was set"},
	{"I/D", "the access was an instruction fetch", "the access was not an instruction fetch"},
	{"PK", "the protection key (PKRU) refused it", "no protection-key refusal"},
	{"SS", "the access was a shadow-stack access", "not a shadow-stack access"},
};
#define PF_NBITS (sizeof pf_bits / sizeof pf_bits[0])

static void append(char *out, size_t cap, const char *s)
{
	size_t n = strlen(out);
	if (n + 1 < cap)
		snprintf(out + n, cap - n, "%s", s);
}

void pf_bit_names(uint32_t code, char *out, size_t cap)
{
	out[0] = '\0';
	for (unsigned i = 0; i < PF_NBITS; i++) {
		if (!(code & (1u << i)))
			continue;
		if (out[0])
			append(out, cap, " ");
		append(out, cap, pf_bits[i].name);
	}
	if (code >> PF_NBITS)
		append(out, cap, out[0] ? " +other" : "+other");
	if (!out[0])
		append(out, cap, "-");
}

void pf_sentence(uint32_t code, char *out, size_t cap)
{
	const char *who = code & 4 ? "user" : "supervisor";
	const char *what = code & 16 ? "fetch" : code & 2 ? "write" : "read";
	snprintf(out, cap, "%s %s, %s", who, what, code & 1 ? "page present: protection violation" : "page not present");
	if (code & 8)
		append(out, cap, ", reserved bit set");
	if (code & 32)
		append(out, cap, ", protection key");
	if (code & 64)
		append(out, cap, ", shadow stack");
}

int explain_main(const char *arg)
{
	char *end;
	unsigned long code = strtoul(arg, &end, 0);
	char names[64], sentence[160];
	if (*arg == '\0' || *end != '\0' || code > 0xffffffffu) {
		fprintf(stderr, "mmu64 explain: `%s` is not a #PF error code (e.g. 0x7)\n", arg);
		return 2;
	}
	pf_bit_names((uint32_t)code, names, sizeof names);
	pf_sentence((uint32_t)code, sentence, sizeof sentence);
	printf("0x%lx = %s: %s\n", code, names, sentence);
	for (unsigned i = 0; i < PF_NBITS; i++) {
		bool set = code & (1u << i);
		printf("  bit %u %-4s %u  %s\n", i, pf_bits[i].name, set, set ? pf_bits[i].set : pf_bits[i].clear);
	}
	if (code >> PF_NBITS)
		printf("  bits above 6 are set: not a #PF error code this machine makes (SGX, HLAT, ...)\n");
	return 0;
}

/* ---- --annotate ---- */

void annotate_command_text(const char *text, size_t len, unsigned ln, char *out, size_t cap)
{
	const char *s = text, *e = text + len;
	out[0] = '\0';
	for (unsigned n = 1; n < ln && s < e; n++) {
		const char *nl = memchr(s, '\n', (size_t)(e - s));
		s = nl ? nl + 1 : e;
	}
	if (s >= e)
		return;
	const char *nl = memchr(s, '\n', (size_t)(e - s));
	size_t n = nl ? (size_t)(nl - s) : (size_t)(e - s);
	for (size_t i = 0; i < n; i++)
		if (s[i] == '#' || (s[i] == '=' && i + 1 < n && s[i + 1] == '>'))
			n = i;
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* "  [P U: user read, page present: protection violation]" after a
 * `fault 0xE` or `segv 0xE` result. */
static void fault_note(const char *result, char *out, size_t cap)
{
	const char *p = strstr(result, "fault 0x");
	char names[64], sentence[160];
	out[0] = '\0';
	if (!p)
		p = strstr(result, "segv 0x");
	if (!p)
		return;
	uint32_t code = (uint32_t)strtoul(strchr(p, ' ') + 1, NULL, 16);
	pf_bit_names(code, names, sizeof names);
	pf_sentence(code, sentence, sizeof sentence);
	snprintf(out, cap, "  [%s: %s]", names, sentence);
}

static void flush_held(struct annotate *a)
{
	if (a->held.len)
		fputs(a->held.s, a->to);
	a->held.len = 0;
}

void annotate_done(struct annotate *a)
{
	flush_held(a);
	jb_free(&a->held);
}

void annotate_line(void *ctx, const char *line)
{
	struct annotate *a = ctx;
	char *end;
	unsigned long ln = strtoul(line, &end, 10);
	char cmd[256], note[256];
	if (end == line || strncmp(end, ": ", 2) != 0) {
		flush_held(a);
		fprintf(a->to, "%s\n", line); /* summary, `== FILE`, `end: ...`, diagnostics */
		return;
	}
	const char *rest = end + 2;
	if (strncmp(rest, "| ", 2) == 0) {
		jb_raw(&a->held, "        ");
		jb_raw(&a->held, rest + 2);
		jb_raw(&a->held, "\n");
		return;
	}
	if (strncmp(rest, "tlbsan: ", 8) == 0) {
		flush_held(a);
		fprintf(a->to, "      ! %s\n", rest);
		return;
	}
	annotate_command_text(a->text, a->len, (unsigned)ln, cmd, sizeof cmd);
	fault_note(rest, note, sizeof note);
	fprintf(a->to, "%4lu  %-40s -> %s%s\n", ln, cmd, rest, note);
	flush_held(a);
}
