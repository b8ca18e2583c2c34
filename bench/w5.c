/* SPDX-License-Identifier: MIT */
/* W5 fork-cow (docs/BENCH.md): a process space with a 64 MiB anon
 * region, every page written; fork; the child writes every page. Reports
 * ns per COW fault (the child's write, its fault and the retry, per page)
 * and data frames in use before fork, after fork, after the child's writes
 * and after both exit. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/vmbench.h"

#define W5_VA BENCH_VM_VA

struct w5_frames {
	uint64_t before_fork, after_fork, after_child, after_exit;
};

static double w5_once(struct sim *sim, uint64_t pages, struct w5_frames *fr)
{
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_vm_space parent, child;
	uint64_t frames0 = sim_frames_in_use(sim);
	bench_vm_must("W5", mmu_vm_space_create(mmu, &parent), "space");
	bench_vm_must("W5", mmu_vm_region_add(&parent, W5_VA, pages * 4096, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0),
		      "region");
	mmu_tree_load(&parent.tree);
	for (uint64_t i = 0; i < pages; i++)
		(void)bench_vm_write("W5", sim, &parent, W5_VA + i * 4096, (uint8_t)i);
	fr->before_fork = sim_frames_in_use(sim) - frames0;
	bench_vm_must("W5", mmu_vm_fork(&parent, &child), "fork");
	fr->after_fork = sim_frames_in_use(sim) - frames0;
	mmu_tree_load(&child.tree);
	double t0 = bench_vm_now_ns();
	for (uint64_t i = 0; i < pages; i++)
		if (bench_vm_write("W5", sim, &child, W5_VA + i * 4096, (uint8_t)~i) != MMU_VM_COW) {
			fprintf(stderr, "bench W5: the child's write %llu was no COW fault\n", (unsigned long long)i);
			exit(1);
		}
	double ns = (bench_vm_now_ns() - t0) / (double)pages;
	fr->after_child = sim_frames_in_use(sim) - frames0;
	mmu_tree_load(mmu_kernel_tree(mmu));
	bench_vm_must("W5", mmu_vm_space_exit(&child), "exit child");
	bench_vm_must("W5", mmu_vm_space_exit(&parent), "exit parent");
	fr->after_exit = sim_frames_in_use(sim) - frames0;
	return ns;
}

void bench_w5(const struct bench_opts *o)
{
	const uint64_t pages = bench_vm_pages(o, 64);
	struct sim *sim = bench_vm_machine("W5", 2 * pages + 1024); /* parent, child's copies, slack */
	double v[1024];
	unsigned n = bench_vm_reps(o);
	struct w5_frames fr = {0};
	for (unsigned r = 0; r < n; r++)
		v[r] = w5_once(sim, pages, &fr);
	char extra[160];
	snprintf(extra, sizeof extra, "frames before-fork=%llu after-fork=%llu after-child-writes=%llu after-exit=%llu",
		 (unsigned long long)fr.before_fork, (unsigned long long)fr.after_fork,
		 (unsigned long long)fr.after_child, (unsigned long long)fr.after_exit);
	bench_vm_report(o, "W5", "cow-fault", "ns/fault", v, n, extra);
	bench_vm_check_sanitizer("W5", sim);
	sim_destroy(sim);
}
