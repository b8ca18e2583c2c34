/* SPDX-License-Identifier: MIT */
/* Compiled twice by scripts/test-install against the installed library,
 * once as C11 and once as C++23, and both outputs compared: the size and
 * alignment of every public struct (C++ code holds them by value, so they
 * must agree with the C library's: std::atomic<T> against _Atomic T), and
 * a few calls that link only if the headers give C linkage. Written in the
 * common subset of the two languages. */
#include <stddef.h>
#include <stdio.h>

#include <mmu64/mmu64.h>
#include <mmu64/sim.h>

#ifdef __cplusplus
#define ALIGN_OF(t) alignof(t)
#else
#define ALIGN_OF(t) _Alignof(t)
#endif

#define SHOW(t) printf("%-28s size %6zu align %2zu\n", #t, sizeof(t), (size_t)ALIGN_OF(t))

static void show_layouts(void)
{
	SHOW(struct mmu);
	SHOW(struct mmu_cpu);
	SHOW(struct mmu_tree);
	SHOW(struct mmu_tree_pcid);
	SHOW(struct mmu_leaf_cache);
	SHOW(struct mmu_tree_locked);
	SHOW(struct mmu_config);
	SHOW(struct mmu_counters);
	SHOW(struct mmu_port);
	SHOW(struct mmu_port_ops);
	SHOW(struct mmu_frame_meta);
	SHOW(struct mmu_map_opts);
	SHOW(struct mmu_translation);
	SHOW(struct mmu_tlb_batch);
	SHOW(struct mmu_kpti);
	SHOW(struct mmu_vm_space);
	SHOW(struct mmu_vm_region);
	SHOW(struct mmu_vm_fault);
	SHOW(struct mmu_vm_counters);
	SHOW(mmu_pa_t);
	SHOW(struct sim_config);
	SHOW(struct sim_access);
	SHOW(struct sim_cpu_regs);
	SHOW(struct sim_events);
	SHOW(struct sim_cost_model);
}

/* Map a page on the software machine, read it back through a CPU and
 * walk it: every call here resolves only with C linkage. */
static int call_the_api(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	struct sim *sim = sim_create(&cfg);
	if (!sim)
		return 1;
	struct mmu_tree tree;
	mmu_pa_t frame;
	struct mmu_translation tr;
	int bad = mmu_tree_create(sim_mmu(sim), &tree) != MMU_OK || sim_frame_alloc(sim, MMU_SIZE_4K, &frame) != MMU_OK;
	bad = bad || mmu_map(&tree, 0x1000, frame, MMU_PAGE_SIZE, MMU_PROT_R | MMU_PROT_U, NULL, NULL) != MMU_OK;
	sim_phys(sim, frame)[0x34] = 0x5a;
	mmu_tree_load(&tree);
	struct sim_access a = sim_access(sim, 0, SIM_READ, 0x1034, true, false, 0);
	bad = bad || a.outcome != SIM_OK || a.byte != 0x5a;
	bad = bad || mmu_walk(&tree, 0x1034, &tr) != MMU_OK || mmu_pa_bits(tr.pa) != mmu_pa_bits(frame) + 0x34;
	printf("walk 0x1034: %s, read 0x%02x, %s unmapped\n", mmu_err_name(MMU_OK), (unsigned)a.byte,
	       mmu_err_name(mmu_unmap(&tree, 0x1000, MMU_PAGE_SIZE, NULL)));
	mmu_tree_load(mmu_kernel_tree(sim_mmu(sim)));
	bad = bad || mmu_tree_destroy(&tree) != MMU_OK || sim_tlbsan_reports(sim) != 0;
	sim_frame_free(sim, MMU_SIZE_4K, frame);
	sim_destroy(sim);
	return bad;
}

int main(void)
{
	show_layouts();
	return call_the_api();
}
