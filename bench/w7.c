/* SPDX-License-Identifier: MIT */
/* The fault-heavy workloads beside W5 (docs/BENCH.md), on one CPU:
 *  W7 demand-zero: a process space with a 256 MiB anon region, loaded on
 *     the CPU, every page written once: ns per demand fault (the write
 *     that faults, the fault handler mapping a zeroed frame, the retry),
 *     and demand faults per second;
 *  W8 fork-exit: a process with a 64 MiB anon region, every page written
 *     (so writable and dirty), forks and the child exits at once: ns per
 *     fork + exit pair, with the data frames and table pages before the
 *     fork, after it and after the exit, which must be back at the start
 *     (the workload stops if not). */
#include <stdio.h>
#include <stdlib.h>

#include "bench/vmbench.h"

#define W8_PAIRS 4 /* fork + exit pairs timed per repetition */

/* A space with one anon read-write region of PAGES pages, loaded here. */
static void space_with_region(const char *work, struct sim *sim, struct mmu_vm_space *sp, uint64_t pages)
{
	bench_vm_must(work, mmu_vm_space_create(sim_mmu(sim), sp), "space");
	bench_vm_must(work, mmu_vm_region_add(sp, BENCH_VM_VA, pages * 4096, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0),
		      "region");
	mmu_tree_load(&sp->tree);
}

/* SP (loaded here) exits: the CPU goes back to the kernel tree first. */
static void space_exit(const char *work, struct sim *sim, struct mmu_vm_space *sp)
{
	mmu_tree_load(mmu_kernel_tree(sim_mmu(sim)));
	bench_vm_must(work, mmu_vm_space_exit(sp), "exit");
}

/* Write every page of SP's region once; each write must fault as WANT
 * (-1: any way or not at all). */
static void write_all(const char *work, struct sim *sim, struct mmu_vm_space *sp, uint64_t pages, int want)
{
	for (uint64_t i = 0; i < pages; i++) {
		int got = bench_vm_write(work, sim, sp, BENCH_VM_VA + i * 4096, (uint8_t)i);
		if (want >= 0 && got != want) {
			fprintf(stderr, "bench %s: write %llu: fault outcome %d, not %d\n", work, (unsigned long long)i,
				got, want);
			exit(1);
		}
	}
}

/* ---- W7 demand-zero ---- */

struct w7_frames {
	uint64_t after_writes, after_exit;
};

/* One repetition: ns per demand fault. */
static double w7_once(struct sim *sim, uint64_t pages, struct w7_frames *fr)
{
	struct mmu_vm_space sp;
	uint64_t frames0 = sim_frames_in_use(sim);
	space_with_region("W7", sim, &sp, pages);
	double t0 = bench_vm_now_ns();
	write_all("W7", sim, &sp, pages, MMU_VM_DEMAND);
	double ns = (bench_vm_now_ns() - t0) / (double)pages;
	fr->after_writes = sim_frames_in_use(sim) - frames0;
	space_exit("W7", sim, &sp);
	fr->after_exit = sim_frames_in_use(sim) - frames0;
	return ns;
}

void bench_w7(const struct bench_opts *o)
{
	const uint64_t pages = bench_vm_pages(o, 256);
	struct sim *sim = bench_vm_machine("W7", pages + 1024);
	double v[1024];
	unsigned n = bench_vm_reps(o);
	struct w7_frames fr = {0};
	for (unsigned r = 0; r < n; r++)
		v[r] = w7_once(sim, pages, &fr);
	char extra[160];
	snprintf(extra, sizeof extra, "faults/s=%.0f frames after-writes=%llu after-exit=%llu",
		 1e9 / bench_vm_median(v, n), (unsigned long long)fr.after_writes, (unsigned long long)fr.after_exit);
	bench_vm_report(o, "W7", "demand-fault", "ns/fault", v, n, extra);
	bench_vm_check_sanitizer("W7", sim);
	sim_destroy(sim);
}

/* ---- W8 fork-exit ---- */

/* Data frames and table pages in use. */
struct w8_count {
	uint64_t frames;
	int64_t tables;
};

static struct w8_count w8_count(struct sim *sim)
{
	return (struct w8_count){sim_frames_in_use(sim), mmu_user_tables(sim_mmu(sim))};
}

struct w8_counts {
	struct w8_count before, after_fork, after_exit;
};

/* One fork + exit pair of PARENT (every page writable again first, not
 * timed): its ns; the counts around it, which must come back. */
static double w8_pair(struct sim *sim, struct mmu_vm_space *parent, uint64_t pages, struct w8_counts *c)
{
	struct mmu_vm_space child;
	write_all("W8", sim, parent, pages, -1); /* demand faults, then COW take-overs */
	c->before = w8_count(sim);
	double t0 = bench_vm_now_ns();
	bench_vm_must("W8", mmu_vm_fork(parent, &child), "fork");
	double forked = bench_vm_now_ns();
	c->after_fork = w8_count(sim); /* not timed */
	double t1 = bench_vm_now_ns();
	bench_vm_must("W8", mmu_vm_space_exit(&child), "exit child");
	double ns = (forked - t0) + (bench_vm_now_ns() - t1);
	c->after_exit = w8_count(sim);
	if (c->after_exit.frames != c->before.frames || c->after_exit.tables != c->before.tables) {
		fprintf(stderr, "bench W8: after fork + exit %llu frames, %lld tables; before %llu, %lld\n",
			(unsigned long long)c->after_exit.frames, (long long)c->after_exit.tables,
			(unsigned long long)c->before.frames, (long long)c->before.tables);
		exit(1);
	}
	return ns;
}

void bench_w8(const struct bench_opts *o)
{
	const uint64_t pages = bench_vm_pages(o, 64);
	struct sim *sim = bench_vm_machine("W8", pages + 1024);
	double v[1024];
	unsigned n = 0, reps = bench_vm_reps(o);
	struct w8_counts c = {0};
	for (unsigned r = 0; r < reps; r++) {
		struct mmu_vm_space parent;
		space_with_region("W8", sim, &parent, pages);
		for (unsigned p = 0; p < W8_PAIRS && n < 1024; p++)
			v[n++] = w8_pair(sim, &parent, pages, &c);
		space_exit("W8", sim, &parent);
	}
	char extra[200];
	snprintf(extra, sizeof extra,
		 "frames before=%llu after-fork=%llu after-exit=%llu tables before=%lld after-fork=%lld after-exit=%lld",
		 (unsigned long long)c.before.frames, (unsigned long long)c.after_fork.frames,
		 (unsigned long long)c.after_exit.frames, (long long)c.before.tables, (long long)c.after_fork.tables,
		 (long long)c.after_exit.tables);
	bench_vm_report(o, "W8", "fork-exit", "ns/pair", v, n, extra);
	if (sim_frames_in_use(sim) != 0) {
		fprintf(stderr, "bench W8: %llu data frames left after the parents exited\n",
			(unsigned long long)sim_frames_in_use(sim));
		exit(1);
	}
	bench_vm_check_sanitizer("W8", sim);
	sim_destroy(sim);
}
