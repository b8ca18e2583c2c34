/* SPDX-License-Identifier: MIT */
/* The bare machine: configuration, memory and CPUs, no mmu64 instance yet
 * (sim.c adds that). Unit tests of the machine itself use it directly. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/internal.h"

void sim_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

void sim_config_default(struct sim_config *cfg)
{
	*cfg = (struct sim_config){
		.levels = 4, .ncpus = 2, .mem = 2ull << 30, .nx = true, .smep = true, .smap = true, .wp = true,
		.pke = false, .pge = true, .pcide = false, .maxphyaddr = 46, .flush_ceiling = 0, .threaded = false,
	};
}

static bool config_valid(const struct sim_config *cfg)
{
	if (cfg->levels != 4 && cfg->levels != 5)
		return false;
	if (cfg->ncpus < 1 || cfg->ncpus > MMU_MAX_CPUS)
		return false;
	if (cfg->maxphyaddr < 32 || cfg->maxphyaddr > MMU_PA_MAX_BITS || cfg->mem > SIM_MEM_MAX)
		return false;
	/* The whole arena must be addressable by page-table entries. */
	return SIM_DATA_BASE + cfg->mem <= (1ull << cfg->maxphyaddr);
}

static void init_cpu(struct sim_cpu *c, const struct sim_config *cfg)
{
	c->cr0 = SIM_CR0_PE | SIM_CR0_PG | (cfg->wp ? SIM_CR0_WP : 0);
	c->cr4 = SIM_CR4_PAE | (cfg->levels == 5 ? SIM_CR4_LA57 : 0) | (cfg->smep ? SIM_CR4_SMEP : 0) |
		 (cfg->smap ? SIM_CR4_SMAP : 0) | (cfg->pke ? SIM_CR4_PKE : 0) | (cfg->pge ? SIM_CR4_PGE : 0) |
		 (cfg->pcide ? SIM_CR4_PCIDE : 0);
	c->efer = SIM_EFER_LME | SIM_EFER_LMA | (cfg->nx ? SIM_EFER_NXE : 0);
	c->cr3 = 0;
	c->pkru = 0;
	c->events = (struct sim_events){0};
	sim_tlb_init(&c->tlb);
	atomic_init(&c->ipi_pending, false);
	atomic_init(&c->running, false);
	atomic_flag_clear(&c->ipi_handling);
	atomic_init(&c->ipis_taken, 0);
}

struct sim *sim_create_bare(const struct sim_config *cfg)
{
	static atomic_uint_fast64_t next_id = 1;
	if (!config_valid(cfg))
		return NULL;
	struct sim *sim = calloc(1, sizeof(*sim));
	if (!sim)
		return NULL;
	sim->cfg = *cfg;
	sim->id = atomic_fetch_add(&next_id, 1);
	if (!sim_physmem_init(&sim->pm, cfg->mem)) {
		free(sim);
		return NULL;
	}
	for (unsigned i = 0; i < cfg->ncpus; i++)
		init_cpu(&sim->cpu[i], cfg);
	pthread_mutex_init(&sim->ipiq.lock, NULL);
	pthread_mutex_init(&sim->tlbsan_lock, NULL);
	atomic_init(&sim->threads_running, false);
	atomic_init(&sim->tlbsan_reports, 0);
	/* The arena and the metadata are linear: the library may index them
	 * directly instead of calling phys_to_virt and frame_meta. */
	sim->port = (struct mmu_port){
		.ops = &sim_port_ops, .ctx = sim, .direct_map = sim->pm.arena, .meta_map = sim->pm.meta,
	};
	sim_set_cpu(sim, 0);
	return sim;
}

void sim_destroy_bare(struct sim *sim)
{
	if (!sim)
		return;
	for (unsigned i = 0; i < sim->cfg.ncpus; i++)
		sim_tlb_fini(&sim->cpu[i].tlb);
	sim_physmem_fini(&sim->pm);
	pthread_mutex_destroy(&sim->ipiq.lock);
	pthread_mutex_destroy(&sim->tlbsan_lock);
	free(sim);
}

struct mmu *sim_mmu(struct sim *sim) { return &sim->mmu; }

const struct sim_config *sim_config(const struct sim *sim) { return &sim->cfg; }

uint8_t *sim_phys(struct sim *sim, mmu_pa_t pa)
{
	return mmu_pa_bits(pa) < sim->pm.arena_bytes ? sim->pm.arena + mmu_pa_bits(pa) : NULL;
}

struct mmu_frame_meta *sim_frame_meta(struct sim *sim, mmu_pa_t pa)
{
	if (mmu_pa_bits(pa) >= sim->pm.arena_bytes)
		return NULL;
	return &sim->pm.meta[mmu_pa_bits(pa) >> MMU_PAGE_SHIFT];
}
