/* SPDX-License-Identifier: MIT */
/* Huge-page promotion (FreeBSD's rule) and demotion on the software
 * machine: a table of 512 leaves that maps one aligned contiguous run with
 * identical attributes becomes one huge leaf when promotion is asked for,
 * the small translations are invalidated, and a partial change splits it
 * again. The sanitizer must report nothing. */
#include "simtest.h"

#define RWU (MMU_PROT_R | MMU_PROT_W | MMU_PROT_U)
#define PAGE 0x1000ull
#define SZ_2M (2ull << 20)

static enum mmu_size size_at(struct mmu_tree *t, mmu_vaddr_t va)
{
	struct mmu_translation tr;
	return mmu_walk(t, va, &tr) == MMU_OK ? tr.size : MMU_SIZE_ANY;
}

static void test_promote_on_map(struct sim *sim)
{
	struct mmu *mmu = sim_mmu(sim);
	mmu_pa_t big;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &big));
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	st_load(sim, 0, &t);
	st_load(sim, 1, &t);
	const mmu_vaddr_t va = 0x40000000;
	struct mmu_map_opts o = {.promote = true};
	(void)mmu_counters_take(mmu);
	/* Page by page; the last one completes the run. Pages are touched
	 * so that their 4K translations sit in both TLBs. */
	for (unsigned i = 0; i < 512; i++) {
		CHECK_OK(mmu_map(&t, va + i * PAGE, mmu_pa_add(big, i * PAGE), PAGE, RWU, &o, NULL));
		if (i < 511) {
			CHECK_EQ(st_result(sim_access(sim, i % 2, SIM_WRITE, va + i * PAGE, true, false, (uint8_t)i)), ST_OK);
			CHECK_EQ(size_at(&t, va), MMU_SIZE_4K);
		}
	}
	struct mmu_counters c = mmu_counters_take(mmu);
	CHECK_EQ(c.promotions, 1);
	CHECK_EQ(size_at(&t, va + 0x1234), MMU_SIZE_2M);
	CHECK_EQ(mmu_user_tables(mmu), mmu->levels - 1); /* the PT went */
	CHECK_EQ(c.full, 2); /* 512 small translations: over the ceiling, both CPUs */
	struct mmu_translation tr;
	CHECK_OK(mmu_walk(&t, va, &tr));
	CHECK_EQ(tr.leaf & (MMU_PTE_D | MMU_PTE_PS), MMU_PTE_D | MMU_PTE_PS); /* dirty pages stay dirty */
	CHECK_EQ(st_result(sim_access(sim, 1, SIM_READ, va + 7 * PAGE, true, false, 0)), ST_OK);
	CHECK_EQ(sim_access(sim, 0, SIM_READ, va + 9 * PAGE, true, false, 0).byte, 9);

	/* A partial protect demotes; protecting it back on a promoting tree
	 * promotes again. */
	mmu_tree_set_promote(&t, true);
	CHECK_OK(mmu_protect(&t, va + 5 * PAGE, PAGE, MMU_PROT_R | MMU_PROT_U, NULL));
	c = mmu_counters_take(mmu);
	CHECK_EQ(c.demotions, 1);
	CHECK_EQ(c.promotions, 0);
	CHECK_EQ(st_result(sim_access(sim, 1, SIM_WRITE, va + 5 * PAGE, true, false, 1)), ST_PF_P | ST_PF_W | ST_PF_U);
	CHECK_OK(mmu_protect(&t, va + 5 * PAGE, PAGE, RWU, NULL));
	c = mmu_counters_take(mmu);
	CHECK_EQ(c.promotions, 1);
	CHECK_EQ(size_at(&t, va + 5 * PAGE), MMU_SIZE_2M);
	CHECK_EQ(st_result(sim_access(sim, 1, SIM_WRITE, va + 5 * PAGE, true, false, 1)), ST_OK);

	/* A partial unmap demotes for good. */
	CHECK_OK(mmu_unmap(&t, va + 100 * PAGE, PAGE, NULL));
	CHECK_EQ(mmu_counters_take(mmu).demotions, 1);
	CHECK_EQ(size_at(&t, va), MMU_SIZE_4K);
	st_load(sim, 0, mmu_kernel_tree(mmu));
	st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_unmap(&t, va, SZ_2M, NULL));
	CHECK_OK(mmu_tree_destroy(&t));
	sim_frame_free(sim, MMU_SIZE_2M, big);
}

/* Runs that must not be promoted: not contiguous, not aligned, mixed
 * permissions, or promotion not asked for. */
static void test_no_promotion(struct sim *sim)
{
	struct mmu *mmu = sim_mmu(sim);
	mmu_pa_t big;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &big));
	mmu_pa_t big2;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &big2));
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	struct mmu_map_opts o4k = {.size = MMU_SIZE_4K}, promote4k = {.size = MMU_SIZE_4K, .promote = true};
	(void)mmu_counters_take(mmu);
	/* Not asked for. */
	CHECK_OK(mmu_map(&t, 0x40000000, big, SZ_2M, RWU, &o4k, NULL));
	/* Two halves from different frames. */
	CHECK_OK(mmu_map(&t, 0x40200000, big, SZ_2M / 2, RWU, &promote4k, NULL));
	CHECK_OK(mmu_map(&t, 0x40300000, mmu_pa_add(big2, SZ_2M / 2), SZ_2M / 2, RWU, &promote4k, NULL));
	/* Contiguous but not 2M-aligned physically. */
	CHECK_OK(mmu_map(&t, 0x40400000, mmu_pa_add(big, PAGE), SZ_2M - PAGE, RWU, &promote4k, NULL));
	CHECK_OK(mmu_map(&t, 0x40400000 + SZ_2M - PAGE, mmu_pa(big2.bits), PAGE, RWU, &promote4k, NULL));
	/* One page with other permissions. */
	CHECK_OK(mmu_map(&t, 0x40600000, big, PAGE, MMU_PROT_R | MMU_PROT_U, &promote4k, NULL));
	CHECK_OK(mmu_map(&t, 0x40601000, mmu_pa_add(big, PAGE), SZ_2M - PAGE, RWU, &promote4k, NULL));
	CHECK_EQ(mmu_counters_take(mmu).promotions, 0);
	for (mmu_vaddr_t va = 0x40000000; va < 0x40800000; va += SZ_2M)
		CHECK_EQ(size_at(&t, va), MMU_SIZE_4K);
	CHECK_OK(mmu_tree_destroy(&t));
	sim_frame_free(sim, MMU_SIZE_2M, big);
	sim_frame_free(sim, MMU_SIZE_2M, big2);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned levels = 4; levels <= 5; levels++) {
		struct sim *sim = st_default(levels, 2);
		test_promote_on_map(sim);
		test_no_promotion(sim);
		CHECK_EQ(sim_tlbsan_reports(sim), 0);
		CHECK_EQ(mmu_user_tables(sim_mmu(sim)), 0);
		sim_destroy(sim);
	}
	return 0;
}
