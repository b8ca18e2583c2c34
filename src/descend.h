/* SPDX-License-Identifier: MIT */
/* The walker's single-address form (the range walk is src/walk.c's): the
 * descent of the single-page calls. Written once, inlined where a
 * constant form of it is wanted: src/walk.c instantiates pt_path_find
 * (from the root, recording the path, for a change's slow path) and
 * src/page.c's walk inlines the forms that start at the root or at the
 * cached page directory. Included after src/internal.h. */
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
	mmu_pte_t v;        /* its value */
	uint64_t upper;     /* what the levels above E allow */
};

/* DIRECT: the port has a direct map (DIRECT_MAP) and a metadata array
 * (read where the descent ends, so that it holds no register on the
 * way), and the descent calls nothing; else each table through the
 * port's hooks. FOUR (direct only): the tree has four levels and ROOT
 * is its root's entries (tree->direct_root), so that a descent from the
 * root neither reads the level count nor finds the root's entries. */
struct descent_port {
	bool direct;
	bool four;
	uint8_t *direct_map;
	mmu_pte_t *root;
};

DESCEND_INLINE mmu_pte_t *descent_table(struct mmu *mmu, struct descent_port port, mmu_pa_t table)
{
	return port.direct ? (mmu_pte_t *)(port.direct_map + table.bits) : table_of(mmu, table);
}

/* One level of the descent, LEVEL a constant: read VA's entry in D's
 * table and go on below it if it is a table (false: the descent ends). */
DESCEND_INLINE bool descend_step(struct mmu *mmu, struct descent_port port, struct descent *d, mmu_vaddr_t va,
				  struct pt_path *p, enum mmu_level level)
{
	d->e = &d->entries[mmu_va_index(va, level)];
	if (p) {
		p->table[level] = d->table;
		p->entry[level] = d->e;
	}
	mmu_pte_t v = d->v = pte_load(d->e);
	if (!pt_entry_goes_on(v, level))
		return false;
	d->upper = entry_fold(d->upper, v);
	d->table = mmu_pa(v & MMU_PTE_ADDR_MASK);
	d->entries = descent_table(mmu, port, d->table);
	return true;
}

/* Cache the table D ended in at LEVEL (the table the next single-page
 * call at VA wants). A read (READ) through the direct map caches a page
 * table without its metadata, which only a change needs: the change
 * finds it (pt_cache_meta). */
DESCEND_INLINE void descent_cache(struct mmu_tree *tree, struct descent_port port, const struct descent *d,
				  mmu_vaddr_t va, enum mmu_level level, bool read)
{
	struct mmu *mmu = tree->mmu;
	struct mmu_frame_meta *meta = NULL;
	if (!(read && port.direct && level == MMU_LEVEL_PT))
		meta = port.direct ? table_meta_of_entries(mmu, d->entries) : port_meta(mmu, d->table);
	pt_cache_set(tree, level, meta, d->entries, va, d->upper);
}

/* Where a descent starts: at the root, or (without a path to record) at
 * the cached page directory, which its caller found to cover VA (FROM_PD)
 * or which it tests (FROM_CACHE: the page directory when it covers VA,
 * else the root). */
enum descent_start { DESCEND_FROM_ROOT, DESCEND_FROM_PD, DESCEND_FROM_CACHE };

/* Where the descent D ends, at LEVEL (a constant: each level has its
 * own end, so that nothing after it tests a level held in a register):
 * cache the table it ended in unless it came from the cache (FROM_PD),
 * as a read's unless it records a path P (a change's), and hand over
 * what descend_from returns. */
DESCEND_INLINE mmu_pte_t *descent_end(struct mmu_tree *tree, struct descent_port port, const struct descent *d,
				      mmu_vaddr_t va, struct pt_path *p, bool from_pd, enum mmu_level level,
				      enum mmu_level *level_out, mmu_pte_t *value, uint64_t *upper)
{
	if (level <= MMU_CACHED_LEVELS && !(from_pd && level == MMU_LEVEL_PD))
		descent_cache(tree, port, d, va, level, !p);
	if (p)
		p->level = level;
	*level_out = level;
	*value = d->v;
	*upper = d->upper;
	return d->e;
}

/* The walker's single-address form, one body for all of its uses:
 * follow VA (in TREE's own half) down to the first entry that is not a
 * table (a hole, a leaf) or to its page-table entry, a few instructions a
 * level and no visitor, and cache the page directory or page table that
 * holds the entry it ends at. It starts where START says (a constant).
 * With P (START is DESCEND_FROM_ROOT) it records every table and entry
 * on the way (a change's slow path: it may allocate or release tables
 * along the path). Returns the entry it ends at, with its level, the
 * value it read there and what the levels above allow. Writes nothing
 * else. */
DESCEND_INLINE mmu_pte_t *descend_from(struct mmu_tree *tree, mmu_vaddr_t va, enum descent_start start,
				       struct pt_path *p, enum mmu_level *level, mmu_pte_t *value, uint64_t *upper,
				       struct descent_port port)
{
	struct mmu *mmu = tree->mmu;
	struct descent d;
	bool from_pd = start == DESCEND_FROM_PD ||
		       (start == DESCEND_FROM_CACHE && pt_cache_covers(tree, MMU_LEVEL_PD, va));
#define DESCENT_END(l) descent_end(tree, port, &d, va, p, from_pd, l, level, value, upper)
	if (from_pd) {
		const struct mmu_leaf_cache *pd = pt_cache(tree, MMU_LEVEL_PD);
		d = (struct descent){.entries = pd->entries, .upper = pd->upper};
	} else {
		d = (struct descent){.table = tree->root, .upper = ENTRY_UPPER_ALL};
		d.entries = port.four ? port.root : descent_table(mmu, port, d.table);
		if (!port.four && mmu->levels == 5 && !descend_step(mmu, port, &d, va, p, MMU_LEVEL_PML5))
			return DESCENT_END(MMU_LEVEL_PML5);
		if (!descend_step(mmu, port, &d, va, p, MMU_LEVEL_PML4))
			return DESCENT_END(MMU_LEVEL_PML4);
		if (!descend_step(mmu, port, &d, va, p, MMU_LEVEL_PDPT))
			return DESCENT_END(MMU_LEVEL_PDPT);
	}
	if (!descend_step(mmu, port, &d, va, p, MMU_LEVEL_PD))
		return DESCENT_END(MMU_LEVEL_PD);
	descend_step(mmu, port, &d, va, p, MMU_LEVEL_PT);
	return DESCENT_END(MMU_LEVEL_PT);
#undef DESCENT_END
}

/* The port a descent of TREE uses: direct, with its direct map, when it
 * has a direct map and a metadata array; else through its hooks. */
DESCEND_INLINE struct descent_port descent_port_of(const struct mmu *mmu)
{
	if (mmu->port_direct)
		return (struct descent_port){true, false, mmu->port.direct_map, NULL};
	return (struct descent_port){false, false, NULL, NULL};
}

/* The descent above, in one form for a port with a direct map and a
 * metadata array (it calls nothing) and one for a port without. */
DESCEND_INLINE mmu_pte_t *pt_descend(struct mmu_tree *tree, mmu_vaddr_t va, struct pt_path *p,
				     enum mmu_level *level, mmu_pte_t *value, uint64_t *upper)
{
	struct descent_port port = descent_port_of(tree->mmu);
	if (port.direct)
		return descend_from(tree, va, DESCEND_FROM_ROOT, p, level, value, upper, port);
	return descend_from(tree, va, DESCEND_FROM_ROOT, p, level, value, upper, (struct descent_port){false, false, NULL, NULL});
}

#endif
