/* SPDX-License-Identifier: MIT */
/* The mmu64 port of the software machine: every hook acts on the calling
 * thread's current CPU (sim_set_cpu / sim_run_cpus). */
#include <stdio.h>
#include <stdlib.h>

#include "sim/internal.h"

static void port_write_cr3(void *ctx, uint64_t cr3)
{
	struct sim *sim = ctx;
	sim_write_cr3(sim, sim_cpu(sim), cr3);
}

static void port_invlpg(void *ctx, mmu_vaddr_t va)
{
	struct sim *sim = ctx;
	sim_invlpg(sim, sim_cpu(sim), va);
}

/* Non-global entries of every PCID (INVPCID type 3), or everything (type 2,
 * the same as a CR4.PGE toggle). */
static void port_flush_tlb(void *ctx, enum mmu_flush_scope scope)
{
	struct sim *sim = ctx;
	sim_invpcid(sim, sim_cpu(sim), scope == MMU_FLUSH_WITH_GLOBAL ? 2 : 3, 0, 0);
}

static void port_invpcid(void *ctx, unsigned type, unsigned pcid, mmu_vaddr_t va)
{
	struct sim *sim = ctx;
	sim_invpcid(sim, sim_cpu(sim), type, pcid, va);
}

static unsigned port_cpu_id(void *ctx) { return sim_cpu(ctx); }

static void port_send_ipi(void *ctx, unsigned cpu) { sim_ipi_send(ctx, cpu); }

static void port_cpu_relax(void *ctx) { sim_ipi_relax(ctx); }

static mmu_err_t port_frame_alloc(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t *out)
{
	return sim_alloc_frame(ctx, use, size, out);
}

static void port_frame_free(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa)
{
	sim_release_frame(ctx, use, size, pa);
}

static void port_table_free_zeroed(void *ctx, mmu_pa_t pa) { sim_release_table_zeroed(ctx, pa); }

static void *port_phys_to_virt(void *ctx, mmu_pa_t pa)
{
	uint8_t *p = sim_phys(ctx, pa);
	if (!p)
		sim_die("phys_to_virt(0x%llx): outside physical memory", (unsigned long long)mmu_pa_bits(pa));
	return p;
}

static struct mmu_frame_meta *port_frame_meta(void *ctx, mmu_pa_t pa)
{
	struct mmu_frame_meta *m = sim_frame_meta(ctx, pa);
	if (!m)
		sim_die("frame_meta(0x%llx): outside physical memory", (unsigned long long)mmu_pa_bits(pa));
	return m;
}

static void port_panic(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "mmu64 panic: %s\n", msg);
	abort();
}

const struct mmu_port_ops sim_port_ops = {
	.write_cr3 = port_write_cr3,
	.invlpg = port_invlpg,
	.flush_tlb = port_flush_tlb,
	.invpcid = port_invpcid,
	.cpu_id = port_cpu_id,
	.send_ipi = port_send_ipi,
	.cpu_relax = port_cpu_relax,
	.frame_alloc = port_frame_alloc,
	.frame_free = port_frame_free,
	.table_free_zeroed = port_table_free_zeroed,
	.phys_to_virt = port_phys_to_virt,
	.frame_meta = port_frame_meta,
	.panic = port_panic,
};
