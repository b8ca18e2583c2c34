/* SPDX-License-Identifier: MIT */
/* The machine with its mmu64 instance: the only file of sim/ that calls
 * the library, so the machine's own tests link without it. */
#include "sim/internal.h"

static void library_ipi_handler(struct sim *sim, void *ctx)
{
	(void)ctx;
	mmu_tlb_ipi_handler(&sim->mmu);
}

struct sim *sim_create(const struct sim_config *cfg)
{
	struct sim *sim = sim_create_bare(cfg);
	if (!sim)
		return NULL;
	sim_set_ipi_handler(sim, library_ipi_handler, NULL);
	struct mmu_config mc = {
		.levels = cfg->levels, .ncpus = cfg->ncpus, .nx = cfg->nx, .flush_ceiling = cfg->flush_ceiling,
		.pcid = cfg->pcide, .invpcid = cfg->pcide && !cfg->no_invpcid, .maxphyaddr = cfg->maxphyaddr,
		.page_1g = true, /* the machine's walker implements 1G leaves (PS in a PDPTE) */
	};
	if (mmu_init(&sim->mmu, &sim->port, &mc) != MMU_OK) {
		sim_destroy_bare(sim);
		return NULL;
	}
	sim->mmu_ready = true;
	for (unsigned i = 0; i < cfg->ncpus; i++) {
		sim_set_cpu(sim, i);
		mmu_tree_load(mmu_kernel_tree(&sim->mmu));
	}
	sim_set_cpu(sim, 0);
	return sim;
}

void sim_destroy(struct sim *sim)
{
	if (!sim)
		return;
	if (sim->mmu_ready) {
		/* The kernel tables go back while CR3 still points at them: with
		 * empty TLBs that is no sanitizer report. */
		sim_ipi_drain(sim);
		sim_flush_all_tlbs(sim);
		sim_set_cpu(sim, 0);
		mmu_fini(&sim->mmu);
	}
	sim_destroy_bare(sim);
}
