/* SPDX-License-Identifier: MIT */
/* A read-only view of the software machine's TLBs and IPIs, for tools that
 * show them (the `tlb` vector command, mmu64 view). */
#ifndef MMU64_SIM_TLBVIEW_H
#define MMU64_SIM_TLBVIEW_H

#include "sim/sim.h"

struct sim_tlb_view {
	mmu_vaddr_t va;
	uint64_t pa;
	enum mmu_size size;
	unsigned pcid, pkey; /* pcid: 0 without CR4.PCIDE */
	bool w, u, xd, global, dirty;
};
typedef void (*sim_tlb_view_fn)(void *ctx, const struct sim_tlb_view *e);

/* Every translation CPU's TLB caches, in no order (FN runs with the TLB's
 * lock held: it must not call into the machine). */
void sim_tlb_list(struct sim *sim, unsigned cpu, sim_tlb_view_fn fn, void *ctx);
/* Shootdown IPIs CPU has taken since the machine was created. */
uint64_t sim_cpu_ipis_taken(const struct sim *sim, unsigned cpu);

#endif
