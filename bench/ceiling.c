/* SPDX-License-Identifier: MIT */
/* C1 ceiling: where does one full flush become cheaper than N INVLPGs plus
 * the refill, on the software machine? kernel/ceiling.c asks the same on
 * QEMU with a clock; the machine has none, so this counts instead: with W
 * hot pages and N changed pages in CPU 0's TLB, either N INVLPGs or one CR3
 * reload, then all W + N pages touched again, and the events of that
 * (sim_cpu_events) priced by a cost model (sim/cost.c).
 *
 * The counts are exact and the same on every run, so --reps does not apply
 * and --small changes nothing (the workload is small already). Only the
 * weights move the crossover, so it is printed under three of them. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "sim/sim.h"

#define C1_WINDOW 0x0000100000000000ull
#define C1_WORKING_SET 64u
#define C1_MAX_CHANGED 256u

static const unsigned changed_sizes[] = {1, 2, 4, 8, 16, 24, 32, 40, 48, 64, 96, 128, 192, 256};
#define C1_SIZES (sizeof(changed_sizes) / sizeof(changed_sizes[0]))

struct c1 {
	struct sim *sim;
	struct mmu_tree tree;
	mmu_pa_t frame;
	uint64_t cr3;
};

/* What each strategy made CPU 0 do, per N. */
struct c1_counts {
	struct sim_events invlpg[C1_SIZES], full[C1_SIZES];
};

struct c1_weights {
	const char *name;
	struct sim_cost_model model;
};

static void c1_must(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench C1: %s failed\n", what);
		exit(1);
	}
}

static mmu_vaddr_t page_va(unsigned i) { return C1_WINDOW + (uint64_t)i * MMU_PAGE_SIZE; }

/* Every page maps the same frame: each is still its own TLB entry. */
static void c1_setup(struct c1 *c)
{
	struct sim_config cfg;
	bench_sim_config(&cfg);
	cfg.ncpus = 1;
	cfg.mem = 16ull << 20;
	c->sim = sim_create(&cfg);
	c1_must(c->sim != NULL, "sim_create");
	struct mmu *mmu = sim_mmu(c->sim);
	c1_must(mmu_tree_create(mmu, &c->tree) == MMU_OK, "tree");
	c1_must(sim_frame_alloc(c->sim, MMU_SIZE_4K, &c->frame) == MMU_OK, "frame");
	for (unsigned i = 0; i < C1_WORKING_SET + C1_MAX_CHANGED; i++)
		c1_must(mmu_map(&c->tree, page_va(i), c->frame, MMU_PAGE_SIZE, MMU_PROT_R | MMU_PROT_U, NULL,
				NULL) == MMU_OK,
			"map");
	sim_set_cpu(c->sim, 0);
	mmu_tree_load(&c->tree);
	c->cr3 = sim_cpu_regs(c->sim, 0).cr3;
}

static void c1_teardown(struct c1 *c)
{
	struct mmu *mmu = sim_mmu(c->sim);
	c1_must(mmu_unmap(&c->tree, C1_WINDOW, (C1_WORKING_SET + C1_MAX_CHANGED) * MMU_PAGE_SIZE, NULL) == MMU_OK,
		"unmap");
	mmu_tree_load(mmu_kernel_tree(mmu));
	c1_must(mmu_tree_destroy(&c->tree) == MMU_OK, "destroy");
	sim_frame_free(c->sim, MMU_SIZE_4K, c->frame);
	c1_must(sim_tlbsan_reports(c->sim) == 0, "the TLB sanitizer");
	sim_destroy(c->sim);
}

static void touch(struct sim *sim, unsigned pages)
{
	for (unsigned i = 0; i < pages; i++)
		c1_must(sim_access(sim, 0, SIM_READ, page_va(i), true, false, 0).outcome == SIM_OK, "read");
}

static struct sim_events events_delta(const struct sim_events *a, const struct sim_events *b)
{
	return (struct sim_events){
		.tlb_hits = b->tlb_hits - a->tlb_hits, .tlb_misses = b->tlb_misses - a->tlb_misses,
		.walk_reads = b->walk_reads - a->walk_reads, .invlpgs = b->invlpgs - a->invlpgs,
		.flushes = b->flushes - a->flushes,
	};
}

/* The events of one strategy for N changed pages, refill included, from a
 * warm TLB; the same CPU-level instructions kernel/ceiling.c executes. */
static struct sim_events strategy_events(struct c1 *c, unsigned n, bool full)
{
	touch(c->sim, C1_WORKING_SET + n);
	struct sim_events before = sim_cpu_events(c->sim, 0);
	if (full)
		sim_write_cr3(c->sim, 0, c->cr3);
	else
		for (unsigned i = 0; i < n; i++)
			sim_invlpg(c->sim, 0, page_va(C1_WORKING_SET + i));
	touch(c->sim, C1_WORKING_SET + n);
	struct sim_events after = sim_cpu_events(c->sim, 0);
	return events_delta(&before, &after);
}

static void count_strategies(struct c1_counts *k)
{
	struct c1 c;
	c1_setup(&c);
	for (unsigned s = 0; s < C1_SIZES; s++) {
		k->invlpg[s] = strategy_events(&c, changed_sizes[s], false);
		k->full[s] = strategy_events(&c, changed_sizes[s], true);
	}
	c1_teardown(&c);
}

/* The first N at which the full flush is cheaper; 0 when none is. */
static unsigned crossover(const struct c1_counts *k, const struct sim_cost_model *m)
{
	for (unsigned s = 0; s < C1_SIZES; s++)
		if (sim_cost_cycles(m, &k->full[s]) < sim_cost_cycles(m, &k->invlpg[s]))
			return changed_sizes[s];
	return 0;
}

static void print_sizes(const struct bench_opts *o, const struct c1_counts *k, const struct sim_cost_model *m)
{
	for (unsigned s = 0; s < C1_SIZES; s++) {
		unsigned n = changed_sizes[s];
		double inv = sim_cost_cycles(m, &k->invlpg[s]), full = sim_cost_cycles(m, &k->full[s]);
		unsigned long long wi = k->invlpg[s].tlb_misses, wf = k->full[s].tlb_misses;
		if (o->csv) {
			printf("C1,n%u-invlpg,%.0f,,,walks=%llu\n", n, inv, wi);
			printf("C1,n%u-full,%.0f,,,walks=%llu\n", n, full, wf);
		} else {
			printf("C1 ceiling n=%u invlpg=%.0f full=%.0f cheaper=%s walks=%llu/%llu\n", n, inv, full,
			       full < inv ? "full" : "invlpg", wi, wf);
		}
	}
}

static void print_crossover(const struct bench_opts *o, const struct c1_counts *k, const struct c1_weights *w)
{
	unsigned n = crossover(k, &w->model);
	char at[16];
	if (n)
		snprintf(at, sizeof(at), "%u", n);
	else
		snprintf(at, sizeof(at), "none");
	if (o->csv)
		printf("C1,crossover-%s,%s,,,invlpg=%.0f\n", w->name, at, w->model.invlpg);
	else
		printf("C1 crossover=%s weights=%s invlpg=%.0f\n", at, w->name, w->model.invlpg);
}

void bench_c1(const struct bench_opts *o)
{
	struct c1_counts k;
	count_strategies(&k);
	struct sim_cost_model m = sim_cost_model_default();
	struct c1_weights weights[] = {
		{"default", m},
		{"invlpg/2", {m.hit, m.walk_read, m.invlpg / 2, m.flush}},
		{"invlpg*2", {m.hit, m.walk_read, m.invlpg * 2, m.flush}},
	};
	if (!o->csv)
		printf("C1 ceiling: %u hot pages + N changed on one CPU; modelled cycles to invalidate N and touch "
		       "all again (walks: invlpg/full); weights hit=%.0f walk_read=%.0f invlpg=%.0f flush=%.0f, "
		       "assumed (sim/cost.c)\n",
		       C1_WORKING_SET, m.hit, m.walk_read, m.invlpg, m.flush);
	print_sizes(o, &k, &m);
	for (unsigned i = 0; i < sizeof(weights) / sizeof(weights[0]); i++)
		print_crossover(o, &k, &weights[i]);
	if (!o->csv)
		printf("C1 library default ceiling=%u (a batch of more pages flushes all)\n", MMU_TLB_CEILING_DEFAULT);
}
