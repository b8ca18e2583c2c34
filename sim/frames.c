/* SPDX-License-Identifier: MIT */
/* Frame allocation as the port and the machine's users see it: argument
 * checks, the failure-injection controls (the allocators in physmem.c
 * apply them), counting, and the sanitizer's check before every free. */
#include "sim/internal.h"

static void check_use(enum mmu_frame_use use)
{
	if (use != MMU_FRAME_TABLE && use != MMU_FRAME_DATA)
		sim_die("frame use %u is neither TABLE nor DATA", (unsigned)use);
}

/* 4K first: every table and most data frames are, and then one compare
 * is the whole check. */
static void check_size(enum mmu_frame_use use, enum mmu_size size)
{
	if (size == MMU_SIZE_4K)
		return;
	if (size != MMU_SIZE_2M && size != MMU_SIZE_1G)
		sim_die("frame size %u is not 4K, 2M or 1G", (unsigned)size);
	if (use == MMU_FRAME_TABLE)
		sim_die("table pages are 4K, not size %u", (unsigned)size);
}

mmu_err_t sim_alloc_frame(struct sim *sim, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t *out)
{
	check_use(use);
	check_size(use, size);
	if (use == MMU_FRAME_TABLE)
		return sim_table_alloc(&sim->pm, out);
	return sim_data_alloc(&sim->pm, size, out);
}

void sim_release_frame(struct sim *sim, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa)
{
	check_use(use);
	check_size(use, size);
	sim_tlbsan_check_free(sim, use, size, pa);
	if (use == MMU_FRAME_TABLE)
		sim_table_free(&sim->pm, pa, false);
	else if (!sim_data_free(&sim->pm, size, pa))
		sim_die("free of data frame 0x%llx size %u: not an allocated frame of that size",
			(unsigned long long)mmu_pa_bits(pa), (unsigned)size);
}

/* The first non-zero 8 bytes of the 4K page at P, or NULL. Read as the
 * machine's walkers read entries (relaxed atomic loads): once the page
 * is handed out again, another CPU's walk may set A in it. */
static const uint64_t *first_nonzero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;
	for (unsigned i = 0; i < MMU_PAGE_SIZE / sizeof(*q); i++)
		if (__atomic_load_n(&q[i], __ATOMIC_RELAXED))
			return &q[i];
	return NULL;
}

/* The promise of table_free_zeroed, checked as a kernel built with its
 * invariants would: a page handed out again without clearing it would
 * carry one tree's entries into the next. */
static void check_zeroed(struct sim *sim, mmu_pa_t pa)
{
	const uint8_t *page = sim_phys(sim, pa);
	if (!page)
		sim_die("table free of 0x%llx: outside physical memory", (unsigned long long)mmu_pa_bits(pa));
	const uint64_t *bad = first_nonzero(page);
	if (bad)
		sim_die("table 0x%llx given back as zeroed holds 0x%llx at offset 0x%x",
			(unsigned long long)mmu_pa_bits(pa), (unsigned long long)*bad,
			(unsigned)((const uint8_t *)bad - page));
}

void sim_release_table_zeroed(struct sim *sim, mmu_pa_t pa)
{
	sim_tlbsan_check_free(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, pa);
	if (!sim->cfg.skip_zero_check)
		check_zeroed(sim, pa);
	sim_table_free(&sim->pm, pa, !sim->cfg.clear_every_table);
}

mmu_err_t sim_frame_alloc(struct sim *sim, enum mmu_size size, mmu_pa_t *out)
{
	return sim_alloc_frame(sim, MMU_FRAME_DATA, size, out);
}

void sim_frame_free(struct sim *sim, enum mmu_size size, mmu_pa_t pa)
{
	sim_release_frame(sim, MMU_FRAME_DATA, size, pa);
}

uint64_t sim_frames_in_use(const struct sim *sim)
{
	struct sim_physmem *pm = (struct sim_physmem *)&sim->pm;
	sim_spin_lock(&pm->lock);
	uint64_t n = pm->data_in_use;
	sim_spin_unlock(&pm->lock);
	return n;
}

uint64_t sim_tables_in_use(const struct sim *sim)
{
	struct sim_physmem *pm = (struct sim_physmem *)&sim->pm;
	sim_spin_lock(&pm->lock);
	uint64_t n = pm->tables_in_use;
	sim_spin_unlock(&pm->lock);
	return n;
}

void sim_fail_alloc_after(struct sim *sim, enum mmu_frame_use use, long after)
{
	check_use(use);
	sim_spin_lock(&sim->pm.lock);
	sim->pm.inject[use].remaining = after < 0 ? -1 : after;
	sim_spin_unlock(&sim->pm.lock);
}

uint64_t sim_alloc_count(const struct sim *sim, enum mmu_frame_use use)
{
	check_use(use);
	struct sim_physmem *pm = (struct sim_physmem *)&sim->pm;
	sim_spin_lock(&pm->lock);
	uint64_t n = pm->inject[use].count;
	sim_spin_unlock(&pm->lock);
	return n;
}
