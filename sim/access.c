/* SPDX-License-Identifier: MIT */
/* CPU accesses: permission checks (SDM 4.6), A/D updates (SDM 4.8), the
 * #PF error code (SDM 4.7), and the TLB in front of the walker.
 *
 * TLB policy, the worst case the SDM allows: every successful translation
 * is cached and kept until invalidated; a hit that allows the access is
 * used without looking at the tables; a hit that does not allow it faults
 * from the TLB (P=1) and drops the page's entries; a write through an entry
 * cached with D=0 walks again, which sets D. */
#include "sim/internal.h"

uint32_t sim_fault_base(const struct sim_cpu *c, const struct sim_request *req)
{
	uint32_t code = 0;
	if (req->kind == SIM_WRITE)
		code |= SIM_PF_W;
	if (req->user)
		code |= SIM_PF_U;
	/* I/D is reported only when fetches can be refused at all. */
	if (req->kind == SIM_EXEC && ((c->cr4 & SIM_CR4_SMEP) || (c->efer & SIM_EFER_NXE)))
		code |= SIM_PF_ID;
	return code;
}

/* Protection keys (SDM 4.6.2): data accesses to user pages with CR4.PKE. */
static bool pkey_denies(const struct sim_cpu *c, const struct sim_translation *tr, const struct sim_request *req)
{
	if (req->kind == SIM_EXEC || !(c->cr4 & SIM_CR4_PKE) || !tr->u)
		return false;
	bool ad = (c->pkru >> (2 * tr->pkey)) & 1;
	bool wd = (c->pkru >> (2 * tr->pkey + 1)) & 1;
	bool wp = (c->cr0 & SIM_CR0_WP) != 0;
	return ad || (wd && req->kind == SIM_WRITE && (req->user || wp));
}

/* The paging permissions alone (no keys). */
static bool paging_allows(const struct sim_cpu *c, const struct sim_translation *tr, const struct sim_request *req)
{
	bool write = req->kind == SIM_WRITE, fetch = req->kind == SIM_EXEC;
	if (req->user)
		return tr->u && !(write && !tr->w) && !(fetch && tr->xd);
	if (fetch)
		return !tr->xd && !((c->cr4 & SIM_CR4_SMEP) && tr->u);
	if ((c->cr4 & SIM_CR4_SMAP) && tr->u && !req->ac)
		return false;
	return !(write && !tr->w && (c->cr0 & SIM_CR0_WP));
}

uint32_t sim_check_permission(const struct sim_cpu *c, const struct sim_translation *tr,
			      const struct sim_request *req)
{
	/* PK is set whenever the key denies, whatever else also denies. */
	bool pk = pkey_denies(c, tr, req);
	if (paging_allows(c, tr, req) && !pk)
		return 0;
	return sim_fault_base(c, req) | SIM_PF_P | (pk ? SIM_PF_PK : 0);
}

/* A in every entry the walk went through (not the last one read, which is
 * the leaf or the entry that ended the walk). False when an entry changed
 * under us: the walk must restart. */
static bool set_accessed_on_path(struct sim *sim, const struct sim_walk *w)
{
	for (unsigned i = 0; i + 1 < w->nsteps; i++) {
		const struct sim_walk_step *s = &w->step[i];
		if (!(s->entry & MMU_PTE_A) && !sim_update_entry(sim, s->table, s->index, s->entry, s->entry | MMU_PTE_A))
			return false;
	}
	return true;
}

static bool set_leaf_accessed_dirty(struct sim *sim, const struct sim_walk *w, bool write)
{
	const struct sim_walk_step *s = &w->step[w->nsteps - 1];
	uint64_t want = s->entry | MMU_PTE_A | (write ? MMU_PTE_D : 0);
	return want == s->entry || sim_update_entry(sim, s->table, s->index, s->entry, want);
}

bool sim_walk_for_access(struct sim *sim, struct sim_cpu *c, mmu_vaddr_t va, const struct sim_request *req,
			 struct sim_walk *w, uint32_t *error_code)
{
	struct sim_paging pg;
	sim_paging_of(sim, c, &pg);
	c->events.tlb_misses++;
	for (;;) {
		sim_walk_tables(sim, &pg, va, w);
		/* A restarted walk read its entries again. */
		c->events.walk_reads += w->nsteps;
		if (!set_accessed_on_path(sim, w))
			continue;
		if (w->status == SIM_WALK_NOT_PRESENT) {
			*error_code = sim_fault_base(c, req);
			return false;
		}
		if (w->status == SIM_WALK_RSVD) {
			/* The SDM reports RSVD with P=1 (QEMU 7.2 does not). */
			*error_code = sim_fault_base(c, req) | SIM_PF_P | SIM_PF_RSVD;
			return false;
		}
		*error_code = sim_check_permission(c, &w->tr, req);
		if (*error_code)
			return false;
		if (!set_leaf_accessed_dirty(sim, w, req->kind == SIM_WRITE))
			continue;
		if (req->kind == SIM_WRITE)
			w->tr.dirty = true;
		return true;
	}
}

/* A global entry outlives the CR3 it was walked from: the root's
 * paging-structure-cache entries are tied to the PCID and go with the next
 * CR3 write, while the translation stays. So a global entry depends on the
 * tables below the root only, and freeing a root that the CPU has left is
 * not a use after free (a kernel-half page is reached from every root). */
static struct sim_tlb_entry entry_of_walk(const struct sim_walk *w, unsigned pcid)
{
	unsigned first = w->tr.global && w->nsteps > 0 ? 1 : 0;
	struct sim_tlb_entry e = {
		.va_base = w->tr.va_base, .pa_base = w->tr.pa_base, .pcid = (uint16_t)pcid,
		.size = (uint8_t)w->tr.size, .ntables = (uint8_t)(w->nsteps - first), .pkey = (uint8_t)w->tr.pkey,
		.w = w->tr.w, .u = w->tr.u, .xd = w->tr.xd, .global = w->tr.global, .dirty = w->tr.dirty,
	};
	for (unsigned i = first; i < w->nsteps; i++)
		e.table[i - first] = (uint32_t)(mmu_pa_bits(w->step[i].table) >> MMU_PAGE_SHIFT);
	return e;
}

struct sim_translation sim_tlb_entry_translation(const struct sim_tlb_entry *e)
{
	return (struct sim_translation){
		.va_base = e->va_base, .pa_base = e->pa_base, .size = (enum mmu_size)e->size, .w = e->w,
		.u = e->u, .xd = e->xd, .global = e->global, .dirty = e->dirty, .pkey = e->pkey,
	};
}

/* VA to a physical address for REQ on CPU, through the TLB. C's TLB lock
 * held. False with the error code when the access faults. */
static bool translate(struct sim *sim, unsigned cpu, mmu_vaddr_t va, const struct sim_request *req, uint64_t *pa,
		      uint32_t *error_code)
{
	struct sim_cpu *c = &sim->cpu[cpu];
	unsigned pcid = sim_cpu_pcid(c);
	struct sim_tlb_entry e;
	if (sim_tlb_lookup(&c->tlb, pcid, va, &e)) {
		struct sim_translation tr = sim_tlb_entry_translation(&e);
		*error_code = sim_check_permission(c, &tr, req);
		bool rewalk = !*error_code && req->kind == SIM_WRITE && !e.dirty;
		if (!rewalk) {
			c->events.tlb_hits++;
			sim_tlbsan_check_hit(sim, cpu, &e, va, req);
			if (*error_code) {
				sim_tlb_drop_page(&c->tlb, pcid, va, true);
				return false;
			}
			*pa = e.pa_base + (va - e.va_base);
			return true;
		}
	}
	struct sim_walk w;
	if (!sim_walk_for_access(sim, c, va, req, &w, error_code)) {
		sim_tlb_drop_page(&c->tlb, pcid, va, true);
		return false;
	}
	sim_tlbsan_check_walk(sim, cpu, va, &w, req);
	e = entry_of_walk(&w, pcid);
	sim_tlb_insert(&c->tlb, &e);
	*pa = w.tr.pa_base + (va - w.tr.va_base);
	return true;
}

/* The memory side of an access; outside the arena reads 0xff (no memory
 * answers) and writes go nowhere. */
static void touch_memory(struct sim *sim, uint64_t pa, const struct sim_request *req, uint8_t byte,
			 struct sim_access *r)
{
	uint8_t *p = pa < sim->pm.arena_bytes ? sim->pm.arena + pa : NULL;
	if (req->kind == SIM_WRITE) {
		if (p)
			__atomic_store_n(p, byte, __ATOMIC_RELAXED);
		return;
	}
	r->byte = p ? __atomic_load_n(p, __ATOMIC_RELAXED) : 0xff;
}

struct sim_access sim_access(struct sim *sim, unsigned cpu, enum sim_access_kind kind, mmu_vaddr_t va, bool user,
			     bool ac, uint8_t byte)
{
	if (cpu >= sim->cfg.ncpus)
		sim_die("access on cpu %u of %u", cpu, sim->cfg.ncpus);
	struct sim_access r = {.outcome = SIM_OK};
	struct sim_request req = {kind, user, ac};
	struct sim_cpu *c = &sim->cpu[cpu];
	pthread_mutex_lock(&c->tlb.lock);
	uint64_t pa;
	if (!mmu_va_canonical(va, sim_cpu_levels(c))) {
		r.outcome = SIM_GP;
	} else if (translate(sim, cpu, va, &req, &pa, &r.error_code)) {
		/* Under the TLB lock: a frame freed meanwhile is seen by the
		 * sanitizer's free check or not at all. */
		touch_memory(sim, pa, &req, byte, &r);
	} else {
		r.outcome = SIM_PF;
		r.cr2 = va;
	}
	pthread_mutex_unlock(&c->tlb.lock);
	return r;
}
