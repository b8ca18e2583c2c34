/* SPDX-License-Identifier: MIT */
/* Helpers for library tests on the software machine; see simtest.h. */
#include "simtest.h"

#include <string.h>

/* Architectural entry bits, spelled here so the oracle walker does not
 * lean on the library's headers for meaning. */
#define ST_E_P 0x1ull
#define ST_E_PS 0x80ull
#define ST_E_ADDR 0x000ffffffffff000ull

struct sim *st_machine(const struct sim_config *cfg)
{
	struct sim *sim = sim_create(cfg);
	if (!sim) {
		fprintf(stderr, "st_machine: sim_create failed (levels=%u cpus=%u)\n", cfg->levels, cfg->ncpus);
		exit(1);
	}
	return sim;
}

void st_check_sanitizer(struct sim *sim)
{
	if (sim_tlbsan_reports(sim))
		fprintf(stderr, "tlbsan: %s\n", sim_tlbsan_last(sim));
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
}

struct sim *st_default(unsigned levels, unsigned ncpus)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.levels = levels;
	cfg.ncpus = ncpus;
	return st_machine(&cfg);
}

struct sim *st_threaded(unsigned ncpus, uint64_t mem)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = ncpus;
	cfg.threaded = true;
	cfg.mem = mem;
	return st_machine(&cfg);
}

void st_load(struct sim *sim, unsigned cpu, struct mmu_tree *tree)
{
	unsigned self = sim_cpu(sim);
	sim_set_cpu(sim, cpu);
	mmu_tree_load(tree);
	sim_set_cpu(sim, self);
}

struct sim *st_machine_tree(const struct sim_config *cfg, struct mmu_tree *tree, bool loaded)
{
	struct sim *sim = st_machine(cfg);
	CHECK_OK(mmu_tree_create(sim_mmu(sim), tree));
	if (loaded)
		st_load(sim, 1, tree);
	return sim;
}

uint32_t st_result(struct sim_access a)
{
	return a.outcome == SIM_OK ? ST_OK : a.outcome == SIM_GP ? ST_GP : a.error_code;
}

struct st_cpu_mode st_mode_of(const struct sim_config *cfg)
{
	return (struct st_cpu_mode){.nx = cfg->nx, .smep = cfg->smep, .smap = cfg->smap, .wp = cfg->wp};
}

uint32_t st_expect(struct st_cpu_mode m, bool present, unsigned prot, enum sim_access_kind kind, bool user, bool ac)
{
	bool write = kind == SIM_WRITE, fetch = kind == SIM_EXEC;
	uint32_t code = (write ? ST_PF_W : 0) | (user ? ST_PF_U : 0) | (fetch && (m.smep || m.nx) ? ST_PF_ID : 0);
	if (!present)
		return code;
	bool w = prot & MMU_PROT_W, u = prot & MMU_PROT_U, xd = m.nx && !(prot & MMU_PROT_X);
	bool ok;
	if (user)
		ok = u && (!write || w) && (!fetch || !xd);
	else if (fetch)
		ok = !xd && !(m.smep && u);
	else
		ok = !(m.smap && u && !ac) && !(write && !w && m.wp);
	return ok ? ST_OK : code | ST_PF_P;
}

static void snap_push(struct st_snapshot *s, uint64_t a, uint64_t b, uint64_t c)
{
	if (s->n + 3 > s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v) {
			fprintf(stderr, "st_snapshot: out of memory\n");
			exit(1);
		}
	}
	s->v[s->n++] = a;
	s->v[s->n++] = b;
	s->v[s->n++] = c;
}

static uint64_t snap_table(struct sim *sim, uint64_t table_pa, unsigned level, uint64_t va_base, unsigned first,
			   unsigned end, struct st_snapshot *s)
{
	const uint64_t *t = (const uint64_t *)(const void *)sim_phys(sim, mmu_pa(table_pa));
	uint64_t tables = 1;
	for (unsigned i = first; i < end; i++) {
		uint64_t e = __atomic_load_n(&t[i], __ATOMIC_RELAXED);
		if (!e)
			continue;
		uint64_t va = va_base + ((uint64_t)i << (12 + 9 * (level - 1)));
		if (s)
			snap_push(s, level, va, e);
		bool leaf = level == 1 || ((level == 2 || level == 3) && (e & ST_E_PS));
		if ((e & ST_E_P) && !leaf)
			tables += snap_table(sim, e & ST_E_ADDR, level - 1, va, 0, 512, s);
	}
	return tables;
}

static uint64_t snap_tree(struct sim *sim, struct mmu_tree *tree, struct st_snapshot *s)
{
	unsigned levels = sim_config(sim)->levels;
	unsigned first = tree->is_kernel ? 256 : 0;
	uint64_t base = tree->is_kernel ? ~0ull << (12 + 9 * levels - 1) : 0;
	return snap_table(sim, mmu_tree_cr3(tree) & ST_E_ADDR, levels, base, first, first + 256, s);
}

void st_snapshot_take(struct sim *sim, struct mmu_tree *tree, struct st_snapshot *s)
{
	s->n = 0;
	snap_tree(sim, tree, s);
}

bool st_snapshot_equal(const struct st_snapshot *a, const struct st_snapshot *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
}

void st_snapshot_free(struct st_snapshot *s)
{
	free(s->v);
	*s = (struct st_snapshot){0};
}

uint64_t st_count_tables(struct sim *sim, struct mmu_tree *tree) { return snap_tree(sim, tree, NULL); }

struct dump_buf {
	char *s;
	size_t n, cap;
};

static void dump_line(void *ctx, const char *line)
{
	struct dump_buf *d = ctx;
	size_t len = strlen(line);
	if (d->n + len + 2 > d->cap) {
		d->cap = (d->cap + len + 2) * 2;
		d->s = realloc(d->s, d->cap);
		if (!d->s) {
			fprintf(stderr, "st_dump: out of memory\n");
			exit(1);
		}
	}
	memcpy(d->s + d->n, line, len);
	d->n += len;
	d->s[d->n++] = '\n';
	d->s[d->n] = 0;
}

char *st_dump(struct mmu_tree *tree)
{
	struct dump_buf d = {0};
	mmu_dump(tree, 0, 0, dump_line, &d);
	if (!d.s)
		d.s = calloc(1, 1);
	return d.s;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t st_tables_for_leaves(unsigned levels, const uint64_t *va, const enum mmu_size *size, size_t n)
{
	/* A table at level L (holding level-L entries) for a leaf at level S
	 * exists for every L from S to levels-1 (the root is counted once);
	 * it is named by the VA bits above its span. */
	uint64_t *keys = malloc((n * 5 + 1) * sizeof(*keys));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		for (unsigned l = (unsigned)size[i]; l < levels; l++) {
			unsigned span_shift = 12 + 9 * l; /* what a level-L table covers */
			uint64_t prefix = (va[i] & ((1ull << (12 + 9 * levels)) - 1)) >> span_shift;
			keys[k++] = (uint64_t)l << 56 | prefix;
		}
	}
	qsort(keys, k, sizeof(*keys), cmp_u64);
	uint64_t distinct = 0;
	for (size_t i = 0; i < k; i++)
		if (i == 0 || keys[i] != keys[i - 1])
			distinct++;
	free(keys);
	return distinct + 1;
}

void st_rng_seed(struct st_rng *r, uint64_t seed) { r->s = seed ? seed : 0x9e3779b97f4a7c15ull; }

uint64_t st_rng_next(struct st_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

uint64_t st_rng_below(struct st_rng *r, uint64_t n) { return n ? st_rng_next(r) % n : 0; }
