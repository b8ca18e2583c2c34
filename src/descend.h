/* SPDX-License-Identifier: MIT */
/* The walker's single-address form (the range walk is src/walk.c's): the
 * descent of the single-page calls. Written once, inlined where a
 * constant form of it is wanted: src/walk.c instantiates pt_path_find
 * (from the root, recording the path, for a change's slow path) and
 * src/page.c's walk inlines the form that starts at the cached page
 * directory. Included after src/internal.h. */
#ifndef MMU64_DESCEND_H
#define MMU64_DESCEND_H

/* Always inlined in an optimized build (each use is a constant form); not
 * at -O0, where inlined bodies keep their own stack slots. */
#ifdef __OPTIMIZE__
#define DESCEND_INLINE static inline __attribute__((always_inline))
#else
#define DESCEND_INLINE static inline
#endif

/* Where a descent is: the state its steps pass down. */
struct descent {
	mmu_pa_t table;     /* the table the step reads (0 when entered from the cache) */
	mmu_pte_t *entries; /* its entries */
	mmu_pte_t *e;       /* the entry the last step read */
	enum mmu_level level;
	uint64_t upper;     /* what the levels above E allow */
	uint8_t *direct_map; /* the port's, or NULL: ask it for each table */
};

/* One level of the descent, LEVEL a constant: read VA's entry in D's
 * table and go on below it if it is a table (false: the descent ends). */
DESCEND_INLINE bool descend_step(struct mmu *mmu, struct descent *d, mmu_vaddr_t va, struct pt_path *p,
				  enum mmu_level level)
{
	d->e = &d->entries[mmu_va_index(va, level)];
	d->level = level;
	if (p) {
		p->table[level] = d->table;
		p->entry[level] = d->e;
	}
	mmu_pte_t v = pte_load(d->e);
	if (!pt_entry_goes_on(v, level))
		return false;
	d->upper = entry_fold(d->upper, v);
	d->table = mmu_pa(v & MMU_PTE_ADDR_MASK);
	d->entries = d->direct_map ? (mmu_pte_t *)(d->direct_map + d->table.bits) : table_of(mmu, d->table);
	return true;
}

/* The walker's single-address form, one body for all of its uses:
 * follow VA (in TREE's own half) down to the first entry that is not a
 * table (a hole, a leaf) or to its page-table entry, a few instructions a
 * level and no visitor, and cache the page directory or page table that
 * holds the entry it ends at (the table the next single-page call at VA
 * wants). With P, it starts at the root and records every table and entry
 * on the way (a change's slow path: it may allocate or release tables
 * along the path); without, it starts at the cached page directory when
 * that covers VA (a walk). Returns the entry it ends at, with its level
 * and what the levels above allow. Writes nothing else. */
DESCEND_INLINE mmu_pte_t *descend_from(struct mmu_tree *tree, mmu_vaddr_t va, struct pt_path *p,
				       enum mmu_level *level, uint64_t *upper, uint8_t *direct_map)
{
	struct mmu *mmu = tree->mmu;
	struct descent d = {.table = tree->root, .upper = ENTRY_UPPER_ALL, .direct_map = direct_map};
	const struct mmu_leaf_cache *pd = pt_cache(tree, MMU_LEVEL_PD);
	bool from_pd = !p && pt_cache_lookup(tree, MMU_LEVEL_PD, va);
	if (from_pd) {
		d = (struct descent){.entries = pd->entries, .upper = pd->upper, .direct_map = direct_map};
	} else {
		d.entries = table_of(mmu, d.table);
		if (mmu->levels == 5 && !descend_step(mmu, &d, va, p, MMU_LEVEL_PML5))
			goto end;
		if (!descend_step(mmu, &d, va, p, MMU_LEVEL_PML4) || !descend_step(mmu, &d, va, p, MMU_LEVEL_PDPT))
			goto end;
	}
	if (descend_step(mmu, &d, va, p, MMU_LEVEL_PD))
		descend_step(mmu, &d, va, p, MMU_LEVEL_PT);
end:
	if (d.level <= MMU_CACHED_LEVELS && !(from_pd && d.level == MMU_LEVEL_PD))
		pt_cache_set(tree, d.level, d.table, d.entries, va, d.upper);
	if (p)
		p->level = d.level;
	*level = d.level;
	*upper = d.upper;
	return d.e;
}

/* The descent above, in one form for a port with a direct map (an add a
 * level) and one for a port without. */
DESCEND_INLINE mmu_pte_t *pt_descend(struct mmu_tree *tree, mmu_vaddr_t va, struct pt_path *p,
				     enum mmu_level *level, uint64_t *upper)
{
	uint8_t *direct_map = tree->mmu->port.direct_map;
	if (direct_map)
		return descend_from(tree, va, p, level, upper, direct_map);
	return descend_from(tree, va, p, level, upper, NULL);
}

#endif
