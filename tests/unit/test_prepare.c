/* SPDX-License-Identifier: MIT */
/* The prepare run (pt_walk_prepare) and the commit take the same tables:
 * the commit panics when the pool runs dry and asserts that it ends empty,
 * so each call below fails loudly if the two disagree. Splits of a 1G leaf
 * cut at both edges and inside distinct 2M leaves, unmaps that cut both
 * edges, maps over holes with forced sizes; on a tree loaded or not, with
 * promotion or not, with PCIDs or not. The tables return to one root. */
#include "simtest.h"

#define PAGE 0x1000ull
#define M2 (2ull << 20)
#define G1 (1ull << 30)
#define RU (MMU_PROT_R | MMU_PROT_U)
#define RWU (MMU_PROT_R | MMU_PROT_W | MMU_PROT_U)

static void run(bool loaded, bool promote, bool pcid)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.mem = 3ull << 30;
	cfg.pcide = pcid;
	struct mmu_tree t;
	struct sim *sim = st_machine_tree(&cfg, &t, loaded);
	struct mmu *mmu = sim_mmu(sim);
	CHECK_OK(mmu_tree_set_promote(&t, promote));
	mmu_pa_t g;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_1G, &g));
	struct mmu_map_opts o1 = {.size = MMU_SIZE_1G}, o4 = {.size = MMU_SIZE_4K};
	const mmu_vaddr_t va = 4 * G1;

	CHECK_OK(mmu_map(&t, va, g, G1, RWU, &o1, NULL));
	CHECK_OK(mmu_protect(&t, va + M2 + 3 * PAGE, 5 * M2, RU, NULL));
	CHECK_OK(mmu_protect(&t, va + 7 * PAGE, PAGE, RU, NULL));
	CHECK_OK(mmu_protect(&t, va + 9 * M2 + PAGE, M2, RU, NULL));
	CHECK_OK(mmu_unmap(&t, va + 20 * M2 + 5 * PAGE, 30 * M2, NULL));
	CHECK_OK(mmu_unmap(&t, va + 100 * M2 + 5 * PAGE, PAGE, NULL));
	CHECK_OK(mmu_unmap(&t, va, G1, NULL));

	CHECK_OK(mmu_map(&t, va, g, G1, RWU, &o1, NULL));
	CHECK_OK(mmu_unmap(&t, va + 3 * M2, 2 * M2 + 8 * PAGE, NULL));
	CHECK_OK(mmu_map(&t, va + 3 * M2, mmu_pa_add(g, 3 * M2), 2 * M2, RWU, &o4, NULL));
	CHECK_OK(mmu_map(&t, va + 5 * M2, mmu_pa_add(g, 5 * M2), 8 * PAGE, RWU, NULL, NULL));
	CHECK_OK(mmu_protect(&t, va, G1, RU, NULL));
	CHECK_OK(mmu_unmap(&t, va + PAGE, G1 - 2 * PAGE, NULL));
	CHECK_OK(mmu_unmap(&t, va, PAGE, NULL));
	CHECK_OK(mmu_unmap(&t, va + G1 - PAGE, PAGE, NULL));
	CHECK_EQ(mmu_user_tables(mmu), 1);

	if (loaded)
		st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&t));
	sim_frame_free(sim, MMU_SIZE_1G, g);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned v = 0; v < 8; v++)
		run(v & 1, v & 2, v & 4);
	return 0;
}
