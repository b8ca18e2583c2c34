/* SPDX-License-Identifier: MIT */
/* The whole machine with mmu64 on it: sim_create's kernel tree on every
 * CPU, shootdowns through the port's IPIs (deterministic and threaded),
 * allocation-failure injection through the port, and a sanitizer that stays
 * silent while the library does its job. */
#include "test_sim_helpers.h"

#define UVA 0x400000ull

static struct sim *create(unsigned levels, unsigned ncpus, bool threaded)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.levels = levels;
	cfg.ncpus = ncpus;
	cfg.mem = 256ull << 20;
	cfg.threaded = threaded;
	struct sim *sim = sim_create(&cfg);
	if (!sim) {
		fprintf(stderr, "sim_create failed\n");
		exit(1);
	}
	return sim;
}

static void test_create_loads_kernel(unsigned levels)
{
	struct sim *sim = create(levels, 3, false);
	struct mmu *mmu = sim_mmu(sim);
	uint64_t cr3 = mmu_tree_cr3(mmu_kernel_tree(mmu));
	for (unsigned i = 0; i < 3; i++) {
		struct sim_cpu_regs r = sim_cpu_regs(sim, i);
		CHECK_EQ(r.cr3 & MMU_PTE_ADDR_MASK, cr3 & MMU_PTE_ADDR_MASK);
		CHECK_EQ(!!(r.cr4 & SIM_CR4_LA57), levels == 5);
		CHECK(mmu_tree_active_on(mmu_kernel_tree(mmu), i));
	}
	CHECK_EQ(sim_cpu(sim), 0);
	CHECK(sim_tables_in_use(sim) > 1);
	CHECK_EQ(sim_frames_in_use(sim), 0);
	CHECK_EQ(sim_config(sim)->levels, levels);
	sim_destroy(sim);
}

static void load_on(struct sim *sim, unsigned cpu, struct mmu_tree *tree)
{
	sim_set_cpu(sim, cpu);
	mmu_tree_load(tree);
	sim_set_cpu(sim, 0);
}

/* Map, use on two CPUs, unmap: the library's shootdown reaches CPU 1 via
 * the port's IPI and nothing stale is left. */
static void test_map_use_unmap(void)
{
	struct sim *sim = create(4, 2, false);
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_tree tree;
	mmu_pa_t frame = th_data(sim, MMU_SIZE_4K);
	CHECK_OK(mmu_tree_create(mmu, &tree));
	CHECK_OK(mmu_map(&tree, UVA, frame, 4096, MMU_PROT_R | MMU_PROT_W | MMU_PROT_U, NULL, NULL));
	load_on(sim, 0, &tree);
	load_on(sim, 1, &tree);
	CHECK_EQ(th_result(th_write(sim, 0, UVA + 5, 0x66, true)), TH_OK);
	CHECK_EQ(th_read(sim, 1, UVA + 5, true).byte, 0x66);
	CHECK_EQ(sim_tlb_size(sim, 1), 1);
	uint64_t ipis = sim_ipis_taken(sim, 1);
	CHECK_OK(mmu_protect(&tree, UVA, 4096, MMU_PROT_R | MMU_PROT_U, NULL));
	CHECK_EQ(th_result(th_write(sim, 1, UVA, 1, true)), 0x7);
	CHECK_OK(mmu_unmap(&tree, UVA, 4096, NULL));
	CHECK(sim_ipis_taken(sim, 1) > ipis);
	CHECK_EQ(sim_tlb_size(sim, 1), 0);
	CHECK_EQ(th_result(th_read(sim, 1, UVA, true)), 0x4);
	CHECK_EQ(th_result(th_read(sim, 0, UVA, true)), 0x4);
	CHECK_EQ(sim_tlbsan_audit(sim), 0);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	load_on(sim, 0, mmu_kernel_tree(mmu));
	load_on(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&tree));
	sim_frame_free(sim, MMU_SIZE_4K, frame);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy(sim);
}

/* Every table allocation point of a map fails cleanly: NOMEM, nothing
 * changed, nothing leaked. */
static void test_injection_through_port(void)
{
	struct sim *sim = create(4, 1, false);
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_tree tree;
	mmu_pa_t frame = th_data(sim, MMU_SIZE_4K);
	CHECK_OK(mmu_tree_create(mmu, &tree));
	uint64_t tables = sim_tables_in_use(sim), before = sim_alloc_count(sim, MMU_FRAME_TABLE);
	CHECK_OK(mmu_map(&tree, UVA, frame, 4096, MMU_PROT_R, NULL, NULL));
	uint64_t points = sim_alloc_count(sim, MMU_FRAME_TABLE) - before;
	CHECK_EQ(points, 3); /* PDPT, PD, PT */
	CHECK_OK(mmu_unmap(&tree, UVA, 4096, NULL));
	CHECK_EQ(sim_tables_in_use(sim), tables);
	for (long k = 0; k < (long)points; k++) {
		sim_fail_alloc_after(sim, MMU_FRAME_TABLE, k);
		CHECK_ERR(mmu_map(&tree, UVA, frame, 4096, MMU_PROT_R, NULL, NULL), MMU_E_NOMEM);
		CHECK_EQ(sim_tables_in_use(sim), tables);
	}
	sim_fail_alloc_after(sim, MMU_FRAME_TABLE, -1);
	CHECK_OK(mmu_tree_destroy(&tree));
	sim_frame_free(sim, MMU_SIZE_4K, frame);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy(sim);
}

/* Threads: CPU 0 maps and unmaps while the others read the page when they
 * can, polling for IPIs. The sanitizer audits every TLB at the end. */
struct churn {
	struct mmu_tree tree;
	mmu_pa_t frame;
	atomic_bool done;
	atomic_uint faults, reads, started;
};

static void churn_cpu(struct sim *sim, unsigned cpu, void *arg)
{
	struct churn *c = arg;
	mmu_tree_load(&c->tree);
	atomic_fetch_add(&c->started, 1);
	if (cpu == 0) {
		/* Wait for the readers, so that the unmaps must shoot them down. */
		while (atomic_load(&c->started) < sim_config(sim)->ncpus)
			sim_poll(sim);
		for (unsigned i = 0; i < 300; i++) {
			if (mmu_map(&c->tree, UVA, c->frame, 4096, MMU_PROT_R | MMU_PROT_U, NULL, NULL) != MMU_OK)
				abort();
			sim_access(sim, cpu, SIM_READ, UVA, true, false, 0);
			if (mmu_unmap(&c->tree, UVA, 4096, NULL) != MMU_OK)
				abort();
		}
		atomic_store(&c->done, true);
	} else {
		while (!atomic_load(&c->done)) {
			struct sim_access a = sim_access(sim, cpu, SIM_READ, UVA, true, false, 0);
			atomic_fetch_add(a.outcome == SIM_OK ? &c->reads : &c->faults, 1);
			sim_poll(sim);
		}
	}
	mmu_tree_load(mmu_kernel_tree(sim_mmu(sim)));
}

static void test_threaded_shootdowns(void)
{
	struct sim *sim = create(4, 4, true);
	static struct churn c;
	c.frame = th_data(sim, MMU_SIZE_4K);
	CHECK_OK(mmu_tree_create(sim_mmu(sim), &c.tree));
	sim_run_cpus(sim, churn_cpu, &c);
	CHECK(atomic_load(&c.faults) > 0);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	for (unsigned i = 0; i < 4; i++)
		CHECK(!mmu_tree_active_on(&c.tree, i));
	CHECK_OK(mmu_tree_destroy(&c.tree));
	sim_frame_free(sim, MMU_SIZE_4K, c.frame);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	test_create_loads_kernel(4);
	test_create_loads_kernel(5);
	test_map_use_unmap();
	test_injection_through_port();
	test_threaded_shootdowns();
	return 0;
}
