/* SPDX-License-Identifier: MIT */
/* PCIDs on the software machine: trees keep their TLB entries across
 * switches (CR3 no-flush), a CPU that missed a flush while the tree was not
 * running flushes when it comes back (the generation check), lazy CPUs are
 * interrupted only when memory is freed, PCIDs roll over without limit on
 * the number of trees, with and without INVPCID; then thousands of trees
 * cycling on 4 CPU threads. The sanitizer must report nothing. */
#include <pthread.h>
#include <stdatomic.h>

#include "simtest.h"

#define RWU (MMU_PROT_R | MMU_PROT_W | MMU_PROT_U)
#define PAGE 0x1000ull

static struct sim *pcid_machine(unsigned cpus, bool invpcid, bool threaded)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = cpus;
	cfg.pcide = true;
	cfg.no_invpcid = !invpcid;
	cfg.threaded = threaded;
	return st_machine(&cfg);
}

static uint32_t user_access(struct sim *sim, unsigned cpu, enum sim_access_kind kind, mmu_vaddr_t va)
{
	return st_result(sim_access(sim, cpu, kind, va, /*user=*/true, /*ac=*/false, 0x5a));
}

static void test_switch_and_generation(bool invpcid)
{
	struct sim *sim = pcid_machine(2, invpcid, false);
	struct mmu *mmu = sim_mmu(sim);
	mmu_pa_t f;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &f));
	struct mmu_tree a, b;
	CHECK_OK(mmu_tree_create(mmu, &a));
	CHECK_OK(mmu_tree_create(mmu, &b));
	CHECK_OK(mmu_map(&a, 0x400000, f, PAGE, RWU, NULL, NULL));
	st_load(sim, 0, &a);
	CHECK_EQ(user_access(sim, 0, SIM_WRITE, 0x400000), ST_OK);
	(void)mmu_counters_take(mmu);

	/* A -> B -> A: B gets a new PCID (flush), A comes back with no-flush. */
	st_load(sim, 0, &b);
	st_load(sim, 0, &a);
	struct mmu_counters c = mmu_counters_take(mmu);
	CHECK_EQ(c.cr3_flush, 1);
	CHECK_EQ(c.cr3_noflush, 1);

	/* A runs nowhere: a protect costs no IPI and no INVLPG, only a bump
	 * of A's generation. CPU 0 flushes A's PCID when it loads A again. */
	st_load(sim, 0, &b);
	(void)mmu_counters_take(mmu);
	CHECK_OK(mmu_protect(&a, 0x400000, PAGE, MMU_PROT_R | MMU_PROT_U, NULL));
	c = mmu_counters_take(mmu);
	CHECK_EQ(c.ipis, 0);
	CHECK_EQ(c.invlpg + c.full, 0);
	st_load(sim, 0, &a);
	c = mmu_counters_take(mmu);
	CHECK_EQ(c.cr3_flush, 1);
	CHECK_EQ(c.cr3_noflush, 0);
	CHECK_EQ(user_access(sim, 0, SIM_WRITE, 0x400000), ST_PF_P | ST_PF_W | ST_PF_U);

	/* A runs on CPU 1, lazy on CPU 0: an unmap frees tables, so CPU 0
	 * (holding A's PCID) is interrupted too and drops the context. */
	st_load(sim, 1, &a);
	CHECK_EQ(user_access(sim, 1, SIM_READ, 0x400000), ST_OK);
	st_load(sim, 0, &b);
	(void)mmu_counters_take(mmu);
	CHECK_OK(mmu_unmap(&a, 0x400000, PAGE, NULL));
	c = mmu_counters_take(mmu);
	CHECK_EQ(c.ipis, 1);
	CHECK_EQ(c.invlpg, 1); /* CPU 1, running A */
	CHECK_EQ(c.full, 1);   /* CPU 0: A's PCID */
	CHECK_EQ(user_access(sim, 1, SIM_READ, 0x400000), ST_PF_U);

	/* Destroying a tree that CPUs ran drops its PCID everywhere first. */
	CHECK_OK(mmu_map(&a, 0x400000, f, PAGE, RWU, NULL, NULL));
	CHECK_EQ(user_access(sim, 1, SIM_READ, 0x400000), ST_OK);
	st_load(sim, 1, mmu_kernel_tree(mmu));
	st_load(sim, 0, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_unmap(&a, 0x400000, PAGE, NULL));
	CHECK_OK(mmu_tree_destroy(&a));
	CHECK_OK(mmu_tree_destroy(&b));
	sim_frame_free(sim, MMU_SIZE_4K, f);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy(sim);
}

/* More trees than PCIDs: the CPU starts a new generation and flushes. */
static void test_rollover(bool invpcid)
{
	struct sim *sim = pcid_machine(1, invpcid, false);
	struct mmu *mmu = sim_mmu(sim);
	mmu_pa_t f;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &f));
	struct mmu_tree keep;
	CHECK_OK(mmu_tree_create(mmu, &keep));
	CHECK_OK(mmu_map(&keep, 0x400000, f, PAGE, RWU, NULL, NULL));
	for (unsigned i = 0; i < 2 * MMU_PCID_MAX + 10; i++) {
		struct mmu_tree t;
		CHECK_OK(mmu_tree_create(mmu, &t));
		CHECK_OK(mmu_map(&t, 0x400000 + (i % 8) * PAGE, f, PAGE, RWU, NULL, NULL));
		st_load(sim, 0, &t);
		CHECK_EQ(user_access(sim, 0, SIM_WRITE, 0x400000 + (i % 8) * PAGE), ST_OK);
		if (i % 1000 == 0) {
			st_load(sim, 0, &keep);
			CHECK_EQ(user_access(sim, 0, SIM_READ, 0x400000), ST_OK);
		}
		st_load(sim, 0, mmu_kernel_tree(mmu));
		CHECK_OK(mmu_tree_destroy(&t));
		CHECK_STOP_ON_FAILURE();
	}
	CHECK(mmu->cpu[0].pcid_gen >= 3);
	CHECK_OK(mmu_unmap(&keep, 0x400000, PAGE, NULL));
	CHECK_OK(mmu_tree_destroy(&keep));
	sim_frame_free(sim, MMU_SIZE_4K, f);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy(sim);
}

/* ---- thousands of trees on 4 CPU threads ---- */

#define SHARED 4
#define PRIVATE 3
#define ROUNDS 700

struct cycle {
	struct mmu_tree shared[SHARED];
	mmu_pa_t frame;
	atomic_uint created;
	atomic_uint failures;
};

static void cycle_fail(struct cycle *cy, const char *what, unsigned cpu, unsigned round)
{
	fprintf(stderr, "cpu %u round %u: %s\n", cpu, round, what);
	atomic_fetch_add(&cy->failures, 1);
}

/* Each CPU cycles private trees (created, run, destroyed) and runs the
 * shared ones, changing pages of its own slice in them while the other CPUs
 * run them or hold their PCIDs lazily. */
static void cycle_cpu(struct sim *sim, unsigned cpu, void *arg)
{
	struct cycle *cy = arg;
	struct mmu *mmu = sim_mmu(sim);
	struct st_rng rng;
	st_rng_seed(&rng, 0x9c1d0 + cpu);
	struct mmu_tree mine[PRIVATE];
	for (unsigned r = 0; r < ROUNDS; r++) {
		mmu_vaddr_t slot = 0x400000 + ((uint64_t)cpu * 64 + st_rng_below(&rng, 64)) * PAGE;
		struct mmu_tree *s = &cy->shared[st_rng_below(&rng, SHARED)];
		mmu_tree_load(s);
		if (mmu_map(s, slot, cy->frame, PAGE, RWU, NULL, NULL) == MMU_OK &&
		    user_access(sim, cpu, SIM_WRITE, slot) != ST_OK)
			cycle_fail(cy, "write to a page just mapped", cpu, r);
		if (st_rng_below(&rng, 2) && mmu_protect(s, slot, PAGE, MMU_PROT_R | MMU_PROT_U, NULL) == MMU_OK &&
		    user_access(sim, cpu, SIM_WRITE, slot) != (ST_PF_P | ST_PF_W | ST_PF_U))
			cycle_fail(cy, "write to a page just made read-only", cpu, r);
		if (st_rng_below(&rng, 2) && mmu_unmap(s, slot, PAGE, NULL) == MMU_OK &&
		    user_access(sim, cpu, SIM_READ, slot) != ST_PF_U)
			cycle_fail(cy, "read of a page just unmapped", cpu, r);
		for (unsigned i = 0; i < PRIVATE; i++) {
			if (mmu_tree_create(mmu, &mine[i]) != MMU_OK ||
			    mmu_map(&mine[i], 0x400000, cy->frame, PAGE, RWU, NULL, NULL) != MMU_OK)
				cycle_fail(cy, "private tree", cpu, r);
			mmu_tree_load(&mine[i]);
			if (user_access(sim, cpu, SIM_READ, 0x400000) != ST_OK)
				cycle_fail(cy, "read in a private tree", cpu, r);
			atomic_fetch_add(&cy->created, 1);
		}
		mmu_tree_load(&cy->shared[st_rng_below(&rng, SHARED)]);
		for (unsigned i = 0; i < PRIVATE; i++)
			if (mmu_tree_destroy(&mine[i]) != MMU_OK)
				cycle_fail(cy, "destroy a private tree", cpu, r);
		sim_poll(sim);
	}
	mmu_tree_load(mmu_kernel_tree(mmu));
}

static void test_cycling_threads(bool invpcid)
{
	struct sim *sim = pcid_machine(4, invpcid, true);
	struct mmu *mmu = sim_mmu(sim);
	struct cycle cy = {0};
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &cy.frame));
	for (unsigned i = 0; i < SHARED; i++)
		CHECK_OK(mmu_tree_create(mmu, &cy.shared[i]));
	(void)mmu_counters_take(mmu);
	sim_run_cpus(sim, cycle_cpu, &cy);
	struct mmu_counters c = mmu_counters_take(mmu);
	CHECK_EQ(atomic_load(&cy.failures), 0);
	CHECK_EQ(atomic_load(&cy.created), 4 * ROUNDS * PRIVATE);
	CHECK(c.cr3_noflush > 0); /* flushes skipped thanks to the generation check */
	CHECK(c.ipis > 0);
	printf("pcid cycling (invpcid=%d): %u trees, CR3 loads kept %llu / flushed %llu, ipis %llu, full %llu\n",
	       invpcid, atomic_load(&cy.created), (unsigned long long)c.cr3_noflush,
	       (unsigned long long)c.cr3_flush, (unsigned long long)c.ipis, (unsigned long long)c.full);
	for (unsigned i = 0; i < SHARED; i++)
		CHECK_OK(mmu_tree_destroy(&cy.shared[i]));
	sim_frame_free(sim, MMU_SIZE_4K, cy.frame);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	CHECK_EQ(mmu_user_tables(mmu), 0);
	sim_destroy(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (int invpcid = 1; invpcid >= 0; invpcid--) {
		test_switch_and_generation(invpcid);
		test_rollover(invpcid);
		test_cycling_threads(invpcid);
	}
	return 0;
}
