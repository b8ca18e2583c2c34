/* SPDX-License-Identifier: MIT */
/* The page walker: CR3 -> (PML5) -> PML4 -> PDPT -> PD -> PT, exactly as
 * the SDM (vol. 3A ch. 4) describes it; docs/PAGING.md lists the rules.
 *
 * This file only translates: it reads entries (atomically, the library
 * writes them with relaxed atomic stores from other threads) and reports
 * what it found, with no side effect, so the TLB sanitizer can re-walk
 * freely. Setting A/D and checking permissions is access.c's business.
 *
 * Reading an entry outside the arena yields 0 (not present): the machine
 * has no memory there. */
#include "sim/internal.h"

void sim_paging_of(const struct sim *sim, const struct sim_cpu *c, struct sim_paging *pg)
{
	pg->root = mmu_pa(c->cr3 & MMU_PTE_ADDR_MASK);
	pg->levels = sim_cpu_levels(c);
	pg->maxphyaddr = sim->cfg.maxphyaddr;
	pg->nxe = (c->efer & SIM_EFER_NXE) != 0;
	pg->pge = (c->cr4 & SIM_CR4_PGE) != 0;
}

static uint64_t *entry_ptr(const struct sim *sim, mmu_pa_t table, unsigned index)
{
	uint64_t pa = mmu_pa_bits(table) + (uint64_t)index * sizeof(uint64_t);
	if (pa >= sim->pm.arena_bytes)
		return NULL;
	return (uint64_t *)(void *)(sim->pm.arena + pa);
}

uint64_t sim_read_entry(const struct sim *sim, mmu_pa_t table, unsigned index)
{
	uint64_t *p = entry_ptr(sim, table, index);
	return p ? __atomic_load_n(p, __ATOMIC_RELAXED) : 0;
}

bool sim_update_entry(struct sim *sim, mmu_pa_t table, unsigned index, uint64_t old, uint64_t new_entry)
{
	uint64_t *p = entry_ptr(sim, table, index);
	if (!p)
		return false;
	return __atomic_compare_exchange_n(p, &old, new_entry, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

static bool is_leaf(uint64_t e, enum mmu_level level)
{
	return level == MMU_LEVEL_PT || ((level == MMU_LEVEL_PD || level == MMU_LEVEL_PDPT) && (e & MMU_PTE_PS));
}

/* Reserved bits of a present entry (SDM 4.5, table 4-15 and following). */
static bool entry_reserved(uint64_t e, enum mmu_level level, const struct sim_paging *pg)
{
	uint64_t above_maxphy = MMU_PTE_ADDR_MASK & ~((1ull << pg->maxphyaddr) - 1);
	if (e & above_maxphy)
		return true;
	if (!pg->nxe && (e & MMU_PTE_XD))
		return true;
	if (level >= MMU_LEVEL_PML4 && (e & MMU_PTE_PS))
		return true;
	if (level != MMU_LEVEL_PT && is_leaf(e, level)) {
		/* A huge leaf's address bits below its size, but for PAT (12). */
		uint64_t low = (mmu_level_span(level) - 1) & MMU_PTE_ADDR_MASK & ~MMU_PTE_PAT_HUGE;
		if (e & low)
			return true;
	}
	return false;
}

static void fill_translation(mmu_vaddr_t va, uint64_t leaf, enum mmu_level level, const struct sim_paging *pg,
			     struct sim_translation *tr)
{
	uint64_t span = mmu_level_span(level);
	tr->va_base = va & ~(span - 1);
	tr->pa_base = leaf & MMU_PTE_ADDR_MASK & ~(span - 1);
	tr->size = (enum mmu_size)level;
	tr->global = pg->pge && (leaf & MMU_PTE_G);
	tr->dirty = (leaf & MMU_PTE_D) != 0;
	tr->pkey = (unsigned)((leaf & MMU_PTE_PK_MASK) >> MMU_PTE_PK_SHIFT);
}

void sim_walk_tables(const struct sim *sim, const struct sim_paging *pg, mmu_vaddr_t va, struct sim_walk *w)
{
	mmu_pa_t table = pg->root;
	bool rw = true, us = true, xd = false;
	w->nsteps = 0;
	for (unsigned l = pg->levels; l >= MMU_LEVEL_PT; l--) {
		enum mmu_level level = (enum mmu_level)l;
		unsigned index = mmu_va_index(va, level);
		uint64_t e = sim_read_entry(sim, table, index);
		w->step[w->nsteps++] = (struct sim_walk_step){table, index, level, e};
		if (!(e & MMU_PTE_P)) {
			w->status = SIM_WALK_NOT_PRESENT;
			return;
		}
		if (entry_reserved(e, level, pg)) {
			w->status = SIM_WALK_RSVD;
			return;
		}
		/* RW and US are ANDed over every level, XD ORed (SDM 4.6.1). */
		rw = rw && (e & MMU_PTE_RW);
		us = us && (e & MMU_PTE_US);
		xd = xd || (pg->nxe && (e & MMU_PTE_XD));
		if (is_leaf(e, level)) {
			fill_translation(va, e, level, pg, &w->tr);
			w->tr.w = rw;
			w->tr.u = us;
			w->tr.xd = xd;
			w->status = SIM_WALK_OK;
			return;
		}
		table = mmu_pa(e & MMU_PTE_ADDR_MASK);
	}
	sim_die("walk of 0x%llx fell off the PT level", (unsigned long long)va);
}
