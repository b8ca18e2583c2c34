/* SPDX-License-Identifier: MIT */
/* make bench: the fixed workloads of docs/BENCH.md on the software
 * machine, then C1 (the TLB flush ceiling on the machine's cost model).
 * Usage: mmu64-bench [--reps N] [--csv] [--small] [--clear-tables] [W1 W2 ... W8 C1]
 * --small shrinks every workload (make test runs it that way to check that
 * the benchmark still works; its figures mean nothing). --clear-tables
 * makes W1-W4's machine clear every table page it hands out, those the
 * library gave back zeroed too. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "sim/sim.h"


struct samples {
	double v[1024];
	unsigned n;
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const struct bench_opts *o, const char *work, const char *phase, struct samples *s,
		   const char *extra)
{
	qsort(s->v, s->n, sizeof(s->v[0]), cmp_double);
	double med = s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2;
	if (o->csv)
		printf("%s,%s,%.2f,%.2f,%.2f,%s\n", work, phase, med, s->v[0], s->v[s->n - 1], extra);
	else
		printf("%s %-12s ns/page=%.2f min=%.2f max=%.2f %s\n", work, phase, med, s->v[0], s->v[s->n - 1],
		       extra);
	s->n = 0;
}

static void sample(struct samples *s, double t0, uint64_t pages) { s->v[s->n++] = (now_ns() - t0) / pages; }

void bench_sim_config(struct sim_config *cfg)
{
	sim_config_default(cfg);
	cfg->skip_zero_check = true;
}

struct sim *bench_machine(unsigned cpus, bool threaded, bool pretouch, bool clear_tables)
{
	struct sim_config cfg;
	bench_sim_config(&cfg);
	cfg.ncpus = cpus;
	cfg.threaded = threaded;
	cfg.clear_every_table = clear_tables;
	struct sim *sim = sim_create(&cfg);
	if (!sim) {
		fprintf(stderr, "bench: cannot create the software machine\n");
		exit(1);
	}
	/* docs/BENCH.md: the arena is written once before any timing, so that no
	 * phase pays the host's first-touch faults. The page-table pool is
	 * what the workloads use (W2 needs 117,358 tables, 459 MiB). */
	for (uint64_t pa = 2ull << 20; pretouch && pa < (512ull << 20); pa += MMU_PAGE_SIZE)
		*sim_phys(sim, mmu_pa(pa)) = 0;
	return sim;
}

static void must(mmu_err_t err, const char *what)
{
	if (err != MMU_OK) {
		fprintf(stderr, "bench: %s failed: %s\n", what, mmu_err_name(err));
		exit(1);
	}
}

static int64_t tables_without_root(struct mmu *mmu) { return mmu_user_tables(mmu) - 1; }

#define RWU (MMU_PROT_R | MMU_PROT_W | MMU_PROT_U)

/* One call per page: plain calls, each taking and dropping the tree lock,
 * or the _locked calls under one hold of it (mmu_tree_lock), the same
 * exclusive access the peer's `&mut` page table gives it.
 *
 * The loops are inlined where each workload runs them, with the page size
 * and the kind of call constants there (BENCH_LOOP), so that every
 * workload has its own loop, as the peer's harness has (its page size is
 * a type): a shared loop would read the size and the kind from memory on
 * every page, and, in a build with link-time optimization (`make bench
 * LTO=1`), keep the library's test of the size that the constant folds. */
#define BENCH_LOOP static inline __attribute__((always_inline))

struct pages {
	struct mmu_tree *tree;
	bool locked;
	mmu_vaddr_t va0;
	uint64_t pa0, size, n;
};

/* The hold a locked run takes around its calls (none for plain calls). */
BENCH_LOOP struct mmu_tree_locked pages_hold(const struct pages p)
{
	return p.locked ? mmu_tree_lock(p.tree) : (struct mmu_tree_locked){0};
}

BENCH_LOOP void pages_release(const struct pages p, struct mmu_tree_locked h)
{
	if (p.locked)
		mmu_tree_unlock(h);
}

BENCH_LOOP void map_pages(const struct pages p)
{
	struct mmu_tree_locked h = pages_hold(p);
	for (uint64_t i = 0; i < p.n; i++) {
		mmu_vaddr_t va = p.va0 + i * p.size;
		mmu_pa_t pa = mmu_pa(p.pa0 + i * p.size);
		must(p.locked ? mmu_map_locked(h, va, pa, p.size, RWU, NULL, NULL)
			      : mmu_map(p.tree, va, pa, p.size, RWU, NULL, NULL),
		     "map");
	}
	pages_release(p, h);
}

BENCH_LOOP void walk_pages(const struct pages p)
{
	struct mmu_tree_locked h = pages_hold(p);
	struct mmu_translation tr;
	for (uint64_t i = 0; i < p.n; i++) {
		mmu_vaddr_t va = p.va0 + i * p.size;
		must(p.locked ? mmu_walk_locked(h, va, &tr) : mmu_walk(p.tree, va, &tr), "walk");
	}
	pages_release(p, h);
}

BENCH_LOOP void unmap_pages(const struct pages p)
{
	struct mmu_tree_locked h = pages_hold(p);
	for (uint64_t i = 0; i < p.n; i++) {
		mmu_vaddr_t va = p.va0 + i * p.size;
		must(p.locked ? mmu_unmap_locked(h, va, p.size, NULL) : mmu_unmap(p.tree, va, p.size, NULL), "unmap");
	}
	pages_release(p, h);
}

BENCH_LOOP void protect_pages(const struct pages p, unsigned prot)
{
	struct mmu_tree_locked h = pages_hold(p);
	for (uint64_t i = 0; i < p.n; i++) {
		mmu_vaddr_t va = p.va0 + i * p.size;
		must(p.locked ? mmu_protect_locked(h, va, p.size, prot, NULL)
			      : mmu_protect(p.tree, va, p.size, prot, NULL),
		     "protect");
	}
	pages_release(p, h);
}

/* The per-page phases of W1 and W3, plain [0] and locked [1]. */
struct page_phases {
	struct samples map[2], walk[2], unmap[2];
};

BENCH_LOOP void run_page_phases_as(struct pages p, bool locked, struct page_phases *s)
{
	p.locked = locked;
	double t0 = now_ns();
	map_pages(p);
	sample(&s->map[locked], t0, p.n);
	t0 = now_ns();
	walk_pages(p);
	sample(&s->walk[locked], t0, p.n);
	t0 = now_ns();
	unmap_pages(p);
	sample(&s->unmap[locked], t0, p.n);
}

BENCH_LOOP void run_page_phases(const struct pages p, struct page_phases *s)
{
	run_page_phases_as(p, false, s);
	run_page_phases_as(p, true, s);
}

static void report_page_phases(const struct bench_opts *o, const char *work, struct page_phases *s,
			       const char *map_extra, const char *unmap_extra)
{
	report(o, work, "map", &s->map[0], map_extra);
	report(o, work, "map-locked", &s->map[1], map_extra);
	report(o, work, "walk", &s->walk[0], "");
	report(o, work, "walk-locked", &s->walk[1], "");
	report(o, work, "unmap", &s->unmap[0], unmap_extra);
	report(o, work, "unmap-locked", &s->unmap[1], unmap_extra);
}

#define W1_VA 0x0000100000000000ull
#define W1_PA 0x100000000ull

static uint64_t w1_pages(const struct bench_opts *o) { return o->small ? 4096 : 262144; }

/* W1 dense-4k. */
static void bench_w1(const struct bench_opts *o, struct mmu *mmu)
{
	const uint64_t pages = w1_pages(o);
	struct page_phases ph = {0};
	struct samples maprange = {0}, unmaprange = {0};
	int64_t tables_mapped = 0, tables_unmapped = 0;
	struct mmu_map_opts o4k = {.size = MMU_SIZE_4K};
	for (unsigned r = 0; r < o->reps; r++) {
		struct mmu_tree t;
		must(mmu_tree_create(mmu, &t), "tree");
		struct pages p = {.tree = &t, .va0 = W1_VA, .pa0 = W1_PA, .size = 4096, .n = pages};
		run_page_phases(p, &ph);
		tables_unmapped = tables_without_root(mmu);
		double t0 = now_ns();
		must(mmu_map(&t, W1_VA, mmu_pa(W1_PA), pages * 4096, RWU, &o4k, NULL), "maprange");
		sample(&maprange, t0, pages);
		tables_mapped = tables_without_root(mmu);
		t0 = now_ns();
		must(mmu_unmap(&t, W1_VA, pages * 4096, NULL), "unmaprange");
		sample(&unmaprange, t0, pages);
		must(mmu_tree_destroy(&t), "destroy");
	}
	char mapped[64], unmapped[64];
	snprintf(mapped, sizeof(mapped), "tables=%lld", (long long)tables_mapped);
	snprintf(unmapped, sizeof(unmapped), "tables=%lld", (long long)tables_unmapped);
	report_page_phases(o, "W1", &ph, mapped, unmapped);
	report(o, "W1", "maprange", &maprange, mapped);
	report(o, "W1", "unmaprange", &unmaprange, unmapped);
}

/* One timed W4 pass over P's pages (writable again first), LOCKED or not. */
BENCH_LOOP void time_protect(struct pages p, bool locked, unsigned prot, struct samples *s)
{
	must(mmu_protect(p.tree, p.va0, p.n * p.size, RWU, NULL), "protect back");
	p.locked = locked;
	double t0 = now_ns();
	protect_pages(p, prot);
	sample(s, t0, p.n);
}

/* W4 protect: W1's mapping (not timed) made read-only. */
static void bench_w4(const struct bench_opts *o, struct mmu *mmu)
{
	const uint64_t pages = w1_pages(o);
	struct samples prot[2], protrange = {0};
	memset(prot, 0, sizeof(prot));
	struct mmu_map_opts o4k = {.size = MMU_SIZE_4K};
	const unsigned ro = MMU_PROT_R | MMU_PROT_U;
	for (unsigned r = 0; r < o->reps; r++) {
		struct mmu_tree t;
		must(mmu_tree_create(mmu, &t), "tree");
		must(mmu_map(&t, W1_VA, mmu_pa(W1_PA), pages * 4096, RWU, &o4k, NULL), "map");
		struct pages p = {.tree = &t, .va0 = W1_VA, .pa0 = W1_PA, .size = 4096, .n = pages};
		time_protect(p, false, ro, &prot[0]);
		time_protect(p, true, ro, &prot[1]);
		must(mmu_protect(&t, W1_VA, pages * 4096, RWU, NULL), "protect back");
		double t0 = now_ns();
		must(mmu_protect(&t, W1_VA, pages * 4096, ro, NULL), "protectrange");
		sample(&protrange, t0, pages);
		must(mmu_unmap(&t, W1_VA, pages * 4096, NULL), "unmap");
		must(mmu_tree_destroy(&t), "destroy");
	}
	report(o, "W4", "protect", &prot[0], "");
	report(o, "W4", "protect-locked", &prot[1], "");
	report(o, "W4", "protectrange", &protrange, "");
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

void bench_w2_addresses(uint64_t n, mmu_vaddr_t *va, uint32_t *order)
{
	uint64_t x = 0x9E3779B97F4A7C15ull, xor_all = 0;
	/* Duplicates are rare (65,536 of 2^35): a linear check of a small
	 * open-addressed set keeps this exact and fast. */
	uint64_t cap = n * 4;
	mmu_vaddr_t *set = calloc(cap, sizeof(*set));
	for (uint64_t i = 0; i < n;) {
		mmu_vaddr_t v = (xorshift(&x) % (1ull << 35)) << 12;
		uint64_t h = (v >> 12) * 0x9E3779B97F4A7C15ull % cap;
		while (set[h] && set[h] != v + 1)
			h = (h + 1) % cap;
		if (set[h])
			continue;
		set[h] = v + 1;
		va[i++] = v;
		xor_all ^= v;
	}
	free(set);
	for (uint64_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i >= 1; i--) {
		uint64_t j = xorshift(&x) % (i + 1);
		uint32_t tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	if (n == 65536)
		fprintf(stderr, "W2 check: first VAs %#llx %#llx %#llx, xor %#llx, first indices %u %u %u %u\n",
			(unsigned long long)va[0], (unsigned long long)va[1], (unsigned long long)va[2],
			(unsigned long long)xor_all, order[0], order[1], order[2], order[3]);
}

__attribute__((noinline)) uint64_t bench_w2_raw_walk(struct sim *sim, const struct mmu_tree *t, const uint64_t *va,
						    const uint32_t *order, uint64_t n)
{
	uint8_t *arena = sim_phys(sim, mmu_pa(0));
	uint64_t sum = 0;
	for (uint64_t i = 0; i < n; i++) {
		mmu_vaddr_t v = va[order[i]];
		uint64_t e = mmu_tree_cr3(t);
		for (int shift = 39; shift >= 12; shift -= 9)
			e = ((const uint64_t *)(arena + (e & MMU_PTE_ADDR_MASK)))[(v >> shift) & 511];
		sum += e;
	}
	return sum;
}

/* W2's tree destroyed as mapped (a process exiting): one call releases
 * every table. It runs after W2's other phases because its page tables
 * go back holding leaves, to be cleared when taken again, where those
 * phases find every table page zero. Its map is the plain call, so that
 * scripts/bench-instructions, which tells call sites apart by their
 * counts, still reports map-locked's own. */
static void w2_destroy(const struct bench_opts *o, struct mmu *mmu, const mmu_vaddr_t *va, uint64_t n,
		       struct samples *destroy)
{
	for (unsigned r = 0; r < o->reps; r++) {
		struct mmu_tree t;
		must(mmu_tree_create(mmu, &t), "tree");
		for (uint64_t i = 0; i < n; i++)
			must(mmu_map(&t, va[i], mmu_pa(0x100000000ull + i * 4096), 4096, RWU, NULL, NULL), "map");
		double t0 = now_ns();
		must(mmu_tree_destroy(&t), "destroy");
		sample(destroy, t0, n);
	}
}

static void bench_w2(const struct bench_opts *o, struct sim *sim)
{
	const uint64_t n = o->small ? 1024 : 65536;
	mmu_vaddr_t *va = malloc(n * sizeof(*va));
	uint32_t *order = malloc(n * sizeof(*order));
	bench_w2_addresses(n, va, order);
	struct mmu *mmu = sim_mmu(sim);
	struct samples map = {0}, walk = {0}, walklocked = {0}, rawwalk = {0}, unmap = {0};
	struct samples maplocked = {0}, unmaplocked = {0}, destroy = {0};
	int64_t tables_mapped = 0, tables_unmapped = 0;
	uint64_t sum = 0;
	for (unsigned r = 0; r < o->reps; r++) {
		struct mmu_tree t;
		must(mmu_tree_create(mmu, &t), "tree");
		double t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_map(&t, va[i], mmu_pa(0x100000000ull + i * 4096), 4096, RWU, NULL, NULL), "map");
		sample(&map, t0, n);
		tables_mapped = tables_without_root(mmu);
		if (mmu->levels == 4) {
			/* Untimed: every walk row starts where a whole walk left the
			 * caches, the reference row as the library's, not where the
			 * map did (what the map leaves depends on what it cleared). */
			sum += bench_w2_raw_walk(sim, &t, va, order, n);
			t0 = now_ns();
			sum += bench_w2_raw_walk(sim, &t, va, order, n);
			sample(&rawwalk, t0, n);
		}
		struct mmu_translation tr;
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_walk(&t, va[order[i]], &tr), "walk");
		sample(&walk, t0, n);
		struct mmu_tree_locked h = mmu_tree_lock(&t);
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_walk_locked(h, va[order[i]], &tr), "walk");
		sample(&walklocked, t0, n);
		mmu_tree_unlock(h);
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_unmap(&t, va[i], 4096, NULL), "unmap");
		sample(&unmap, t0, n);
		tables_unmapped = tables_without_root(mmu);
		/* The same map and unmap as _locked calls under one hold. */
		h = mmu_tree_lock(&t);
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_map_locked(h, va[i], mmu_pa(0x100000000ull + i * 4096), 4096, RWU, NULL, NULL), "map");
		sample(&maplocked, t0, n);
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_unmap_locked(h, va[i], 4096, NULL), "unmap");
		sample(&unmaplocked, t0, n);
		mmu_tree_unlock(h);
		must(tables_without_root(mmu) == tables_unmapped ? MMU_OK : MMU_E_INVALID, "tables after unmap-locked");
		must(mmu_tree_destroy(&t), "destroy");
	}
	w2_destroy(o, mmu, va, n, &destroy);
	char extra[64];
	snprintf(extra, sizeof(extra), "tables=%lld", (long long)tables_mapped);
	report(o, "W2", "map", &map, extra);
	report(o, "W2", "map-locked", &maplocked, extra);
	report(o, "W2", "walk", &walk, "");
	report(o, "W2", "walk-locked", &walklocked, "");
	if (rawwalk.n) {
		char raw[80];
		snprintf(raw, sizeof(raw), "(loads only, no library; checksum %llx)", (unsigned long long)sum);
		report(o, "W2", "walk-raw", &rawwalk, raw);
	}
	snprintf(extra, sizeof(extra), "tables=%lld", (long long)tables_unmapped);
	report(o, "W2", "unmap", &unmap, extra);
	report(o, "W2", "unmap-locked", &unmaplocked, extra);
	snprintf(extra, sizeof(extra), "tables=%lld", (long long)tables_mapped);
	report(o, "W2", "destroy", &destroy, extra);
	free(va);
	free(order);
}

/* W3 huge-2m: short phases, at least 200 repetitions. */
static void bench_w3(const struct bench_opts *o, struct mmu *mmu)
{
	struct page_phases ph = {0};
	unsigned reps = o->reps < 200 && !o->small ? 200 : o->reps;
	if (reps > 1024)
		reps = 1024;
	for (unsigned r = 0; r < reps; r++) {
		struct mmu_tree t;
		must(mmu_tree_create(mmu, &t), "tree");
		struct pages p = {
			.tree = &t, .va0 = 0x0000200000000000ull, .pa0 = 0x200000000ull, .size = 2ull << 20, .n = 512};
		run_page_phases(p, &ph);
		must(mmu_tree_destroy(&t), "destroy");
	}
	report_page_phases(o, "W3", &ph, "", "");
}

static bool wanted(int argc, char **argv, int first, const char *name)
{
	if (first >= argc)
		return true;
	for (int i = first; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.reps = 5};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--csv") == 0)
			o.csv = true;
		else if (strcmp(argv[i], "--small") == 0)
			o.small = true;
		else if (strcmp(argv[i], "--clear-tables") == 0)
			o.clear_tables = true;
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			o.reps = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr,
				"usage: %s [--reps N] [--csv] [--small] [--clear-tables]"
				" [W1 W2 W3 W4 W5 W6 W7 W8 W9 C1 C2]\n",
				argv[0]);
			return 2;
		}
	}
	if (o.reps < 1 || o.reps > 1024)
		o.reps = 5;
	if (o.csv)
		printf("workload,phase,median,min,max,extra\n");
	struct sim *sim = bench_machine(1, false, !o.small, o.clear_tables);
	struct mmu *mmu = sim_mmu(sim);
	if (wanted(argc, argv, i, "W1"))
		bench_w1(&o, mmu);
	if (wanted(argc, argv, i, "W2"))
		bench_w2(&o, sim);
	if (wanted(argc, argv, i, "W3"))
		bench_w3(&o, mmu);
	if (wanted(argc, argv, i, "W4"))
		bench_w4(&o, mmu);
	sim_destroy(sim);
	if (wanted(argc, argv, i, "W5"))
		bench_w5(&o);
	if (wanted(argc, argv, i, "W6"))
		bench_w6(&o);
	if (wanted(argc, argv, i, "W7"))
		bench_w7(&o);
	if (wanted(argc, argv, i, "W8"))
		bench_w8(&o);
	if (wanted(argc, argv, i, "W9"))
		bench_w9(&o);
	if (wanted(argc, argv, i, "C1"))
		bench_c1(&o);
	if (wanted(argc, argv, i, "C2"))
		bench_c2(&o);
	return 0;
}
