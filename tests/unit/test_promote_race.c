/* SPDX-License-Identifier: MIT */
/* mmu_tree_set_promote on one CPU against plain single-page calls on
 * another whose fast path misses the table cache (two pages in two page
 * tables, visited in turn). The fast path keeps the lock it took for the
 * slow path; whether the tree promotes must be read under that lock, or a
 * change of it in between sends the slow path to the general path with
 * the lock still held (a map then waited for itself forever, a protect
 * hit an assertion). */
#include <stdatomic.h>

#include "simtest.h"

#define PAGE 0x1000ull
#define VA_A 0x40000000ull
#define VA_B 0x80000000ull

static struct mmu_tree tree;
static atomic_bool stop;
static bool maps; /* map and unmap; else protect */
static const unsigned long rounds = 100000;

static void cpu_main(struct sim *sim, unsigned cpu, void *arg)
{
	(void)arg;
	if (cpu == 1) {
		while (!atomic_load(&stop)) {
			TCHECK_EQ(mmu_tree_set_promote(&tree, true), MMU_OK);
			TCHECK_EQ(mmu_tree_set_promote(&tree, false), MMU_OK);
			sim_poll(sim);
		}
		return;
	}
	const unsigned ru = MMU_PROT_R | MMU_PROT_U;
	for (unsigned long i = 0; i < rounds; i++) {
		if (maps) {
			TCHECK_EQ(mmu_unmap(&tree, VA_A, PAGE, NULL), MMU_OK);
			TCHECK_EQ(mmu_unmap(&tree, VA_B, PAGE, NULL), MMU_OK);
			TCHECK_EQ(mmu_map(&tree, VA_A, mmu_pa(0x100000), PAGE, ru, NULL, NULL), MMU_OK);
			TCHECK_EQ(mmu_map(&tree, VA_B, mmu_pa(0x100000), PAGE, ru, NULL, NULL), MMU_OK);
		} else {
			unsigned prot = (i & 2) ? ru : ru | MMU_PROT_W;
			TCHECK_EQ(mmu_protect(&tree, (i & 1) ? VA_A : VA_B, PAGE, prot, NULL), MMU_OK);
		}
	}
	atomic_store(&stop, true);
}

static void run(bool map_unmap)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 2;
	cfg.threaded = true;
	struct sim *sim = st_machine(&cfg);
	struct mmu *mmu = sim_mmu(sim);
	const unsigned ru = MMU_PROT_R | MMU_PROT_U;
	CHECK_OK(mmu_tree_create(mmu, &tree));
	/* A second page in each page table, so a 4K unmap never empties one. */
	for (mmu_vaddr_t va = VA_A; va <= VA_B; va += VA_B - VA_A) {
		CHECK_OK(mmu_map(&tree, va, mmu_pa(0x100000), PAGE, ru, NULL, NULL));
		CHECK_OK(mmu_map(&tree, va + PAGE, mmu_pa(0x100000), PAGE, ru, NULL, NULL));
	}
	maps = map_unmap;
	atomic_store(&stop, false);
	sim_run_cpus(sim, cpu_main, NULL);
	CHECK_OK(mmu_tree_destroy(&tree));
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	run(false);
	run(true);
	return 0;
}
