/* SPDX-License-Identifier: MIT */
/* mmu64 view: runs a vector on the software machine and, after each
 * command, records what the page shows (the command's output lines, each
 * tree level by level, every CPU's TLB and active tree, the shootdown
 * counters, faults decoded), then writes the page with that data inside. */
#include "tools/view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/tlbview.h"
#include "tools/annotate.h"
#include "tools/exec_sim.h"
#include "tools/jsonbuf.h"
#include "tools/vec/inspect.h"

#define VIEW_MAX_ENTRIES 1500  /* paging entries shown per step, all trees */
#define VIEW_MAX_TLB 256        /* TLB entries shown per CPU and step */
#define VEC_WINDOW_START 0xffffc80000000000ull
#define VEC_WINDOW_END 0xffffd00000000000ull

struct view {
	const char *text;
	size_t len;
	struct exec_sim exec;
	struct jbuf pending;  /* output lines since the last step: a JSON array's items */
	char last_line[400];  /* the last output line as printed (a diagnostic) */
	struct jbuf steps;    /* the steps: a JSON array's items */
	struct jbuf state;    /* this step's trees */
	char *prev_state;     /* the previous step's trees (steps repeat them as null) */
	unsigned entries_left;
	uint64_t invlpg[MMU_MAX_CPUS], full[MMU_MAX_CPUS], taken[MMU_MAX_CPUS], ipis;
	unsigned levels; /* of the machine line */
};

static const char *const level_names[] = {
	[MMU_LEVEL_PT] = "pt", [MMU_LEVEL_PD] = "pd", [MMU_LEVEL_PDPT] = "pdpt",
	[MMU_LEVEL_PML4] = "pml4", [MMU_LEVEL_PML5] = "pml5",
};
static const char *const size_names[] = {[MMU_SIZE_4K] = "4K", [MMU_SIZE_2M] = "2M", [MMU_SIZE_1G] = "1G"};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct jbuf b = {0};
	char chunk[65536];
	size_t n;
	if (!f) {
		fprintf(stderr, "mmu64 view: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		jb_rawn(&b, chunk, n);
	fclose(f);
	jb_raw(&b, "");
	if (b.failed) {
		jb_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.s;
}

static void collect_line(void *ctx, const char *line)
{
	struct view *v = ctx;
	snprintf(v->last_line, sizeof v->last_line, "%s", line);
	jb_sep(&v->pending);
	jb_str(&v->pending, line);
}

/* ---- trees ---- */

static uint64_t *table_of(struct view *v, mmu_pa_t pa) { return (uint64_t *)sim_phys(v->exec.sim, pa); }

static bool table_empty(struct view *v, mmu_pa_t pa)
{
	const uint64_t *t = table_of(v, pa);
	for (unsigned i = 0; i < 512; i++)
		if (t[i] & MMU_PTE_P)
			return false;
	return true;
}

static void entry_text(struct vec_session *s, mmu_pte_t e, enum mmu_level level, struct jbuf *b)
{
	char text[160];
	struct vec_buf t;
	vb_init(&t, text, sizeof text);
	vec_print_entry_flags(&t, e, level);
	jb_key(b, "flags");
	jb_str(b, text[0] == ' ' ? text + 1 : text);
	if (mmu_pte_present(e) && mmu_pte_is_leaf(e, level)) {
		enum mmu_size size = (enum mmu_size)level;
		vb_init(&t, text, sizeof text);
		vec_print_pa(s, &t, mmu_pa(e & mmu_pte_addr_mask(e, level)), size);
		jb_key(b, "to");
		jb_str(b, text);
		jb_key(b, "size");
		jb_str(b, size_names[size]);
	}
}

/* A process's data frame: how many leaves map it (2 and more: shared,
 * copy-on-write). */
static void refs_json(struct view *v, mmu_pte_t e, enum mmu_level level, struct jbuf *b)
{
	struct mmu_frame_meta *m;
	if (!mmu_pte_present(e) || !mmu_pte_is_leaf(e, level))
		return;
	m = sim_frame_meta(v->exec.sim, mmu_pa(e & mmu_pte_addr_mask(e, level)));
	if (m && m->refcount) {
		jb_key(b, "refs");
		jb_u64(b, m->refcount);
	}
}

static void table_json(struct view *v, struct vec_session *s, mmu_pa_t pa, enum mmu_level level, uint64_t base,
		       uint64_t lo, uint64_t hi, bool skip_empty);

static void entry_json(struct view *v, struct vec_session *s, mmu_pte_t e, enum mmu_level level, unsigned i,
		       uint64_t va, uint64_t lo, uint64_t hi, bool skip_empty)
{
	struct jbuf *b = &v->state;
	mmu_pa_t target = mmu_pa(e & mmu_pte_addr_mask(e, level));
	bool leaf = mmu_pte_is_leaf(e, level);
	if (skip_empty && !leaf && table_empty(v, target))
		return;
	v->entries_left--;
	jb_sep(b);
	jb_raw(b, "{");
	jb_key(b, "i");
	jb_u64(b, i);
	jb_key(b, "va");
	jb_hex(b, mmu_va_canonicalize(va, s->machine.levels));
	jb_key(b, "e");
	jb_hex(b, e);
	jb_key(b, "pa");
	jb_hex(b, mmu_pa_bits(target));
	entry_text(s, e, level, b);
	refs_json(v, e, level, b);
	if (!leaf && level > MMU_LEVEL_PT) {
		jb_key(b, "child");
		table_json(v, s, target, level - 1, va, lo, hi, skip_empty);
	}
	jb_raw(b, "}");
}

/* TABLE at LEVEL, mapping from BASE: its present entries whose span meets
 * [LO, HI), each with the table it points to. */
static void table_json(struct view *v, struct vec_session *s, mmu_pa_t pa, enum mmu_level level, uint64_t base,
		       uint64_t lo, uint64_t hi, bool skip_empty)
{
	struct jbuf *b = &v->state;
	const uint64_t *t = table_of(v, pa);
	uint64_t span = mmu_level_span(level);
	jb_raw(b, "{");
	jb_key(b, "level");
	jb_str(b, level_names[level]);
	jb_key(b, "pa");
	jb_hex(b, mmu_pa_bits(pa));
	jb_key(b, "entries");
	jb_raw(b, "[");
	for (unsigned i = 0; i < 512; i++) {
		uint64_t va = base + i * span;
		mmu_pte_t e = t[i];
		if (!(e & MMU_PTE_P) || va + span <= lo || va >= hi)
			continue;
		if (v->entries_left == 0) {
			jb_raw(b, "],\"truncated\":true}");
			return;
		}
		entry_json(v, s, e, level, i, va, lo, hi, skip_empty);
	}
	jb_raw(b, "]}");
}

static void tree_json(struct view *v, struct vec_session *s, const char *name, const char *kind,
		      const struct mmu_tree *tree)
{
	struct jbuf *b = &v->state;
	unsigned bits = mmu_va_bits(s->machine.levels);
	enum mmu_level top = s->machine.levels == 5 ? MMU_LEVEL_PML5 : MMU_LEVEL_PML4;
	bool kernel = tree->is_kernel;
	/* Kernel VAs as the unsigned offsets the table indices make. */
	uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
	uint64_t lo = kernel ? VEC_WINDOW_START & mask : 0, hi = kernel ? VEC_WINDOW_END & mask : 1ull << (bits - 1);
	jb_sep(b);
	jb_raw(b, "{");
	jb_key(b, "name");
	jb_str(b, name);
	jb_key(b, "kind");
	jb_str(b, kind);
	jb_key(b, "root");
	table_json(v, s, tree->root, top, 0, lo, hi, kernel);
	jb_raw(b, "}");
}

static void trees_json(struct view *v, struct vec_session *s)
{
	v->state.len = 0;
	v->entries_left = VIEW_MAX_ENTRIES;
	jb_raw(&v->state, "[");
	for (unsigned i = 0; i < VEC_MAX_SPACES; i++)
		if (s->space[i].used)
			tree_json(v, s, s->space[i].name, "space", &s->space[i].tree);
	for (unsigned i = 0; i < VEC_MAX_PROCS; i++)
		if (s->proc[i].used)
			tree_json(v, s, s->proc[i].name, "process", &s->proc[i].sp.tree);
	tree_json(v, s, "kernel", "kernel window", mmu_kernel_tree(s->mmu));
	jb_raw(&v->state, "]");
}

/* ---- CPUs ---- */

static const char *tree_name(struct vec_session *s, const struct mmu_tree *t)
{
	for (unsigned i = 0; i < VEC_MAX_SPACES; i++)
		if (s->space[i].used && &s->space[i].tree == t)
			return s->space[i].name;
	for (unsigned i = 0; i < VEC_MAX_PROCS; i++)
		if (s->proc[i].used && &s->proc[i].sp.tree == t)
			return s->proc[i].name;
	return "kernel";
}

struct tlb_copy {
	struct sim_tlb_view e[VIEW_MAX_TLB];
	unsigned n, total;
};

static void copy_tlb(void *ctx, const struct sim_tlb_view *e)
{
	struct tlb_copy *c = ctx;
	if (c->n < VIEW_MAX_TLB)
		c->e[c->n++] = *e;
	c->total++;
}

static int by_va(const void *a, const void *b)
{
	const struct sim_tlb_view *x = a, *y = b;
	return x->va < y->va ? -1 : x->va > y->va ? 1 : (int)x->pcid - (int)y->pcid;
}

/* Whether E no longer agrees with CPU's tables (another frame, or rights
 * the tables took away): what the sanitizer reports when it is used. NOW
 * gets what the tables say. */
static bool tlb_stale(struct vec_session *s, unsigned cpu, const struct sim_tlb_view *e, char *now, size_t cap)
{
	struct mmu_tree *tree = s->active[cpu] ? s->active[cpu] : mmu_kernel_tree(s->mmu);
	struct mmu_translation t;
	struct vec_buf b;
	vb_init(&b, now, cap);
	if (mmu_walk(tree, e->va, &t) != MMU_OK) {
		vb_str(&b, "not mapped");
		return true;
	}
	vec_print_pa(s, &b, t.pa, t.size);
	vb_str(&b, " r");
	vb_char(&b, t.prot & MMU_PROT_W ? 'w' : '-');
	vb_char(&b, t.prot & MMU_PROT_X ? 'x' : '-');
	vb_char(&b, t.prot & MMU_PROT_U ? 'u' : '-');
	/* T.PA is where E's first byte translates now. */
	return mmu_pa_bits(t.pa) != e->pa || (e->w && !(t.prot & MMU_PROT_W)) ||
	       (e->u && !(t.prot & MMU_PROT_U)) || (!e->xd && !(t.prot & MMU_PROT_X) && s->machine.nx);
}

static void tlb_json(struct view *v, struct vec_session *s, unsigned cpu, struct jbuf *b)
{
	static struct tlb_copy c;
	char to[96];
	struct vec_buf t;
	c.n = c.total = 0;
	sim_tlb_list(v->exec.sim, cpu, copy_tlb, &c);
	qsort(c.e, c.n, sizeof c.e[0], by_va);
	jb_key(b, "tlb_total");
	jb_u64(b, c.total);
	jb_key(b, "tlb");
	jb_raw(b, "[");
	for (unsigned i = 0; i < c.n; i++) {
		const struct sim_tlb_view *e = &c.e[i];
		char perm[5] = {'r', e->w ? 'w' : '-', e->xd ? '-' : 'x', e->u ? 'u' : '-', '\0'};
		vb_init(&t, to, sizeof to);
		vec_print_pa(s, &t, mmu_pa(e->pa), e->size);
		jb_sep(b);
		jb_raw(b, "{");
		jb_key(b, "va");
		jb_hex(b, e->va);
		jb_key(b, "size");
		jb_str(b, size_names[e->size]);
		jb_key(b, "to");
		jb_str(b, to);
		jb_key(b, "pa");
		jb_hex(b, e->pa);
		jb_key(b, "perm");
		jb_str(b, perm);
		jb_key(b, "d");
		jb_raw(b, e->dirty ? "true" : "false");
		jb_key(b, "g");
		jb_raw(b, e->global ? "true" : "false");
		jb_key(b, "pcid");
		jb_u64(b, e->pcid);
		jb_key(b, "pk");
		jb_u64(b, e->pkey);
		char now[96];
		if (tlb_stale(s, cpu, e, now, sizeof now)) {
			jb_key(b, "stale");
			jb_raw(b, "true");
			jb_key(b, "now");
			jb_str(b, now);
		}
		jb_raw(b, "}");
	}
	jb_raw(b, "]");
}

/* Each CPU: its tree, its TLB, what the step's shootdown did there. */
static void cpus_json(struct view *v, struct vec_session *s, struct jbuf *b)
{
	jb_key(b, "cpus");
	jb_raw(b, "[");
	for (unsigned cpu = 0; cpu < s->machine.cpus; cpu++) {
		struct mmu_counters c = mmu_cpu_counters(s->mmu, cpu);
		uint64_t taken = sim_cpu_ipis_taken(v->exec.sim, cpu);
		jb_sep(b);
		jb_raw(b, "{");
		jb_key(b, "tree");
		jb_str(b, tree_name(s, s->active[cpu]));
		jb_key(b, "invlpg");
		jb_u64(b, c.invlpg - v->invlpg[cpu]);
		jb_key(b, "full");
		jb_u64(b, c.full - v->full[cpu]);
		jb_key(b, "ipis_taken");
		jb_u64(b, taken - v->taken[cpu]);
		tlb_json(v, s, cpu, b);
		jb_raw(b, "}");
		v->invlpg[cpu] = c.invlpg;
		v->full[cpu] = c.full;
		v->taken[cpu] = taken;
	}
	jb_raw(b, "]");
	uint64_t ipis = atomic_load(&s->mmu->ipis);
	jb_key(b, "ipis");
	jb_u64(b, ipis - v->ipis);
	v->ipis = ipis;
}

/* ---- steps ---- */

/* The next `fault 0xE` or `segv 0xE` at or after P, or NULL. */
static const char *next_code(const char *p)
{
	const char *f = strstr(p, "fault 0x"), *g = strstr(p, "segv 0x");
	return !f ? g : !g ? f : f < g ? f : g;
}

/* Each `fault 0xE` / `segv 0xE` among the step's lines, decoded. */
static void faults_json(const char *lines, struct jbuf *b)
{
	jb_key(b, "faults");
	jb_raw(b, "[");
	for (const char *p = lines; (p = next_code(p)) != NULL;) {
		uint32_t code = (uint32_t)strtoul(strchr(p, ' ') + 1, NULL, 16);
		char names[64], sentence[160], text[256];
		pf_bit_names(code, names, sizeof names);
		pf_sentence(code, sentence, sizeof sentence);
		snprintf(text, sizeof text, "0x%x = %s: %s", code, names, sentence);
		jb_sep(b);
		jb_str(b, text);
		p = strchr(p, ' ') + 1;
	}
	jb_raw(b, "]");
}

static void step(void *ctx, struct vec_session *s, const struct vec_stmt *st)
{
	struct view *v = ctx;
	struct jbuf *b = &v->steps;
	char cmd[256];
	v->levels = s->machine.levels;
	annotate_command_text(v->text, v->len, st->line, cmd, sizeof cmd);
	jb_raw(&v->pending, "");
	jb_sep(b);
	jb_raw(b, "{");
	jb_key(b, "line");
	jb_u64(b, st->line);
	jb_key(b, "cmd");
	jb_str(b, cmd);
	jb_key(b, "out");
	jb_raw(b, "[");
	jb_raw(b, v->pending.s);
	jb_raw(b, "]");
	faults_json(v->pending.s, b);
	cpus_json(v, s, b);
	trees_json(v, s);
	jb_key(b, "trees");
	if (v->prev_state && strcmp(v->prev_state, v->state.s) == 0) {
		jb_raw(b, "null"); /* as the step before */
	} else {
		jb_raw(b, v->state.s);
		free(v->prev_state);
		v->prev_state = strdup(v->state.s);
	}
	jb_raw(b, "}");
	v->pending.len = 0;
	v->pending.s[0] = '\0';
}

/* ---- the page ---- */

static void source_json(const char *text, size_t len, struct jbuf *b)
{
	const char *s = text, *e = text + len;
	jb_raw(b, "[");
	while (s < e) {
		const char *nl = memchr(s, '\n', (size_t)(e - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(e - s);
		if (n && s[n - 1] == '\r')
			n--;
		jb_sep(b);
		jb_strn(b, s, n);
		s = nl ? nl + 1 : e;
	}
	jb_raw(b, "]");
}

static int write_page(const char *html, const char *vector, struct view *v, int status)
{
	struct jbuf data = {0};
	FILE *f;
	jb_raw(&data, "{");
	jb_key(&data, "file");
	jb_str(&data, vector);
	jb_key(&data, "status");
	jb_u64(&data, (uint64_t)status);
	jb_key(&data, "levels");
	jb_u64(&data, v->levels);
	jb_key(&data, "source");
	source_json(v->text, v->len, &data);
	jb_key(&data, "steps");
	jb_raw(&data, "[");
	jb_raw(&data, v->steps.s ? v->steps.s : "");
	jb_raw(&data, "]");
	jb_key(&data, "epilogue");
	jb_raw(&data, "[");
	jb_raw(&data, v->pending.s ? v->pending.s : "");
	jb_raw(&data, "]}");
	if (data.failed || v->steps.failed || v->state.failed) {
		fprintf(stderr, "mmu64 view: out of memory\n");
		jb_free(&data);
		return 2;
	}
	f = fopen(html, "w");
	if (!f) {
		fprintf(stderr, "mmu64 view: %s: %s\n", html, strerror(errno));
		jb_free(&data);
		return 2;
	}
	fputs(view_page_head, f);
	fputs(data.s, f);
	fputs(view_page_tail, f);
	jb_free(&data);
	if (fclose(f) != 0) {
		fprintf(stderr, "mmu64 view: %s: write error\n", html);
		return 2;
	}
	return status;
}

int view_main(const char *vector, const char *html)
{
	static struct vec_session session;
	static struct view v;
	struct vec_io io = {.file = vector, .out = collect_line, .out_ctx = &v, .raw = true, .step = step,
			    .step_ctx = &v};
	int status;
	memset(&v, 0, sizeof v);
	v.text = slurp(vector, &v.len);
	if (!v.text)
		return 2;
	io.text = v.text;
	io.len = v.len;
	jb_raw(&v.pending, "");
	jb_raw(&v.steps, "");
	status = vec_run(&session, &io, &exec_sim_ops, &v.exec);
	if (status == VEC_MALFORMED) {
		fprintf(stderr, "%s\n", v.last_line);
	} else {
		status = write_page(html, vector, &v, status);
	}
	free((char *)v.text);
	free(v.prev_state);
	jb_free(&v.pending);
	jb_free(&v.steps);
	jb_free(&v.state);
	return status;
}
