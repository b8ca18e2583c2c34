/* SPDX-License-Identifier: MIT */
/* The read-only TLB view of sim/tlbview.h. */
#include "sim/tlbview.h"

#include "sim/internal.h"

struct list_ctx {
	sim_tlb_view_fn fn;
	void *ctx;
};

static void visit(void *arg, const struct sim_tlb_entry *e)
{
	struct list_ctx *l = arg;
	struct sim_tlb_view v = {
		.va = e->va_base, .pa = e->pa_base, .size = (enum mmu_size)e->size, .pcid = e->pcid,
		.pkey = e->pkey, .w = e->w, .u = e->u, .xd = e->xd, .global = e->global, .dirty = e->dirty,
	};
	l->fn(l->ctx, &v);
}

void sim_tlb_list(struct sim *sim, unsigned cpu, sim_tlb_view_fn fn, void *ctx)
{
	struct sim_tlb *t = &sim->cpu[cpu].tlb;
	struct list_ctx l = {fn, ctx};
	pthread_mutex_lock(&t->lock);
	sim_tlb_for_each(t, visit, &l);
	pthread_mutex_unlock(&t->lock);
}

uint64_t sim_cpu_ipis_taken(const struct sim *sim, unsigned cpu) { return sim_ipis_taken(sim, cpu); }
