/* SPDX-License-Identifier: MIT */
/* W6 shootdown: 4 CPUs as threads share one loaded tree; CPU 0 unmaps
 * 1, 8, 33, 64 and 512 pages, each in one batch, while the others take
 * IPIs. Reports the IPIs, the INVLPGs and full flushes each CPU executed,
 * and the time of a batch end to end. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench/bench.h"
#include "sim/sim.h"

#define W6_CPUS 4

struct w6 {
	struct mmu_tree tree;
	pthread_barrier_t loaded;
	atomic_bool done;
	const struct bench_opts *o;
};

static const unsigned batch_sizes[] = {1, 8, 33, 64, 512};

static double w6_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void w6_sender(struct sim *sim, struct w6 *w)
{
	struct mmu *mmu = sim_mmu(sim);
	const mmu_vaddr_t va = 0x0000100000000000ull;
	const struct mmu_map_opts pages_4k = {.size = MMU_SIZE_4K};
	for (unsigned s = 0; s < sizeof(batch_sizes) / sizeof(batch_sizes[0]); s++) {
		unsigned n = batch_sizes[s];
		double total = 0;
		struct mmu_counters before[W6_CPUS], after[W6_CPUS];
		uint64_t ipis = 0;
		for (unsigned r = 0; r < w->o->reps; r++) {
			if (mmu_map(&w->tree, va, mmu_pa(0x100000000ull), n * 4096ull,
				    MMU_PROT_R | MMU_PROT_W | MMU_PROT_U, &pages_4k, NULL) != MMU_OK)
				abort();
			for (unsigned c = 0; c < W6_CPUS; c++)
				before[c] = mmu_cpu_counters(mmu, c);
			(void)mmu_counters_take(mmu);
			double t0 = w6_now();
			if (mmu_unmap(&w->tree, va, n * 4096ull, NULL) != MMU_OK)
				abort();
			total += w6_now() - t0;
			ipis += mmu_counters_take(mmu).ipis;
			for (unsigned c = 0; c < W6_CPUS; c++)
				after[c] = mmu_cpu_counters(mmu, c);
		}
		printf(w->o->csv ? "W6,batch%u,%.0f,,,ipis=%.2f" : "W6 batch=%-3u ns/batch=%.0f ipis=%.2f", n,
		       total / w->o->reps, (double)ipis / w->o->reps);
		for (unsigned c = 0; c < W6_CPUS; c++)
			printf(" cpu%u:invlpg=%llu,full=%llu", c,
			       (unsigned long long)(after[c].invlpg - before[c].invlpg),
			       (unsigned long long)(after[c].full - before[c].full));
		printf("\n");
	}
}

static void w6_cpu(struct sim *sim, unsigned cpu, void *arg)
{
	struct w6 *w = arg;
	mmu_tree_load(&w->tree);
	pthread_barrier_wait(&w->loaded);
	if (cpu == 0) {
		w6_sender(sim, w);
		atomic_store(&w->done, true);
	} else {
		/* Four CPU threads share two host cores here: without the yield a
		 * spinning receiver holds a core for a whole scheduler tick. */
		while (!atomic_load(&w->done)) {
			sim_poll(sim);
			sched_yield();
		}
	}
	pthread_barrier_wait(&w->loaded);
	mmu_tree_load(mmu_kernel_tree(sim_mmu(sim)));
}

void bench_w6(const struct bench_opts *o)
{
	struct sim_config cfg;
	bench_sim_config(&cfg);
	cfg.ncpus = W6_CPUS;
	cfg.threaded = true;
	struct sim *sim = sim_create(&cfg);
	if (!sim)
		abort();
	struct w6 w = {.o = o};
	if (mmu_tree_create(sim_mmu(sim), &w.tree) != MMU_OK)
		abort();
	pthread_barrier_init(&w.loaded, NULL, W6_CPUS);
	sim_run_cpus(sim, w6_cpu, &w);
	pthread_barrier_destroy(&w.loaded);
	if (mmu_tree_destroy(&w.tree) != MMU_OK)
		abort();
	sim_destroy(sim);
}
