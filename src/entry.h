/* SPDX-License-Identifier: MIT */
/* The entry writer: every store to a page-table entry of the library goes
 * through the functions here and in src/entry.c, because each store owes
 * up to three things and a path that forgets one breaks isolation:
 *
 *   - the live count of the table holding the entry (frame metadata), by
 *     which empty tables are found and freed;
 *   - the table cache (struct mmu_leaf_cache): a table below a changed
 *     non-leaf entry may be gone, and a cached UPPER may be stale;
 *   - the invalidation record (struct mmu_tlb_batch): the page, whether
 *     the old leaf was global, and `unmapped` when a leaf was removed or
 *     now maps another frame (the old one may be freed after the flush).
 *
 * Also the one fold of effective permissions over the levels (RW and US
 * ANDed, XD ORed: one AND). The single-page calls (src/page.c) use the inline
 * functions of this header so that they stay a few dozen instructions;
 * the rest is out of line in src/entry.c. Included by src/internal.h. */
#ifndef MMU64_ENTRY_H
#define MMU64_ENTRY_H

/* Always inlined in an optimized build: the single-page calls run these
 * few instructions for each store. Not at -O0, where an inlined body
 * keeps its own stack slots and several of them would push a caller's
 * frame over the bound of docs/PORTING.md. */
#ifdef __OPTIMIZE__
#define ENTRY_INLINE static inline __attribute__((always_inline))
#else
#define ENTRY_INLINE static inline
#endif

/* ---- the fold of effective permissions ----
 * UPPER is what the levels above allow: RW and US of every level ANDed,
 * and in the XD position "executable", the AND of every level's XD
 * inverted (so one AND folds all three: the SDM ORs XD across levels). It
 * starts at ENTRY_UPPER_ALL, gains entry V with entry_fold, and with the
 * leaf gives the MMU_PROT_* of the page. Only those three bits are ever
 * read (prot_of_bits), so the fold starts at all ones rather than at
 * their mask: a descent's first level then takes its entry as it is,
 * with no mask to load and apply. */
#define ENTRY_UPPER_ALL (~(uint64_t)0)

ENTRY_INLINE uint64_t entry_fold(uint64_t upper, mmu_pte_t v)
{
	return upper & (v ^ MMU_PTE_XD);
}

ENTRY_INLINE unsigned entry_prot(const struct mmu *mmu, uint64_t upper, mmu_pte_t leaf)
{
	return prot_of_bits(mmu, entry_fold(upper, leaf));
}

/* What VA translates to through the present LEAF at LEVEL, UPPER what the
 * levels above allow: the answer of mmu_walk, mmu_leaves and mmu_harvest. */
ENTRY_INLINE struct mmu_translation entry_translation(const struct mmu *mmu, enum mmu_level level, mmu_pte_t leaf,
						      uint64_t upper, mmu_vaddr_t va)
{
	return (struct mmu_translation){
		.pa = mmu_pa((leaf & mmu_pte_addr_mask(leaf, level)) | (va & (mmu_level_span(level) - 1))),
		.size = (enum mmu_size)level,
		.prot = entry_prot(mmu, upper, leaf),
		.leaf = leaf,
	};
}

/* UPPER of the walk's current path above LEVEL. */
ENTRY_INLINE uint64_t entry_path_upper(const struct pt_walk *w, enum mmu_level level)
{
	uint64_t upper = ENTRY_UPPER_ALL;
	for (unsigned l = level + 1; l <= (unsigned)mmu_top_level(w->mmu); l++)
		upper = entry_fold(upper, w->path[l]);
	return upper;
}

/* ---- single stores ----
 * A CPU may walk a table while we write it: each store is one atomic
 * access so that neither side sees a torn value. Only this module calls
 * these two. */
ENTRY_INLINE void entry_store(mmu_pte_t *e, mmu_pte_t v) { __atomic_store_n(e, v, __ATOMIC_RELAXED); }

/* Replace the CLEAR bits of *E by SET: with a compare-exchange, so that an
 * A or D bit the hardware sets meanwhile is not lost, or where no hardware
 * walker can touch E (IDLE: tree_idle) with a plain read and write. */
ENTRY_INLINE void entry_store_bits(mmu_pte_t *e, uint64_t clear, uint64_t set, bool idle)
{
	if (idle) {
		entry_store(e, (pte_load(e) & ~clear) | set);
		return;
	}
	mmu_pte_t old = pte_load(e);
	while (!__atomic_compare_exchange_n(e, &old, (old & ~clear) | set, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* ---- writes that keep the live count and the cache ---- */

/* Write entry E (at LEVEL) of the table whose metadata is META, keeping
 * its live count (E's lane) and forgetting the cached tables below E. The
 * caller records the invalidation (entry_invalidate_page, or a batch
 * below). */
ENTRY_INLINE void entry_write(struct mmu_tree *tree, struct mmu_frame_meta *meta, enum mmu_level level, mmu_pte_t *e,
			      mmu_pte_t value)
{
	pt_cache_drop_below(tree, level);
	mmu_pte_t old = pte_load(e);
	uint8_t *lane = &meta->live[table_lane_of(e)];
	if (old == 0 && value != 0) {
		MMU_ASSERT(tree->mmu, *lane < TABLE_LANE_MAX, "entry_write: lane %u full (%u) at level %u",
			   table_lane_of(e), *lane, level);
		++*lane;
	} else if (old != 0 && value == 0) {
		MMU_ASSERT(tree->mmu, *lane > 0, "entry_write: lane %u empty at level %u", table_lane_of(e), level);
		--*lane;
	}
	entry_store(e, value);
}

/* The same for entry E of the cached table at LEVEL. */
ENTRY_INLINE void entry_write_cached(struct mmu_tree *tree, enum mmu_level level, mmu_pte_t *e, mmu_pte_t value)
{
	entry_write(tree, pt_cache_meta(tree, level), level, e, value);
}

/* Clear the present leaf E of the cached table at LEVEL unless it is the
 * table's last entry (false: nothing changed; the caller's slow path
 * releases the table). entry_write without its tests of the old value,
 * and the count taken first: one decrement of E's lane in memory, whose
 * result says whether the rest of the table must be looked at. A leaf has
 * no table below it, so the cached tables stay. (E, a present leaf,
 * counts in its lane: the lane is at least 1.) */
ENTRY_INLINE bool entry_clear_cached_unless_last(struct mmu_tree *tree, enum mmu_level level, mmu_pte_t *e)
{
	struct mmu_frame_meta *meta = pt_cache_meta(tree, level);
	uint8_t *lane = &meta->live[table_lane_of(e)];
	if (__builtin_expect(--*lane == 0, 0) && table_empty(meta)) {
		++*lane;
		return false;
	}
	entry_store(e, 0);
	return true;
}

/* The same for the walk's current table at LEVEL. */
ENTRY_INLINE void entry_write_walk(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t value)
{
	entry_write(w->tree, pt_table_meta(w, level), level, e, value);
}

/* Rewrite the permission or address bits of the present leaf E (the live
 * count and the tables below do not change); IDLE: tree_idle of its tree,
 * read once by the caller. */
ENTRY_INLINE void entry_rewrite_leaf_bits(mmu_pte_t *e, uint64_t clear, uint64_t set, bool idle)
{
	entry_store_bits(e, clear, set, idle);
}

/* Rewrite the present leaf E to NEW, computed from its value now (new
 * permission bits, A and D kept), where no hardware walker can set A or D
 * meanwhile (a tree no CPU runs): a plain store. */
ENTRY_INLINE void entry_rewrite_leaf_idle(mmu_pte_t *e, mmu_pte_t new) { entry_store(e, new); }

/* ---- the invalidation record of a single page ---- */

/* Whether changing a leaf of TREE that is not global owes the TLBs
 * anything: a caller's batch takes every record; otherwise a tree no CPU
 * runs (tree_idle) owes nothing, unless PCIDs keep its entries on a lazy
 * CPU. Tested cheapest first: this runs on every single-page change. */
ENTRY_INLINE bool entry_owes_local(const struct mmu_tree *tree, const struct mmu_tlb_batch *given)
{
	/* One test for the batch and the mask (an OR of two words). */
	return ((uintptr_t)given | atomic_load_explicit(&tree->active_cpus, memory_order_relaxed)) != 0 ||
	       tree->owes_always;
}

/* The same for leaf OLD: a global leaf always owes (another tree's CPU
 * may hold it). */
ENTRY_INLINE bool entry_owes(const struct mmu_tree *tree, const struct mmu_tlb_batch *given, mmu_pte_t old)
{
	return (old & MMU_PTE_G) || entry_owes_local(tree, given);
}

/* Record the old leaf OLD at VA (LEVEL) into the caller's batch GIVEN, or
 * invalidate it now; UNMAPPED: it was removed or redirected. */
void entry_invalidate_page(struct mmu_tree *tree, struct mmu_tlb_batch *given, mmu_vaddr_t va, enum mmu_level level,
			   mmu_pte_t old, bool unmapped);

/* Clear the leaf OLD at VA (LEVEL), the last entry of its table, then
 * release each table that leaves empty, bottom up, until one still holds
 * entries or is pinned. P: VA's path (NULL: found here). Records into
 * GIVEN or flushes; the tables are freed after the flush, or at once
 * where the change owes nothing (no batch given, and no TLB can hold the
 * tree: entry_owes). */
void entry_clear_releasing(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va, mmu_pte_t old,
			   const struct pt_path *p, struct mmu_tlb_batch *given);

/* Link the tables of POOL (one per level) below VA's path P, which ends
 * in an empty entry above LEVEL, top down, then write LEAF at LEVEL. */
ENTRY_INLINE void entry_link_path(struct mmu_tree *tree, struct pt_path *p, enum mmu_level level, mmu_vaddr_t va,
				  mmu_pte_t leaf, struct table_pool *pool)
{
	struct mmu *mmu = tree->mmu;
	for (enum mmu_level l = p->level; l > level; l--) {
		mmu_pa_t table = table_pool_take(mmu, pool);
		entry_write(tree, port_meta(mmu, p->table[l]), l, p->entry[l],
			    table.bits | table_entry_flags(!tree->is_kernel));
		p->table[l - 1] = table;
		p->entry[l - 1] = &table_of(mmu, table)[mmu_va_index(va, l - 1)];
	}
	entry_write(tree, port_meta(mmu, p->table[level]), level, p->entry[level], leaf);
}

/* ---- writes of the range walker (recorded into w->batch) ----
 * VA is an address inside the entry; the record starts at the entry's. */

/* Write leaf VALUE into the empty entry E (a map): a not-present entry is
 * never cached by a TLB, so nothing is owed. */
void entry_set_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t value);
/* Remove the present leaf E; returns it as it went (one exchange). */
mmu_pte_t entry_clear_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va);
/* Replace the CLEAR bits of the present leaf E by SET (A and D kept);
 * INVALIDATE: record the old translation (an upgrade need not: a stale
 * entry that allows less only causes a spurious fault). A change of the
 * address bits is recorded as unmapped. */
void entry_rewrite_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, uint64_t clear,
			uint64_t set, bool invalidate);
/* Test and clear BITS (A, D) of the present leaf E, atomically, and
 * return the leaf as it was; the page is recorded when it had any of them
 * (a TLB entry cached before would go on without setting them). */
mmu_pte_t entry_harvest_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, uint64_t bits);
/* Point E (empty) at a fresh table from the walk's pool; returns its PA. */
mmu_pa_t entry_install_table(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e);
/* If the table E (at LEVEL, covering VA) points to holds 512 leaves that
 * one huge leaf can replace, do so and free the table after the flush. */
bool entry_try_promote(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va);
/* Clear table entry E and free the table after the flush. */
void entry_release_table(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e);
/* A pt_copy's writes into its other tree (entry_copy_table,
 * entry_copy_leaf) are declared in src/pt_layer.h, for fork. */

/* Runs of a page table's entries (pt_run callbacks). */
/* Write COUNT 4K leaves from ENTRIES[FIRST] (all empty): LEAF, then the
 * frames that follow. A prepare run writes nothing and answers whether
 * they are all empty (a commit trusts its prepare and answers true). */
bool entry_run_fill(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count, mmu_pte_t leaf);
/* Remove (UNMAP) or give PERM_BITS to every present leaf of ENTRIES[FIRST]
 * .. +COUNT (VA: the first's address), recording each run of changed
 * pages once. QUIET: no CPU can hold the translations and no caller's
 * batch waits for them (plain accesses, only global leaves recorded).
 * Returns whether a leaf was there; a prepare run only answers that. */
bool entry_run_change(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count, mmu_vaddr_t va,
		      bool unmap, uint64_t perm_bits, bool quiet);

/* ---- roots ---- */
/* A new root of MMU (a user tree's): the kernel-half entries of the
 * kernel root, which never change after mmu_init. */
void entry_copy_kernel_half(struct mmu *mmu, mmu_pa_t root);
/* Root slot SLOT of the kernel root: link TABLE (a kernel top), or clear
 * it and return the table it held (false: empty). */
void entry_link_kernel_top(struct mmu *mmu, unsigned slot, mmu_pa_t table);
bool entry_unlink_kernel_top(struct mmu *mmu, unsigned slot, mmu_pa_t *table);
/* A KPTI shadow root (no live count: pinned, never freed by emptiness):
 * fill it from USER_ROOT's user half and KERNEL_ROOT's kernel half, or
 * copy slot SLOT of USER_ROOT into it. */
void entry_fill_shadow(struct mmu *mmu, mmu_pa_t shadow, mmu_pa_t user_root, mmu_pa_t kernel_root);
void entry_mirror_slot(struct mmu *mmu, mmu_pa_t shadow, mmu_pa_t user_root, unsigned slot);
/* Set US on the table entries of P, VA's path in TREE, above its last
 * entry (no invalidation: an entry gaining US refuses nothing it allowed). */
void entry_set_user_path(struct mmu_tree *tree, const struct pt_path *p);

#endif
