/* SPDX-License-Identifier: MIT */
/* The machine's event counters (sim_cpu_events) and the cost model that
 * prices them: each counter counts what it says, where it happens, and
 * sim_cost_cycles is the weighted sum. Tables are built by hand except for
 * the port test, which needs the mmu64 instance's port. */
#include "test_sim_helpers.h"

#define VA 0x400000ull /* PML4 0, PDPT 0, PD 2, PT 0 */
#define K 8u           /* pages mapped at VA */

static struct sim *machine(unsigned levels, bool pcide)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 1;
	cfg.mem = 16ull << 20;
	cfg.levels = levels;
	cfg.pcide = pcide;
	return th_machine(&cfg);
}

static struct sim_events since(struct sim *sim, const struct sim_events *before)
{
	struct sim_events now = sim_cpu_events(sim, 0);
	return (struct sim_events){
		.tlb_hits = now.tlb_hits - before->tlb_hits, .tlb_misses = now.tlb_misses - before->tlb_misses,
		.walk_reads = now.walk_reads - before->walk_reads, .invlpgs = now.invlpgs - before->invlpgs,
		.flushes = now.flushes - before->flushes,
	};
}

static void check_events(const struct sim_events *d, uint64_t hits, uint64_t misses, uint64_t reads,
			 uint64_t invlpgs, uint64_t flushes, int line)
{
	if (d->tlb_hits != hits || d->tlb_misses != misses || d->walk_reads != reads || d->invlpgs != invlpgs ||
	    d->flushes != flushes) {
		fprintf(stderr,
			"%s:%d: events hits=%" PRIu64 " misses=%" PRIu64 " reads=%" PRIu64 " invlpgs=%" PRIu64
			" flushes=%" PRIu64 ", expected %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			__FILE__, line, d->tlb_hits, d->tlb_misses, d->walk_reads, d->invlpgs, d->flushes, hits,
			misses, reads, invlpgs, flushes);
		check_failures++;
	}
}
#define CHECK_EVENTS(d, hits, misses, reads, invlpgs, flushes) \
	check_events(&(d), hits, misses, reads, invlpgs, flushes, __LINE__)

static mmu_vaddr_t page(unsigned i) { return VA + (uint64_t)i * MMU_PAGE_SIZE; }

static void map_k(struct sim *sim, mmu_pa_t root)
{
	mmu_pa_t f = th_data(sim, MMU_SIZE_4K);
	for (unsigned i = 0; i < K; i++)
		th_map(sim, root, page(i), f, MMU_SIZE_4K, MMU_PTE_RW);
}

static void read_k(struct sim *sim)
{
	for (unsigned i = 0; i < K; i++)
		CHECK_EQ(th_result(th_read(sim, 0, page(i), false)), TH_OK);
}

/* Fresh pages miss and read one entry per level; cached ones hit. A CR3
 * reload is one flush, after which every page misses again. */
static void test_walks_hits_reload(unsigned levels)
{
	struct sim *sim = machine(levels, false);
	struct sim_events e = sim_cpu_events(sim, 0);
	mmu_pa_t root = th_root_on_all(sim);
	struct sim_events d = since(sim, &e);
	CHECK_EVENTS(d, 0, 0, 0, 0, 1);
	map_k(sim, root);

	e = sim_cpu_events(sim, 0);
	read_k(sim);
	d = since(sim, &e);
	CHECK_EVENTS(d, 0, K, K * levels, 0, 0);

	e = sim_cpu_events(sim, 0);
	read_k(sim);
	d = since(sim, &e);
	CHECK_EVENTS(d, K, 0, 0, 0, 0);

	e = sim_cpu_events(sim, 0);
	sim_write_cr3(sim, 0, mmu_pa_bits(root));
	read_k(sim);
	d = since(sim, &e);
	CHECK_EVENTS(d, 0, K, K * levels, 0, 1);
	sim_destroy_bare(sim);
}

/* N INVLPGs count N (a non-canonical one too: executed, a no-op) and cost
 * exactly N refill walks. */
static void test_invlpg(void)
{
	const unsigned n = 3;
	struct sim *sim = machine(4, false);
	mmu_pa_t root = th_root_on_all(sim);
	map_k(sim, root);
	read_k(sim);
	struct sim_events e = sim_cpu_events(sim, 0);
	for (unsigned i = 0; i < n; i++)
		sim_invlpg(sim, 0, page(i));
	struct sim_events d = since(sim, &e);
	CHECK_EVENTS(d, 0, 0, 0, n, 0);

	e = sim_cpu_events(sim, 0);
	read_k(sim);
	d = since(sim, &e);
	CHECK_EVENTS(d, K - n, n, n * 4, 0, 0);

	e = sim_cpu_events(sim, 0);
	sim_invlpg(sim, 0, 0x0000800000000000ull);
	d = since(sim, &e);
	CHECK_EVENTS(d, 0, 0, 0, 1, 0);
	sim_destroy_bare(sim);
}

/* Faulting walks are misses and read up to the entry that ended them; a
 * write through an entry cached clean walks again to set D (a miss). */
static void test_fault_and_dirty_walks(unsigned levels)
{
	struct sim *sim = machine(levels, false);
	mmu_pa_t root = th_root_on_all(sim);
	map_k(sim, root);

	struct sim_events e = sim_cpu_events(sim, 0);
	CHECK_EQ(th_result(th_read(sim, 0, page(K), false)), 0x0); /* its PT entry is empty */
	struct sim_events d = since(sim, &e);
	CHECK_EVENTS(d, 0, 1, levels, 0, 0);

	/* PML5 0 (if any) is present, PML4 0xe0 is not. */
	e = sim_cpu_events(sim, 0);
	CHECK_EQ(th_result(th_read(sim, 0, 0x0000700000000000ull, false)), 0x0);
	d = since(sim, &e);
	CHECK_EVENTS(d, 0, 1, levels - 3, 0, 0);

	e = sim_cpu_events(sim, 0);
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), TH_OK);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 1, false)), TH_OK);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 2, false)), TH_OK);
	d = since(sim, &e);
	CHECK_EVENTS(d, 1, 2, 2 * levels, 0, 0);
	sim_destroy_bare(sim);
}

/* With PCIDs: a CR3 write with bit 63 keeps the TLB (no flush), INVPCID
 * type 0 is one page, types 1-3 are flushes, and so is a CR4.PGE toggle. */
static void test_pcid_and_cr4(void)
{
	struct sim *sim = machine(4, true);
	mmu_pa_t root = th_root_on_all(sim);
	map_k(sim, root);
	read_k(sim);
	struct sim_events e = sim_cpu_events(sim, 0);
	sim_write_cr3(sim, 0, mmu_pa_bits(root) | SIM_CR3_NOFLUSH);
	struct sim_events d = since(sim, &e);
	CHECK_EVENTS(d, 0, 0, 0, 0, 0);

	e = sim_cpu_events(sim, 0);
	sim_invpcid(sim, 0, 0, 0, VA);
	d = since(sim, &e);
	CHECK_EVENTS(d, 0, 0, 0, 1, 0);

	e = sim_cpu_events(sim, 0);
	for (unsigned type = 1; type <= 3; type++)
		sim_invpcid(sim, 0, type, 0, 0);
	d = since(sim, &e);
	CHECK_EVENTS(d, 0, 0, 0, 0, 3);

	uint64_t cr4 = sim_cpu_regs(sim, 0).cr4;
	e = sim_cpu_events(sim, 0);
	sim_write_cr4(sim, 0, cr4);               /* no change: no flush */
	sim_write_cr4(sim, 0, cr4 ^ SIM_CR4_PGE); /* PGE toggled: flushes */
	d = since(sim, &e);
	CHECK_EVENTS(d, 0, 0, 0, 0, 1);
	sim_destroy_bare(sim);
}

/* The library reaches the same counters through the port. */
static void test_port_ops(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 1;
	cfg.mem = 16ull << 20;
	struct sim *sim = sim_create(&cfg);
	CHECK(sim != NULL);
	if (!sim)
		return;
	struct mmu *mmu = sim_mmu(sim);
	const struct mmu_port_ops *ops = mmu->port.ops;
	struct sim_events e = sim_cpu_events(sim, 0);
	ops->invlpg(mmu->port.ctx, VA);
	ops->flush_tlb(mmu->port.ctx, MMU_FLUSH_NON_GLOBAL);
	ops->flush_tlb(mmu->port.ctx, MMU_FLUSH_WITH_GLOBAL);
	ops->write_cr3(mmu->port.ctx, sim_cpu_regs(sim, 0).cr3);
	struct sim_events d = since(sim, &e);
	CHECK_EVENTS(d, 0, 0, 0, 1, 3);
	sim_destroy(sim);
}

static void test_cost_is_weighted_sum(void)
{
	const struct sim_cost_model m = {.hit = 2, .walk_read = 3, .invlpg = 5, .flush = 7};
	const struct sim_events d = {.tlb_hits = 1, .tlb_misses = 100, .walk_reads = 3, .invlpgs = 4, .flushes = 5};
	/* Misses are priced by the entries their walks read, not again. */
	CHECK(sim_cost_cycles(&m, &d) == 2 * 1 + 3 * 3 + 5 * 4 + 7 * 5);
	const struct sim_events none = {0};
	CHECK(sim_cost_cycles(&m, &none) == 0);

	struct sim_cost_model def = sim_cost_model_default();
	CHECK(def.hit > 0 && def.walk_read > 0 && def.invlpg > 0 && def.flush > 0);
	CHECK(sim_cost_cycles(&def, &d) ==
	      def.hit * 1 + def.walk_read * 3 + def.invlpg * 4 + def.flush * 5);
}

int test_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	test_walks_hits_reload(4);
	test_walks_hits_reload(5);
	test_invlpg();
	test_fault_and_dirty_walks(4);
	test_fault_and_dirty_walks(5);
	test_pcid_and_cr4();
	test_port_ops();
	test_cost_is_weighted_sum();
	return 0;
}
