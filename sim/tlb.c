/* SPDX-License-Identifier: MIT */
/* One CPU's TLB: unbounded, tagged by PCID, with global entries.
 *
 * Entries live in a pool; INDEX maps (tag, page, size) to a pool slot, the
 * tag being the PCID or SIM_TLB_GLOBAL_TAG for global entries (which match
 * every PCID). REFS counts, for the sanitizer, the entries that point at
 * each data frame (key: frame base | size) or walked through each table
 * page (key: table PA), plus a per-gigabyte summary so that freeing a frame
 * nobody caches costs one lookup. Paging-structure caches are not
 * modelled: only final translations are cached.
 *
 * Every function but init/fini runs with the TLB's lock held. */
#include <stdlib.h>
#include <string.h>

#include "sim/internal.h"

#define REF_TABLE 0u          /* low bits of a table-page key */
#define REF_GIGA_SUMMARY 0x800u /* low bits of a per-gigabyte summary key */
#define GIGA (1ull << 30)

void sim_tlb_init(struct sim_tlb *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	sim_u64map_init(&t->index);
	sim_u64map_init(&t->refs);
}

void sim_tlb_fini(struct sim_tlb *t)
{
	sim_u64map_fini(&t->index);
	sim_u64map_fini(&t->refs);
	free(t->pool);
	free(t->free_slots);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}

/* (tag, page, size) in 64 bits: VA bits 56:12 (45 bits), 13 tag bits, 2
 * size bits. The top bits stay clear, so no key is SIM_U64MAP_NONE. */
static uint64_t index_key(unsigned tag, mmu_vaddr_t va_base, enum mmu_size size)
{
	uint64_t page = (va_base >> MMU_PAGE_SHIFT) & ((1ull << 45) - 1);
	return page << 15 | (uint64_t)(tag & 0x1fff) << 2 | (uint64_t)size;
}

static unsigned entry_tag(const struct sim_tlb_entry *e) { return e->global ? SIM_TLB_GLOBAL_TAG : e->pcid; }

static uint64_t frame_key(uint64_t pa_base, enum mmu_size size) { return pa_base | (uint64_t)size; }

static void count_refs(struct sim_tlb *t, const struct sim_tlb_entry *e, int64_t delta)
{
	sim_u64map_add(&t->refs, frame_key(e->pa_base, (enum mmu_size)e->size), delta);
	sim_u64map_add(&t->refs, (e->pa_base & ~(GIGA - 1)) | REF_GIGA_SUMMARY, delta);
	for (unsigned i = 0; i < e->ntables; i++)
		sim_u64map_add(&t->refs, ((uint64_t)e->table[i] << MMU_PAGE_SHIFT) | REF_TABLE, delta);
}

static uint32_t take_slot(struct sim_tlb *t)
{
	if (t->nfree > 0)
		return t->free_slots[--t->nfree];
	if (t->pool_len == t->pool_cap) {
		t->pool_cap = t->pool_cap ? t->pool_cap * 2 : 64;
		t->pool = realloc(t->pool, t->pool_cap * sizeof(*t->pool));
		t->free_slots = realloc(t->free_slots, t->pool_cap * sizeof(*t->free_slots));
		if (!t->pool || !t->free_slots)
			sim_die("tlb: out of host memory for %zu entries", t->pool_cap);
	}
	return (uint32_t)t->pool_len++;
}

static void remove_slot(struct sim_tlb *t, uint32_t slot)
{
	struct sim_tlb_entry *e = &t->pool[slot];
	sim_u64map_remove(&t->index, index_key(entry_tag(e), e->va_base, (enum mmu_size)e->size));
	count_refs(t, e, -1);
	e->in_use = false;
	t->free_slots[t->nfree++] = slot;
	atomic_fetch_sub_explicit(&t->count, 1, memory_order_relaxed);
}

static bool remove_key(struct sim_tlb *t, uint64_t key)
{
	uint64_t slot;
	if (!sim_u64map_get(&t->index, key, &slot))
		return false;
	remove_slot(t, (uint32_t)slot);
	return true;
}

void sim_tlb_insert(struct sim_tlb *t, const struct sim_tlb_entry *e)
{
	uint64_t key = index_key(entry_tag(e), e->va_base, (enum mmu_size)e->size);
	remove_key(t, key); /* a fresh walk replaces what was cached */
	uint32_t slot = take_slot(t);
	t->pool[slot] = *e;
	t->pool[slot].in_use = true;
	sim_u64map_put(&t->index, key, slot);
	count_refs(t, e, +1);
	atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
}

static const enum mmu_size sizes[] = {MMU_SIZE_4K, MMU_SIZE_2M, MMU_SIZE_1G};

static bool lookup_tag(const struct sim_tlb *t, unsigned tag, mmu_vaddr_t va, struct sim_tlb_entry *out)
{
	for (unsigned i = 0; i < 3; i++) {
		uint64_t slot, base = va & ~(mmu_size_bytes(sizes[i]) - 1);
		if (sim_u64map_get(&t->index, index_key(tag, base, sizes[i]), &slot)) {
			*out = t->pool[slot];
			return true;
		}
	}
	return false;
}

bool sim_tlb_lookup(const struct sim_tlb *t, unsigned pcid, mmu_vaddr_t va, struct sim_tlb_entry *out)
{
	/* Where several entries match (a page changed size without an
	 * invalidation), any may be used; we prefer the PCID's, smallest first. */
	return lookup_tag(t, pcid, va, out) || lookup_tag(t, SIM_TLB_GLOBAL_TAG, va, out);
}

void sim_tlb_drop_page(struct sim_tlb *t, unsigned pcid, mmu_vaddr_t va, bool with_globals)
{
	for (unsigned i = 0; i < 3; i++) {
		mmu_vaddr_t base = va & ~(mmu_size_bytes(sizes[i]) - 1);
		remove_key(t, index_key(pcid, base, sizes[i]));
		if (with_globals)
			remove_key(t, index_key(SIM_TLB_GLOBAL_TAG, base, sizes[i]));
	}
}

static bool in_scope(const struct sim_tlb_entry *e, enum sim_tlb_scope scope, unsigned pcid)
{
	switch (scope) {
	case SIM_TLB_ONE_PCID:
		return !e->global && e->pcid == pcid;
	case SIM_TLB_NON_GLOBAL:
		return !e->global;
	case SIM_TLB_EVERYTHING:
		return true;
	}
	return false;
}

void sim_tlb_flush(struct sim_tlb *t, enum sim_tlb_scope scope, unsigned pcid)
{
	if (scope == SIM_TLB_EVERYTHING) {
		sim_u64map_clear(&t->index);
		sim_u64map_clear(&t->refs);
		t->pool_len = t->nfree = 0;
		atomic_store_explicit(&t->count, 0, memory_order_relaxed);
		return;
	}
	for (size_t i = 0; i < t->pool_len; i++)
		if (t->pool[i].in_use && in_scope(&t->pool[i], scope, pcid))
			remove_slot(t, (uint32_t)i);
	if (atomic_load_explicit(&t->count, memory_order_relaxed) == 0)
		t->pool_len = t->nfree = 0; /* later flushes scan nothing */
}

static bool overlaps(const struct sim_tlb_entry *e, uint64_t pa, uint64_t bytes)
{
	return e->pa_base < pa + bytes && pa < e->pa_base + mmu_size_bytes((enum mmu_size)e->size);
}

/* The first entry overlapping [PA, PA+BYTES), by scanning (reports only). */
static bool find_overlap(const struct sim_tlb *t, uint64_t pa, uint64_t bytes, struct sim_tlb_entry *who)
{
	for (size_t i = 0; i < t->pool_len; i++) {
		if (t->pool[i].in_use && overlaps(&t->pool[i], pa, bytes)) {
			*who = t->pool[i];
			return true;
		}
	}
	return false;
}

bool sim_tlb_find_frame(const struct sim_tlb *t, mmu_pa_t pa, enum mmu_size size, struct sim_tlb_entry *who)
{
	uint64_t base = mmu_pa_bits(pa), bytes = mmu_size_bytes(size);
	if (!sim_u64map_get(&t->refs, (base & ~(GIGA - 1)) | REF_GIGA_SUMMARY, NULL))
		return false;
	/* Entries of each size whose frame overlaps: the enclosing frame of a
	 * larger size, or every frame of a smaller size inside. */
	bool hit = false;
	for (unsigned i = 0; i < 3 && !hit; i++) {
		uint64_t step = mmu_size_bytes(sizes[i]);
		if (step >= bytes)
			hit = sim_u64map_get(&t->refs, frame_key(base & ~(step - 1), sizes[i]), NULL);
		for (uint64_t off = 0; step < bytes && off < bytes && !hit; off += step)
			hit = sim_u64map_get(&t->refs, frame_key(base + off, sizes[i]), NULL);
	}
	return hit && find_overlap(t, base, bytes, who);
}

bool sim_tlb_find_table(const struct sim_tlb *t, mmu_pa_t pa, struct sim_tlb_entry *who)
{
	uint32_t frame = (uint32_t)(mmu_pa_bits(pa) >> MMU_PAGE_SHIFT);
	if (!sim_u64map_get(&t->refs, mmu_pa_bits(pa) | REF_TABLE, NULL))
		return false;
	for (size_t i = 0; i < t->pool_len; i++) {
		const struct sim_tlb_entry *e = &t->pool[i];
		for (unsigned k = 0; e->in_use && k < e->ntables; k++) {
			if (e->table[k] == frame) {
				*who = *e;
				return true;
			}
		}
	}
	return false;
}

void sim_tlb_for_each(const struct sim_tlb *t, sim_tlb_visit_fn fn, void *ctx)
{
	for (size_t i = 0; i < t->pool_len; i++)
		if (t->pool[i].in_use)
			fn(ctx, &t->pool[i]);
}
