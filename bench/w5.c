/* SPDX-License-Identifier: MIT */
/* W5 fork-cow (docs/BENCH.md): a process space with a 64 MiB anon
 * region, every page written; fork; the child writes every page. Reports
 * ns per COW fault (the child's write, its fault and the retry, per page)
 * and data frames in use before fork, after fork, after the child's writes
 * and after both exit. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench/bench.h"
#include "sim/sim.h"

#define W5_VA 0x0000100000000000ull

static double w5_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void w5_must(mmu_err_t err, const char *what)
{
	if (err != MMU_OK) {
		fprintf(stderr, "bench W5: %s failed: %s\n", what, mmu_err_name(err));
		exit(1);
	}
}

/* A user write by CPU 0 with the fault handler behind it; the outcome of
 * the fault it took (or -1 for none). */
static int w5_user_write(struct sim *sim, struct mmu_vm_space *sp, mmu_vaddr_t va, uint8_t byte)
{
	int outcome = -1;
	for (unsigned i = 0; i < 4; i++) {
		struct sim_access a = sim_access(sim, 0, SIM_WRITE, va, true, false, byte);
		if (a.outcome == SIM_OK)
			return outcome;
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, MMU_VM_FAULT_ACCESS);
		enum mmu_vm_outcome o = mmu_vm_handle_fault(sp, &f);
		if (!mmu_vm_resolved(o)) {
			fprintf(stderr, "bench W5: write at %#llx refused (outcome %u)\n", (unsigned long long)va,
				(unsigned)o);
			exit(1);
		}
		outcome = (int)o;
	}
	fprintf(stderr, "bench W5: write at %#llx keeps faulting\n", (unsigned long long)va);
	exit(1);
}

static int cmp_w5(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct w5_frames {
	uint64_t before_fork, after_fork, after_child, after_exit;
};

static double w5_once(struct sim *sim, uint64_t pages, struct w5_frames *fr)
{
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_vm_space parent, child;
	uint64_t frames0 = sim_frames_in_use(sim);
	w5_must(mmu_vm_space_create(mmu, &parent), "space");
	w5_must(mmu_vm_region_add(&parent, W5_VA, pages * 4096, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0), "region");
	mmu_tree_load(&parent.tree);
	for (uint64_t i = 0; i < pages; i++)
		(void)w5_user_write(sim, &parent, W5_VA + i * 4096, (uint8_t)i);
	fr->before_fork = sim_frames_in_use(sim) - frames0;
	w5_must(mmu_vm_fork(&parent, &child), "fork");
	fr->after_fork = sim_frames_in_use(sim) - frames0;
	mmu_tree_load(&child.tree);
	double t0 = w5_now_ns();
	for (uint64_t i = 0; i < pages; i++)
		if (w5_user_write(sim, &child, W5_VA + i * 4096, (uint8_t)~i) != MMU_VM_COW) {
			fprintf(stderr, "bench W5: the child's write %llu was no COW fault\n", (unsigned long long)i);
			exit(1);
		}
	double ns = (w5_now_ns() - t0) / (double)pages;
	fr->after_child = sim_frames_in_use(sim) - frames0;
	mmu_tree_load(mmu_kernel_tree(mmu));
	w5_must(mmu_vm_space_exit(&child), "exit child");
	w5_must(mmu_vm_space_exit(&parent), "exit parent");
	fr->after_exit = sim_frames_in_use(sim) - frames0;
	return ns;
}

/* Back the data frames the workload will use before any timing, as
 * the harness (docs/BENCH.md) does for the table pool: allocate them, write each
 * once, free them (a freed 4K frame stays backed). Otherwise every COW
 * copy would pay the host's first-touch fault, which no kernel pays. */
static void w5_pretouch(struct sim *sim, uint64_t frames)
{
	mmu_pa_t *pa = malloc(frames * sizeof(*pa));
	if (!pa) {
		fprintf(stderr, "bench W5: out of memory\n");
		exit(1);
	}
	for (uint64_t i = 0; i < frames; i++) {
		w5_must(sim_frame_alloc(sim, MMU_SIZE_4K, &pa[i]), "pretouch");
		*sim_phys(sim, pa[i]) = 1;
	}
	for (uint64_t i = 0; i < frames; i++)
		sim_frame_free(sim, MMU_SIZE_4K, pa[i]);
	free(pa);
}

void bench_w5(const struct bench_opts *o)
{
	const uint64_t pages = (o->small ? 1ull << 20 : 64ull << 20) / 4096;
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 1;
	struct sim *sim = sim_create(&cfg);
	if (!sim) {
		fprintf(stderr, "bench W5: cannot create the software machine\n");
		exit(1);
	}
	sim_set_cpu(sim, 0);
	w5_pretouch(sim, 2 * pages + 1024); /* parent, child's copies, slack */
	double v[1024];
	unsigned n = o->reps > 1024 ? 1024 : o->reps;
	struct w5_frames fr = {0};
	for (unsigned r = 0; r < n; r++)
		v[r] = w5_once(sim, pages, &fr);
	qsort(v, n, sizeof v[0], cmp_w5);
	double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	char extra[160];
	snprintf(extra, sizeof extra, "frames before-fork=%llu after-fork=%llu after-child-writes=%llu after-exit=%llu",
		 (unsigned long long)fr.before_fork, (unsigned long long)fr.after_fork,
		 (unsigned long long)fr.after_child, (unsigned long long)fr.after_exit);
	if (o->csv)
		printf("W5,cow-fault,%.2f,%.2f,%.2f,%s\n", med, v[0], v[n - 1], extra);
	else
		printf("W5 %-12s ns/fault=%.2f min=%.2f max=%.2f %s\n", "cow-fault", med, v[0], v[n - 1], extra);
	if (sim_tlbsan_reports(sim)) {
		fprintf(stderr, "bench W5: tlbsan: %s\n", sim_tlbsan_last(sim));
		exit(1);
	}
	sim_destroy(sim);
}
