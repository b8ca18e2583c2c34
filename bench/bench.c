/* make bench: the fixed workloads of ../shared/BENCH.md on the software
 * machine. Usage: mmu64-bench [--reps N] [--csv] [--small] [W1 W2 ...]
 * --small shrinks every workload (make test runs it that way to check that
 * the benchmark still works; its figures mean nothing). */
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

static struct sim *bench_machine(unsigned cpus, bool threaded, bool pretouch)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = cpus;
	cfg.threaded = threaded;
	struct sim *sim = sim_create(&cfg);
	if (!sim) {
		fprintf(stderr, "bench: cannot create the software machine\n");
		exit(1);
	}
	/* BENCH.md: the arena is written once before any timing, so that no
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

/* W1 dense-4k and W4 protect share the mapping. */
static void bench_w1(const struct bench_opts *o, struct mmu *mmu, bool protect_only)
{
	const uint64_t pages = o->small ? 4096 : 262144;
	const mmu_vaddr_t va0 = 0x0000100000000000ull;
	const uint64_t pa0 = 0x100000000ull;
	struct samples map = {0}, maprange = {0}, walk = {0}, unmap = {0}, unmaprange = {0}, prot = {0},
		       protrange = {0};
	int64_t tables_mapped = 0, tables_unmapped = 0;
	struct mmu_map_opts o4k = {.size = MMU_SIZE_4K};
	for (unsigned r = 0; r < o->reps; r++) {
		struct mmu_tree t;
		must(mmu_tree_create(mmu, &t), "tree");
		double t0 = now_ns();
		for (uint64_t i = 0; i < pages && !protect_only; i++)
			must(mmu_map(&t, va0 + i * 4096, mmu_pa(pa0 + i * 4096), 4096, RWU, NULL, NULL), "map");
		if (!protect_only) {
			sample(&map, t0, pages);
			tables_mapped = tables_without_root(mmu);
			t0 = now_ns();
			struct mmu_translation tr;
			for (uint64_t i = 0; i < pages; i++)
				must(mmu_walk(&t, va0 + i * 4096, &tr), "walk");
			sample(&walk, t0, pages);
			t0 = now_ns();
			for (uint64_t i = 0; i < pages; i++)
				must(mmu_unmap(&t, va0 + i * 4096, 4096, NULL), "unmap");
			sample(&unmap, t0, pages);
			tables_unmapped = tables_without_root(mmu);
			t0 = now_ns();
		}
		must(mmu_map(&t, va0, mmu_pa(pa0), pages * 4096, RWU, &o4k, NULL), "maprange");
		if (!protect_only)
			sample(&maprange, t0, pages);
		if (protect_only) {
			t0 = now_ns();
			for (uint64_t i = 0; i < pages; i++)
				must(mmu_protect(&t, va0 + i * 4096, 4096, MMU_PROT_R | MMU_PROT_U, NULL), "protect");
			sample(&prot, t0, pages);
			must(mmu_protect(&t, va0, pages * 4096, RWU, NULL), "protect back");
			t0 = now_ns();
			must(mmu_protect(&t, va0, pages * 4096, MMU_PROT_R | MMU_PROT_U, NULL), "protectrange");
			sample(&protrange, t0, pages);
		}
		t0 = now_ns();
		must(mmu_unmap(&t, va0, pages * 4096, NULL), "unmaprange");
		if (!protect_only)
			sample(&unmaprange, t0, pages);
		must(mmu_tree_destroy(&t), "destroy");
	}
	char extra[64];
	if (protect_only) {
		report(o, "W4", "protect", &prot, "");
		report(o, "W4", "protectrange", &protrange, "");
		return;
	}
	snprintf(extra, sizeof(extra), "tables=%lld", (long long)tables_mapped);
	report(o, "W1", "map", &map, extra);
	report(o, "W1", "maprange", &maprange, extra);
	report(o, "W1", "walk", &walk, "");
	snprintf(extra, sizeof(extra), "tables=%lld", (long long)tables_unmapped);
	report(o, "W1", "unmap", &unmap, extra);
	report(o, "W1", "unmaprange", &unmaprange, extra);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* W2's VAs in draw order and the shuffled walk order. */
static void w2_addresses(uint64_t n, mmu_vaddr_t *va, uint32_t *order)
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

static void bench_w2(const struct bench_opts *o, struct mmu *mmu)
{
	const uint64_t n = o->small ? 1024 : 65536;
	mmu_vaddr_t *va = malloc(n * sizeof(*va));
	uint32_t *order = malloc(n * sizeof(*order));
	w2_addresses(n, va, order);
	struct samples map = {0}, walk = {0}, unmap = {0};
	int64_t tables_mapped = 0, tables_unmapped = 0;
	for (unsigned r = 0; r < o->reps; r++) {
		struct mmu_tree t;
		must(mmu_tree_create(mmu, &t), "tree");
		double t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_map(&t, va[i], mmu_pa(0x100000000ull + i * 4096), 4096, RWU, NULL, NULL), "map");
		sample(&map, t0, n);
		tables_mapped = tables_without_root(mmu);
		struct mmu_translation tr;
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_walk(&t, va[order[i]], &tr), "walk");
		sample(&walk, t0, n);
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_unmap(&t, va[i], 4096, NULL), "unmap");
		sample(&unmap, t0, n);
		tables_unmapped = tables_without_root(mmu);
		must(mmu_tree_destroy(&t), "destroy");
	}
	char extra[64];
	snprintf(extra, sizeof(extra), "tables=%lld", (long long)tables_mapped);
	report(o, "W2", "map", &map, extra);
	report(o, "W2", "walk", &walk, "");
	snprintf(extra, sizeof(extra), "tables=%lld", (long long)tables_unmapped);
	report(o, "W2", "unmap", &unmap, extra);
	free(va);
	free(order);
}

static void bench_w3(const struct bench_opts *o, struct mmu *mmu)
{
	const uint64_t n = 512;
	const mmu_vaddr_t va0 = 0x0000200000000000ull;
	const uint64_t pa0 = 0x200000000ull, size = 2ull << 20;
	struct samples map = {0}, walk = {0}, unmap = {0};
	unsigned reps = o->reps < 200 && !o->small ? 200 : o->reps;
	if (reps > 1024)
		reps = 1024;
	struct mmu_translation tr;
	for (unsigned r = 0; r < reps; r++) {
		struct mmu_tree t;
		must(mmu_tree_create(mmu, &t), "tree");
		double t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_map(&t, va0 + i * size, mmu_pa(pa0 + i * size), size, RWU, NULL, NULL), "map");
		sample(&map, t0, n);
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_walk(&t, va0 + i * size, &tr), "walk");
		sample(&walk, t0, n);
		t0 = now_ns();
		for (uint64_t i = 0; i < n; i++)
			must(mmu_unmap(&t, va0 + i * size, size, NULL), "unmap");
		sample(&unmap, t0, n);
		must(mmu_tree_destroy(&t), "destroy");
	}
	report(o, "W3", "map", &map, "");
	report(o, "W3", "walk", &walk, "");
	report(o, "W3", "unmap", &unmap, "");
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
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			o.reps = (unsigned)atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--reps N] [--csv] [--small] [W1 W2 W3 W4 W5 W6]\n", argv[0]);
			return 2;
		}
	}
	if (o.reps < 1 || o.reps > 1024)
		o.reps = 5;
	if (o.csv)
		printf("workload,phase,median,min,max,extra\n");
	struct sim *sim = bench_machine(1, false, !o.small);
	struct mmu *mmu = sim_mmu(sim);
	if (wanted(argc, argv, i, "W1"))
		bench_w1(&o, mmu, false);
	if (wanted(argc, argv, i, "W2"))
		bench_w2(&o, mmu);
	if (wanted(argc, argv, i, "W3"))
		bench_w3(&o, mmu);
	if (wanted(argc, argv, i, "W4"))
		bench_w1(&o, mmu, true);
	sim_destroy(sim);
	if (wanted(argc, argv, i, "W5"))
		bench_w5(&o);
	if (wanted(argc, argv, i, "W6"))
		bench_w6(&o);
	return 0;
}
