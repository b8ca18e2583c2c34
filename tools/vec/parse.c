/* SPDX-License-Identifier: MIT */
/* Parsing of vector files: see parse.h. */
#include "tools/vec/parse.h"

#include <string.h>

#include "tools/vec/text.h"

struct token {
	const char *s;
	size_t n;
};

/* Argument kinds of a command signature; after '|' they are optional.
 *   T tree name   N new name    F frame F[+OFF]   a address   z length
 *   p PERM        c CPU         b byte            L level     k 32-bit value
 *   s frame size  u `user`      o map options (any number)
 *   K region kind (anon|stack|eager|guard)  m `max=SIZE` (after `stack` only)
 *   H the bits of a harvest (accessed|dirty|both)
 *   Y an object's sort (anon|store|wstore)  S a share (shared|private)
 *   C keep|clear (an Accessed test) */
struct command {
	const char *name;
	enum vec_op op;
	const char *sig;
	const char *usage;
	const char *doc; /* where the command is described, for diagnostics */
};

/* Where a diagnostic sends the reader: a doc and one of its sections. */
#define VECTORS_MD(section) "docs/VECTORS.md, \"" section "\""
#define INSPECT_MD(section) "docs/VECTORS-INSPECT.md, \"" section "\""
#define DOC_PT VECTORS_MD("Page-table commands")
#define DOC_ACCESS VECTORS_MD("The access commands")
#define DOC_PHYS VECTORS_MD("Physical memory, PKRU, counters, dump")
#define DOC_PROC VECTORS_MD("Process spaces")
#define DOC_LOOK INSPECT_MD("Looking")
#define DOC_DO INSPECT_MD("Doing")
#define DOC_HARVEST VECTORS_MD("Extension: harvesting A and D")
#define DOC_REGIONS INSPECT_MD("Regions beyond v1")
#define DOC_OBJECTS INSPECT_MD("Shared and pager-backed memory")
#define DOC_SWAP INSPECT_MD("Swap")
#define SEE_MACHINE " (see " VECTORS_MD("The machine line") ")"
#define SEE_MAP " (see " VECTORS_MD("map") ")"
#define SEE_LINES " (see " VECTORS_MD("Lines") ")"

static const struct command commands[] = {
	{"space", VEC_OP_SPACE, "N", "space A", DOC_PT},
	{"drop", VEC_OP_DROP, "T", "drop A", DOC_PT},
	{"frame", VEC_OP_FRAME, "N|s", "frame F [4K|2M|1G]", DOC_PT},
	{"map", VEC_OP_MAP, "TaFzp|o", "map A VA F[+OFF] LEN PERM [size=4K|2M|1G] [global] [uc|wc] [pkey=N]", VECTORS_MD("map")},
	{"unmap", VEC_OP_UNMAP, "Taz", "unmap A VA LEN", VECTORS_MD("unmap and protect")},
	{"protect", VEC_OP_PROTECT, "Tazp", "protect A VA LEN PERM", VECTORS_MD("unmap and protect")},
	{"walk", VEC_OP_WALK, "Ta", "walk A VA", VECTORS_MD("walk")},
	{"entry", VEC_OP_ENTRY, "TaL", "entry A VA pml5|pml4|pdpt|pd|pt", VECTORS_MD("entry")},
	{"load", VEC_OP_LOAD, "cT", "load CPU A", DOC_PT},
	{"read", VEC_OP_READ, "ca|u", "read CPU VA [user]", DOC_ACCESS},
	{"write", VEC_OP_WRITE, "cab|u", "write CPU VA BYTE [user]", DOC_ACCESS},
	{"exec", VEC_OP_EXEC, "ca|u", "exec CPU VA [user]", DOC_ACCESS},
	{"poke", VEC_OP_POKE, "Fb", "poke F+OFF BYTE", DOC_PHYS},
	{"peek", VEC_OP_PEEK, "F", "peek F+OFF", DOC_PHYS},
	{"stats", VEC_OP_STATS, "", "stats", DOC_PHYS},
	{"tlbstats", VEC_OP_TLBSTATS, "", "tlbstats", DOC_PHYS},
	{"pkru", VEC_OP_PKRU, "ck", "pkru CPU VALUE", DOC_PHYS},
	{"dump", VEC_OP_DUMP, "T", "dump A", DOC_PHYS},
	{"proc", VEC_OP_PROC, "N", "proc P", DOC_PROC},
	{"region", VEC_OP_REGION, "TazpK|m", "region P VA LEN PERM anon|stack|eager|guard [max=SIZE]", VECTORS_MD("Regions")},
	{"fork", VEC_OP_FORK, "TN", "fork P Q", VECTORS_MD("fork")},
	{"kwrite", VEC_OP_KWRITE, "cab", "kwrite CPU VA BYTE", VECTORS_MD("kwrite")},
	{"kread", VEC_OP_KREAD, "ca", "kread CPU VA", VECTORS_MD("kread and kreadstr")},
	{"kreadstr", VEC_OP_KREADSTR, "caz", "kreadstr CPU VA MAX", VECTORS_MD("kread and kreadstr")},
	{"same", VEC_OP_SAME, "TaTa", "same A VA B VB", DOC_PROC},
	{"exit", VEC_OP_EXIT, "T", "exit P", DOC_PROC},
	{"faults", VEC_OP_FAULTS, "T", "faults P", DOC_PROC},
	/* docs/VECTORS-INSPECT.md; e: entry flags, O: on|off */
	{"levels", VEC_OP_LEVELS, "Ta", "levels A VA", DOC_LOOK},
	{"leaves", VEC_OP_LEAVES, "Taz", "leaves A VA LEN", DOC_LOOK},
	{"tlb", VEC_OP_TLB, "c", "tlb CPU", DOC_LOOK},
	{"setpte", VEC_OP_SETPTE, "TaFe", "setpte A VA F[+OFF] FLAG,FLAG,...", DOC_DO},
	{"invlpg", VEC_OP_INVLPG, "ca", "invlpg CPU VA", DOC_DO},
	{"shadow", VEC_OP_SHADOW, "T", "shadow P", DOC_LOOK},
	{"regions", VEC_OP_REGIONS, "T", "regions P", DOC_LOOK},
	{"rprotect", VEC_OP_RPROTECT, "Tazp", "rprotect P VA LEN PERM", DOC_DO},
	{"rremove", VEC_OP_RREMOVE, "Taz", "rremove P VA LEN", DOC_DO},
	{"promote", VEC_OP_PROMOTE, "TO", "promote A on|off", DOC_DO},
	{"tlbsan", VEC_OP_TLBSAN, "z", "tlbsan N", DOC_DO},
	{"harvest", VEC_OP_HARVEST, "TazH", "harvest A VA LEN accessed|dirty|both", DOC_HARVEST},
	{"rresize", VEC_OP_RRESIZE, "Taz", "rresize P VA NEWLEN", DOC_REGIONS},
	{"rminaddr", VEC_OP_RMINADDR, "Ta", "rminaddr P ADDR", DOC_REGIONS},
	{"rhuge", VEC_OP_RHUGE, "TO", "rhuge P on|off", DOC_REGIONS},
	{"rstorage", VEC_OP_RSTORAGE, "Tz", "rstorage P SLOTS", DOC_REGIONS},
	{"object", VEC_OP_OBJECT, "NYz", "object O anon|store|wstore PAGES", DOC_OBJECTS},
	{"robject", VEC_OP_ROBJECT, "TazpSTz", "robject P VA LEN PERM shared|private O FIRST", DOC_OBJECTS},
	{"orelease", VEC_OP_ORELEASE, "T", "orelease O", DOC_OBJECTS},
	{"orefs", VEC_OP_OREFS, "Tz", "orefs O PAGE", DOC_OBJECTS},
	{"omappers", VEC_OP_OMAPPERS, "Tz", "omappers O RECORDS", DOC_OBJECTS},
	{"opageout", VEC_OP_OPAGEOUT, "Tz", "opageout O PAGE", DOC_OBJECTS},
	{"oaccessed", VEC_OP_OACCESSED, "TzC", "oaccessed O PAGE keep|clear", DOC_OBJECTS},
	{"oswap", VEC_OP_OSWAP, "Tz", "oswap O SLOTS", DOC_OBJECTS},
	{"swap", VEC_OP_SWAP, "Tz", "swap P SLOTS", DOC_SWAP},
	{"pageout", VEC_OP_PAGEOUT, "Ta", "pageout P VA", DOC_SWAP},
	{"swapped", VEC_OP_SWAPPED, "T", "swapped P", DOC_SWAP},
};

const char *vec_command_usage(unsigned i)
{
	if (i == 0)
		return VEC_MACHINE_USAGE;
	return i - 1 < sizeof commands / sizeof commands[0] ? commands[i - 1].usage : NULL;
}

static const char *const level_names[] = {
	[MMU_LEVEL_PT] = "pt", [MMU_LEVEL_PD] = "pd", [MMU_LEVEL_PDPT] = "pdpt",
	[MMU_LEVEL_PML4] = "pml4", [MMU_LEVEL_PML5] = "pml5",
};

/* ---- diagnostics ---- */

#define TOKEN_SHOWN 40 /* characters of a token a diagnostic quotes */

static enum vec_next diag_tok(struct vec_diag *d, unsigned line, const char *before, struct token t,
			      const char *after)
{
	struct vec_buf b;
	vb_init(&b, d->msg, sizeof d->msg);
	d->line = line;
	vb_str(&b, before);
	if (t.s) { /* a token cut at TOKEN_SHOWN, so that the rest of the line fits */
		vb_char(&b, '`');
		vb_strn(&b, t.s, t.n > TOKEN_SHOWN ? TOKEN_SHOWN - 3 : t.n);
		vb_str(&b, t.n > TOKEN_SHOWN ? "...`" : "`");
	}
	vb_str(&b, after);
	return VEC_NEXT_ERROR;
}

static enum vec_next diag(struct vec_diag *d, unsigned line, const char *msg)
{
	return diag_tok(d, line, msg, (struct token){0}, "");
}

/* ---- numbers and words ---- */

static bool parse_digits(const char *s, size_t n, unsigned base, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

static unsigned suffix_shift(char c)
{
	switch (c) {
	case 'K': case 'k': return 10;
	case 'M': case 'm': return 20;
	case 'G': case 'g': return 30;
	default: return 0;
	}
}

bool vec_parse_number(const char *s, size_t n, uint64_t *out)
{
	unsigned shift = n ? suffix_shift(s[n - 1]) : 0;
	unsigned base = 10;
	uint64_t v;
	if (shift)
		n--;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		n -= 2;
	}
	if (!parse_digits(s, n, base, &v))
		return false;
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

bool vec_parse_perm(const char *s, size_t n, unsigned *out)
{
	unsigned prot = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case 'r': prot |= MMU_PROT_R; break;
		case 'w': prot |= MMU_PROT_W; break;
		case 'x': prot |= MMU_PROT_X; break;
		case 'u': prot |= MMU_PROT_U; break;
		case '-': break;
		default: return false;
		}
	}
	*out = prot;
	return true;
}

/* 4K, 2M or 1G (any spelling of those numbers) as an mmu_size. */
static bool parse_page_size(const char *s, size_t n, enum mmu_size *out)
{
	uint64_t v;
	if (!vec_parse_number(s, n, &v))
		return false;
	for (enum mmu_size size = MMU_SIZE_4K; size <= MMU_SIZE_1G; size++) {
		if (v == mmu_size_bytes(size)) {
			*out = size;
			return true;
		}
	}
	return false;
}

static bool copy_name(char *dst, const char *s, size_t n)
{
	if (n == 0 || n > VEC_NAME_MAX || vec_find_char(s, n, '+') || vec_find_char(s, n, '='))
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

/* ---- the machine line ---- */

struct machine_key {
	const char *key;
	uint64_t min, max;
	size_t offset; /* of the field in struct vec_machine */
	bool is_flag;
};

#define MKEY(k, lo, hi, field, flag) {k, lo, hi, offsetof(struct vec_machine, field), flag}
static const struct machine_key machine_keys[] = {
	MKEY("levels", 4, 5, levels, false), MKEY("cpus", 1, MMU_MAX_CPUS, cpus, false),
	MKEY("mem", 1, UINT64_MAX, mem, false), MKEY("nx", 0, 1, nx, true),
	MKEY("smep", 0, 1, smep, true), MKEY("smap", 0, 1, smap, true),
	MKEY("wp", 0, 1, wp, true), MKEY("pke", 0, 1, pke, true),
	MKEY("kpti", 0, 1, kpti, true), MKEY("pcid", 0, 1, pcid, true),
	MKEY("invpcid", 0, 1, invpcid, true),
};

static void machine_store(struct vec_machine *m, const struct machine_key *k, uint64_t v)
{
	char *field = (char *)m + k->offset;
	if (k->is_flag)
		*(bool *)field = v != 0;
	else if (k->offset == offsetof(struct vec_machine, mem))
		*(uint64_t *)field = v;
	else
		*(unsigned *)field = (unsigned)v;
}

static enum vec_next parse_machine_setting(struct vec_parser *p, struct token t, struct vec_diag *d)
{
	const char *eq = vec_find_char(t.s, t.n, '=');
	size_t klen = eq ? (size_t)(eq - t.s) : t.n;
	uint64_t v;
	for (size_t i = 0; i < sizeof machine_keys / sizeof machine_keys[0]; i++) {
		const struct machine_key *k = &machine_keys[i];
		if (!vec_token_is(t.s, klen, k->key))
			continue;
		if (!eq || !vec_parse_number(eq + 1, t.n - klen - 1, &v) || v < k->min || v > k->max)
			return diag_tok(d, p->line, "bad machine setting ", t, SEE_MACHINE);
		machine_store(&p->machine, k, v);
		return VEC_NEXT_STMT;
	}
	return diag_tok(d, p->line, "unknown machine setting ", t, SEE_MACHINE);
}

static enum vec_next parse_machine(struct vec_parser *p, const struct token *tok, unsigned ntok,
				   struct vec_stmt *st, struct vec_diag *d)
{
	if (p->seen_command)
		return diag(d, p->line, "`machine` must be the first command of the file" SEE_MACHINE);
	if (st->has_expect)
		return diag(d, p->line, "`machine` prints no result: no `=>` allowed" SEE_MACHINE);
	for (unsigned i = 1; i < ntok; i++)
		if (parse_machine_setting(p, tok[i], d) != VEC_NEXT_STMT)
			return VEC_NEXT_ERROR;
	st->op = VEC_OP_MACHINE;
	return VEC_NEXT_STMT;
}

/* ---- arguments ---- */

/* One `map` option into st->opts; duplicates and conflicts are errors. */
static enum vec_next parse_map_option(struct vec_parser *p, struct token t, struct vec_stmt *st,
				      struct vec_diag *d, unsigned *seen)
{
	enum { SEEN_SIZE = 1, SEEN_GLOBAL = 2, SEEN_CACHE = 4, SEEN_PKEY = 8 };
	unsigned bit;
	uint64_t v;
	if (t.n > 5 && memcmp(t.s, "size=", 5) == 0 && parse_page_size(t.s + 5, t.n - 5, &st->opts.size))
		bit = SEEN_SIZE;
	else if (vec_token_is(t.s, t.n, "global"))
		bit = SEEN_GLOBAL, st->opts.global = true;
	else if (vec_token_is(t.s, t.n, "uc"))
		bit = SEEN_CACHE, st->opts.cache = MMU_CACHE_UC;
	else if (vec_token_is(t.s, t.n, "wc"))
		bit = SEEN_CACHE, st->opts.cache = MMU_CACHE_WC;
	else if (t.n > 5 && memcmp(t.s, "pkey=", 5) == 0 && vec_parse_number(t.s + 5, t.n - 5, &v) && v < 16)
		bit = SEEN_PKEY, st->opts.pkey = (unsigned)v;
	else
		return diag_tok(d, p->line, "bad map option ", t, " (size=4K|2M|1G global uc wc pkey=0..15; see " VECTORS_MD("map") ")");
	if (*seen & bit)
		return diag_tok(d, p->line, "map option ", t, " conflicts with an earlier one" SEE_MAP);
	*seen |= bit;
	return VEC_NEXT_STMT;
}

static bool parse_level(struct token t, uint64_t *out)
{
	for (unsigned l = MMU_LEVEL_PT; l <= MMU_LEVEL_PML5; l++) {
		if (vec_token_is(t.s, t.n, level_names[l])) {
			*out = l;
			return true;
		}
	}
	return false;
}

/* accessed, dirty or both: the MMU_HARVEST_* bits of `harvest`. */
static bool parse_harvest_bits(struct token t, uint64_t *out)
{
	bool a = vec_token_is(t.s, t.n, "accessed"), d = vec_token_is(t.s, t.n, "dirty");
	bool both = vec_token_is(t.s, t.n, "both");
	*out = (a || both ? MMU_HARVEST_ACCESSED : 0u) | (d || both ? MMU_HARVEST_DIRTY : 0u);
	return *out != 0;
}

/* F or F+OFF. */
static bool parse_frame_ref(struct token t, struct vec_arg *a)
{
	const char *plus = vec_find_char(t.s, t.n, '+');
	size_t nlen = plus ? (size_t)(plus - t.s) : t.n;
	a->num = 0;
	if (plus && !vec_parse_number(plus + 1, t.n - nlen - 1, &a->num))
		return false;
	return copy_name(a->name, t.s, nlen);
}

/* " (see DOC)": where the reader finds what a diagnostic is about. */
static void vb_see(struct vec_buf *b, const char *doc)
{
	vb_str(b, " (see ");
	vb_str(b, doc);
	vb_char(b, ')');
}

/* "bad argument `T`: expected WHAT (see C's section)". */
static enum vec_next bad_argument(struct vec_parser *p, const struct command *c, struct token t,
				  const char *what, struct vec_diag *d)
{
	struct vec_buf b;
	char after[VEC_DIAG_MAX];
	vb_init(&b, after, sizeof after);
	size_t n = strlen(what);
	vb_str(&b, ": expected ");
	if (n && what[n - 1] == ')') { /* "(anon stack eager; see DOC)" */
		vb_strn(&b, what, n - 1);
		vb_str(&b, "; see ");
		vb_str(&b, c->doc);
		vb_char(&b, ')');
	} else {
		vb_str(&b, what);
		vb_see(&b, c->doc);
	}
	return diag_tok(d, p->line, "bad argument ", t, after);
}

static bool parse_region_kind(struct token t, uint64_t *out)
{
	static const char *const kinds[] = {
		[MMU_VM_ANON] = "anon", [MMU_VM_STACK] = "stack", [MMU_VM_EAGER] = "eager", [MMU_VM_GUARD] = "guard",
	};
	for (unsigned k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		if (vec_token_is(t.s, t.n, kinds[k])) {
			*out = k;
			return true;
		}
	return false;
}

/* Check token T as an argument of KIND to command C and store its value in A. */
static enum vec_next parse_arg(struct vec_parser *p, const struct command *c, char kind, struct token t,
			       struct vec_arg *a, struct vec_diag *d)
{
	unsigned prot = 0;
	enum mmu_size size = MMU_SIZE_4K;
	bool ok;
	memset(a, 0, sizeof *a);
	switch (kind) {
	case 'T': case 'N': ok = copy_name(a->name, t.s, t.n); break;
	case 'F': ok = parse_frame_ref(t, a); break;
	case 'a': case 'z': ok = vec_parse_number(t.s, t.n, &a->num); break;
	case 'b': ok = vec_parse_number(t.s, t.n, &a->num) && a->num <= 0xff; break;
	case 'k': ok = vec_parse_number(t.s, t.n, &a->num) && a->num <= 0xffffffffu; break;
	case 'L': ok = parse_level(t, &a->num); break;
	case 'p': ok = vec_parse_perm(t.s, t.n, &prot), a->num = prot; break;
	case 's': ok = parse_page_size(t.s, t.n, &size), a->num = size; break;
	case 'K':
		ok = parse_region_kind(t, &a->num);
		break;
	case 'e': ok = vec_parse_pte_flags(t.s, t.n, &a->num); break;
	case 'O':
		ok = vec_token_is(t.s, t.n, "on") || vec_token_is(t.s, t.n, "off");
		a->num = vec_token_is(t.s, t.n, "on");
		break;
	case 'H': ok = parse_harvest_bits(t, &a->num); break;
	case 'Y':
		ok = vec_token_is(t.s, t.n, "anon") || vec_token_is(t.s, t.n, "store") ||
		     vec_token_is(t.s, t.n, "wstore");
		a->num = vec_token_is(t.s, t.n, "store") ? 1 : vec_token_is(t.s, t.n, "wstore") ? 2 : 0;
		break;
	case 'C':
		ok = vec_token_is(t.s, t.n, "keep") || vec_token_is(t.s, t.n, "clear");
		a->num = vec_token_is(t.s, t.n, "clear");
		break;
	case 'S':
		ok = vec_token_is(t.s, t.n, "shared") || vec_token_is(t.s, t.n, "private");
		a->num = vec_token_is(t.s, t.n, "shared") ? MMU_VM_SHARED : MMU_VM_PRIVATE;
		break;
	case 'c':
		ok = vec_parse_number(t.s, t.n, &a->num);
		if (ok && a->num >= p->machine.cpus)
			return diag_tok(d, p->line, "CPU ", t, " does not exist (see cpus= in " VECTORS_MD("The machine line") ")");
		break;
	default: ok = false; break;
	}
	if (!ok) {
		static const char *const what[128] = {
			['T'] = "a name", ['N'] = "a name (1-31 characters, no + or =)",
			['F'] = "a frame reference F[+OFF]", ['a'] = "an address", ['z'] = "a length",
			['b'] = "a byte (0..0xff)", ['k'] = "a 32-bit value", ['L'] = "a level (pml5 pml4 pdpt pd pt)",
			['p'] = "a permission (letters r w x u, or -)", ['s'] = "a frame size (4K 2M 1G)",
			['c'] = "a CPU number", ['K'] = "a region kind (anon stack eager guard)",
			['e'] = "entry flags (P,RW,US,PWT,PCD,A,D,PK=N,XD)", ['O'] = "on or off",
			['H'] = "accessed, dirty or both", ['Y'] = "anon, store or wstore", ['S'] = "shared or private",
			['C'] = "keep or clear",
		};
		return bad_argument(p, c, t, what[(unsigned char)kind] ? what[(unsigned char)kind] : "a value", d);
	}
	return VEC_NEXT_STMT;
}

static enum vec_next usage(struct vec_parser *p, const struct command *c, struct vec_diag *d)
{
	struct vec_buf b;
	char after[VEC_DIAG_MAX];
	vb_init(&b, after, sizeof after);
	vb_char(&b, '`');
	vb_str(&b, c->usage);
	vb_char(&b, '`');
	vb_see(&b, c->doc);
	return diag_tok(d, p->line, "wrong arguments; usage: ", (struct token){0}, after);
}

/* The optional tail of a signature: `user`, a frame size, map options. */
static enum vec_next parse_optional(struct vec_parser *p, const struct command *c, const char *sig,
				    const struct token *tok, unsigned ntok, struct vec_stmt *st,
				    struct vec_diag *d)
{
	unsigned seen = 0;
	for (unsigned i = 0; i < ntok; i++) {
		if (*sig == 'o') {
			if (parse_map_option(p, tok[i], st, d, &seen) != VEC_NEXT_STMT)
				return VEC_NEXT_ERROR;
		} else if (*sig == 'u' && vec_token_is(tok[i].s, tok[i].n, "user")) {
			st->user = true;
			sig++;
		} else if (*sig == 'm' && st->arg[st->nargs - 1].num == MMU_VM_STACK && tok[i].n > 4 &&
			   memcmp(tok[i].s, "max=", 4) == 0) {
			if (!vec_parse_number(tok[i].s + 4, tok[i].n - 4, &st->arg[st->nargs++].num))
				return bad_argument(p, c, tok[i], "max=SIZE", d);
			st->has_max = true;
			sig++;
		} else if (*sig == 's') {
			if (parse_arg(p, c, 's', tok[i], &st->arg[st->nargs++], d) != VEC_NEXT_STMT)
				return VEC_NEXT_ERROR;
			sig++;
		} else {
			return usage(p, c, d);
		}
	}
	return VEC_NEXT_STMT;
}

static enum vec_next parse_command(struct vec_parser *p, const struct command *c, const struct token *tok,
				   unsigned ntok, struct vec_stmt *st, struct vec_diag *d)
{
	const char *sig = c->sig;
	unsigned i = 0;
	st->op = c->op;
	st->opts = (struct mmu_map_opts){.size = MMU_SIZE_ANY, .cache = MMU_CACHE_WB};
	for (; *sig && *sig != '|'; sig++, i++) {
		if (i >= ntok)
			return usage(p, c, d);
		if (parse_arg(p, c, *sig, tok[i], &st->arg[st->nargs++], d) != VEC_NEXT_STMT)
			return VEC_NEXT_ERROR;
	}
	if (*sig == '|')
		return parse_optional(p, c, sig + 1, tok + i, ntok - i, st, d);
	return i == ntok ? VEC_NEXT_STMT : usage(p, c, d);
}

/* ---- lines ---- */

static enum vec_next dispatch(struct vec_parser *p, const struct token *tok, unsigned ntok,
			      struct vec_stmt *st, struct vec_diag *d)
{
	if (vec_token_is(tok[0].s, tok[0].n, "machine"))
		return parse_machine(p, tok, ntok, st, d);
	p->seen_command = true;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (vec_token_is(tok[0].s, tok[0].n, commands[i].name))
			return parse_command(p, &commands[i], tok + 1, ntok - 1, st, d);
	return diag_tok(d, p->line, "unknown command ", tok[0], " (`mmu64 --help` lists the commands)");
}

static unsigned tokenize(const char *s, size_t n, struct token *tok, unsigned max)
{
	unsigned count = 0;
	size_t i = 0;
	while (i < n) {
		while (i < n && vec_is_blank(s[i]))
			i++;
		size_t start = i;
		while (i < n && !vec_is_blank(s[i]))
			i++;
		if (i > start) {
			if (count == max)
				return max + 1;
			tok[count++] = (struct token){s + start, i - start};
		}
	}
	return count;
}

/* The command part of a line ([S, S+*N) on return) and its expectation. */
static enum vec_next split_expectation(struct vec_parser *p, const char *s, size_t *n, struct vec_stmt *st,
				       struct vec_diag *d)
{
	st->has_expect = false;
	for (size_t i = 0; i + 1 < *n; i++) {
		if (s[i] != '=' || s[i + 1] != '>')
			continue;
		if (!vec_collapse_blanks(st->expect, sizeof st->expect, s + i + 2, *n - i - 2))
			return diag(d, p->line, "expectation too long" SEE_LINES);
		if (st->expect[0] == '\0')
			return diag(d, p->line, "nothing after `=>`" SEE_LINES);
		st->has_expect = true;
		*n = i;
		break;
	}
	return VEC_NEXT_STMT;
}

/* Parse the line [S, S+N) (comment included). VEC_NEXT_END: blank. */
static enum vec_next parse_line(struct vec_parser *p, const char *s, size_t n, struct vec_stmt *st,
				struct vec_diag *d)
{
	const char *hash = vec_find_char(s, n, '#');
	struct token tok[VEC_MAX_TOKENS];
	unsigned ntok;
	if (hash)
		n = (size_t)(hash - s);
	if (vec_find_char(s, n, '\0'))
		return diag(d, p->line, "NUL byte in line (see " VECTORS_MD("Malformed files") ")");
	if (split_expectation(p, s, &n, st, d) != VEC_NEXT_STMT)
		return VEC_NEXT_ERROR;
	ntok = tokenize(s, n, tok, VEC_MAX_TOKENS);
	if (ntok > VEC_MAX_TOKENS)
		return diag(d, p->line, "too many arguments" SEE_LINES);
	if (ntok == 0)
		return st->has_expect ? diag(d, p->line, "`=>` without a command" SEE_LINES) : VEC_NEXT_END;
	return dispatch(p, tok, ntok, st, d);
}

void vec_machine_default(struct vec_machine *m)
{
	*m = (struct vec_machine){
		.levels = 4, .cpus = 2, .mem = 2ull << 30, .nx = true, .smep = true, .smap = true,
		.wp = true, .pke = false, .kpti = false, .pcid = false, .invpcid = true,
		.needs_1g = false,
	};
}

void vec_parser_init(struct vec_parser *p, const char *text, size_t len)
{
	*p = (struct vec_parser){.text = text, .len = len};
	vec_machine_default(&p->machine);
}

/* Remember that the file needs 1G pages (an executor may lack them). */
static void note_1g(struct vec_parser *p, const struct vec_stmt *st)
{
	if ((st->op == VEC_OP_FRAME && st->nargs > 1 && st->arg[1].num == MMU_SIZE_1G) ||
	    (st->op == VEC_OP_MAP && st->opts.size == MMU_SIZE_1G))
		p->machine.needs_1g = true;
	if (st->op == VEC_OP_TLB)
		p->machine.needs_tlb_list = true;
	if (st->op == VEC_OP_TLBSAN)
		p->machine.needs_sanitizer = true;
}

enum vec_next vec_parse_next(struct vec_parser *p, struct vec_stmt *st, struct vec_diag *diag_out)
{
	while (p->pos < p->len) {
		const char *s = p->text + p->pos;
		const char *nl = vec_find_char(s, p->len - p->pos, '\n');
		size_t n = nl ? (size_t)(nl - s) : p->len - p->pos;
		enum vec_next r;
		p->pos += n + (nl ? 1 : 0);
		p->line++;
		memset(st, 0, sizeof *st);
		st->line = p->line;
		r = parse_line(p, s, n, st, diag_out);
		if (r == VEC_NEXT_END)
			continue;
		if (r == VEC_NEXT_STMT)
			note_1g(p, st);
		return r;
	}
	return VEC_NEXT_END;
}
