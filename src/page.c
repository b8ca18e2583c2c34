/* SPDX-License-Identifier: MIT */
/* map, walk, unmap and protect (the public calls and their _locked
 * forms are at the end of this file). A single 4K or 2M page is the
 * engine's walk started from the deepest table the tree has cached for
 * VA: the page table, else the page directory, else the root. The
 * descent (src/descend.h) refills the cache on the way down. These are the
 * calls a fault handler and a page-at-a-time loop make, so the path that
 * finds its table cached is a few dozen instructions and everything rarer
 * is out of line: allocating the tables a map needs, releasing the tables
 * an unmap empties, recording an invalidation. Whatever must decide more
 * (an argument the general path may refuse, options, a split, a
 * promotion, a kernel-half address from a user tree) goes to the general
 * paths (map.c, lookup.c, change.c). */
#include "internal.h"
#include "descend.h"

/* Each call is written once for a constant LEVEL (PT for a 4K page, PD
 * for a 2M one) and instantiated for both, so that every shift and mask
 * below is a constant; the slow paths are written once for both. */
#ifdef __OPTIMIZE__
#define PAGE_INLINE static inline __attribute__((always_inline))
#else /* -O0: inlined bodies would keep their own stack slots (src/entry.h) */
#define PAGE_INLINE static inline
#endif
#define PAGE_SLOW static __attribute__((noinline))

/* Each call has a fast path, a leaf function that answers from the
 * table cache with plain stores or gives up, and a slow path that answers
 * the rest or leaves the call to the general path. The fast path calls
 * nothing, so it needs no stack frame: it only tries the lock. How a path
 * gives up (never returned by a public call): */
#define PAGE_BUSY ((mmu_err_t)0x7d)     /* another CPU holds the lock: the slow path waits */
#define PAGE_MISS ((mmu_err_t)0x7e)     /* the slow path goes on under the lock the fast path took */
#define PAGE_DECLINED ((mmu_err_t)0x7f) /* the general path must answer */

/* How a change's slow path is entered (one argument, so that the fast
 * path's call to it is a jump): the caller holds the lock (a _locked
 * call), the fast path took it for this call (after PAGE_MISS), the
 * change is an unmap. */
enum { PAGE_HELD = 1, PAGE_TAKEN = 2, PAGE_UNMAP = 4 };

/* Take TREE's lock unless HELD; false if another CPU has it. */
PAGE_INLINE bool page_trylock(struct mmu_tree *tree, bool held)
{
	return held || !atomic_exchange_explicit(&tree->locked, true, memory_order_acquire);
}

/* VA is in TREE's own half: canonical, and its sign is the tree's. A hit
 * in the table cache proves it too: the cache holds tables of the tree's
 * own half, and its base keeps every VA bit above the table's span. */
static inline bool page_in_half(const struct mmu_tree *tree, mmu_vaddr_t va)
{
	unsigned shift = mmu_va_bits(tree->mmu->levels) - 1;
	return (va >> shift) == (-(uint64_t)tree->is_kernel >> shift);
}

/* PROT is valid and readable: the general path reports the others. */
static inline bool page_prot_ok(unsigned prot)
{
	return (prot & ~(MMU_PROT_W | MMU_PROT_X | MMU_PROT_U)) == MMU_PROT_R;
}

/* ---- map ---- */

/* The leaf a single-page map writes at LEVEL, or 0 where the general path
 * must decide: PA is aligned to the page, so its last byte is below
 * MAXPHYADDR iff PA is; a process space's tree holds no 2M leaf (map.c).
 * Reads only what never changes after the tree was made: whether it
 * promotes (mmu_tree_set_promote) is read under the lock. */
PAGE_INLINE mmu_pte_t map_leaf(const struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va, mmu_pa_t pa,
			       unsigned prot)
{
	if ((level > MMU_LEVEL_PT && tree->process) ||
	    !mmu_is_aligned(va | pa.bits, mmu_level_span(level)) || (pa.bits & tree->mmu->pa_reserved) ||
	    !page_prot_ok(prot))
		return 0;
	return pa.bits | MMU_PTE_P | prot_to_pte(tree->mmu, prot) | (level > MMU_LEVEL_PT ? MMU_PTE_PS : 0);
}

/* Write LEAF at VA's entry (LEVEL), which the cache does not hold empty:
 * follow VA's path from the root (which refills the cache); where it ends
 * above LEVEL, allocate the tables between first (NOMEM changes nothing),
 * then link them top down and write the leaf. Under the lock. */
PAGE_INLINE mmu_err_t map_along_path(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va, mmu_pte_t leaf)
{
	if (!page_in_half(tree, va) || tree->dead)
		return PAGE_DECLINED;
	struct pt_path p;
	pt_path_find(tree, va, &p);
	/* A table at LEVEL (the path went below it), the entry at LEVEL in
	 * use, or a huge leaf above: an entry in use maps something inside
	 * the page, since tables are never left empty. */
	if (p.level < level || pte_load(p.entry[p.level]))
		return MMU_E_DUPLICATED;
	if (p.level == level) {
		entry_write(tree, port_meta(tree->mmu, p.table[level]), level, p.entry[level], leaf);
		return MMU_OK;
	}
	struct table_pool pool = {0};
	mmu_err_t err = table_pool_fill(tree->mmu, &pool, p.level - level, !tree->is_kernel);
	if (err == MMU_OK)
		entry_link_path(tree, &p, level, va, leaf, &pool);
	return err;
}

/* The fast path: VA's entry is in the cached table at LEVEL. */
PAGE_INLINE mmu_err_t map_fast(struct mmu_tree *tree, bool held, enum mmu_level level, mmu_vaddr_t va, mmu_pa_t pa,
			       unsigned prot)
{
	mmu_pte_t leaf = map_leaf(tree, level, va, pa, prot);
	if (!leaf)
		return PAGE_DECLINED;
	if (!page_trylock(tree, held))
		return PAGE_BUSY;
	mmu_pte_t *e = pt_cache_lookup(tree, level, va);
	if (!e || tree->promote)
		return PAGE_MISS; /* the slow path goes on under the lock */
	mmu_err_t err = pte_load(e) ? MMU_E_DUPLICATED : MMU_OK;
	if (err == MMU_OK)
		entry_write_cached(tree, level, e, leaf);
	op_unlock(tree, held);
	return err;
}

/* The slow path at LEVEL; TAKEN: the fast path holds the lock for it. */
static inline mmu_err_t map_slow_at(struct mmu_tree *tree, bool held, bool taken, enum mmu_level level,
				    mmu_vaddr_t va, mmu_pa_t pa, unsigned prot)
{
	mmu_pte_t leaf = map_leaf(tree, level, va, pa, prot);
	if (!leaf)
		return PAGE_DECLINED;
	if (!taken)
		op_lock(tree, held);
	if (tree->promote) { /* the map may promote: the general path */
		op_unlock(tree, held);
		return PAGE_DECLINED;
	}
	mmu_pte_t *e = pt_cache_lookup(tree, level, va);
	mmu_err_t err = MMU_E_DUPLICATED;
	if (!e) {
		err = map_along_path(tree, level, va, leaf);
	} else if (!pte_load(e)) {
		entry_write_cached(tree, level, e, leaf);
		err = MMU_OK;
	}
	op_unlock(tree, held);
	return err;
}

/* The level of a single page of LEN bytes, 0 for any other length. */
static inline enum mmu_level page_level(uint64_t len)
{
	if (len == mmu_level_span(MMU_LEVEL_PT))
		return MMU_LEVEL_PT;
	return len == mmu_level_span(MMU_LEVEL_PD) ? MMU_LEVEL_PD : 0;
}

/* The slow path, then the general one. TAKEN: the fast path holds the
 * lock for this call (it found a valid single page). */
PAGE_SLOW mmu_err_t map_slow(struct mmu_tree *tree, bool held, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len,
			     unsigned prot, const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch, bool taken)
{
	mmu_err_t err = PAGE_DECLINED;
	enum mmu_level level = page_level(len);
	if (!opts && level)
		err = map_slow_at(tree, held, taken, level, va, pa, prot);
	else
		MMU_ASSERT(tree->mmu, !taken, "map_slow: va %lx len %lx declined under the fast path's lock",
			   (unsigned long)va, (unsigned long)len);
	return err != PAGE_DECLINED ? err : map_general(tree, held, va, pa, len, prot, opts, batch);
}

PAGE_INLINE mmu_err_t page_map(struct mmu_tree *tree, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
			       const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch, bool held)
{
	mmu_err_t err = PAGE_DECLINED;
	if (!opts && len == mmu_level_span(MMU_LEVEL_PT))
		err = map_fast(tree, held, MMU_LEVEL_PT, va, pa, prot);
	else if (!opts && len == mmu_level_span(MMU_LEVEL_PD))
		err = map_fast(tree, held, MMU_LEVEL_PD, va, pa, prot);
	if (__builtin_expect(err == PAGE_MISS || err == PAGE_DECLINED || err == PAGE_BUSY, 0))
		return map_slow(tree, held, va, pa, len, prot, opts, batch, err == PAGE_MISS);
	return err;
}

/* ---- walk ---- */

/* The translation of present leaf V at LEVEL, UPPER the bits above it. */
PAGE_INLINE void translation_of(const struct mmu *mmu, enum mmu_level level, mmu_vaddr_t va, mmu_pte_t v,
				uint64_t upper, struct mmu_translation *out)
{
	*out = (struct mmu_translation){
		.pa = mmu_pa((v & mmu_pte_addr_mask(v, level)) | (va & (mmu_level_span(level) - 1))),
		.size = (enum mmu_size)level,
		.prot = entry_prot(mmu, upper, v),
		.leaf = v,
	};
}

/* The answer for leaf or hole V at LEVEL. */
PAGE_INLINE mmu_err_t walk_answer(const struct mmu *mmu, enum mmu_level level, mmu_vaddr_t va, mmu_pte_t v,
				  uint64_t upper, struct mmu_translation *out)
{
	if (!mmu_pte_present(v))
		return MMU_E_NOTEXIST;
	translation_of(mmu, level, va, v, upper, out);
	return MMU_OK;
}

/* The fast path: VA's leaf or hole is in the cached page table, or in the
 * cached page directory. A miss keeps the lock for the slow path
 * (PAGE_MISS); PAGE_BUSY: another CPU holds it. */
PAGE_INLINE mmu_err_t walk_fast(struct mmu_tree *tree, bool held, mmu_vaddr_t va, struct mmu_translation *out)
{
	if (!page_trylock(tree, held))
		return PAGE_BUSY;
	enum mmu_level level = MMU_LEVEL_PT;
	mmu_pte_t *e = pt_cache_lookup(tree, MMU_LEVEL_PT, va);
	if (!e) {
		level = MMU_LEVEL_PD;
		e = pt_cache_lookup(tree, MMU_LEVEL_PD, va);
	}
	mmu_pte_t v = e ? pte_load(e) : 0;
	if (!e || pt_entry_goes_on(v, level))
		return PAGE_MISS;
	uint64_t upper = pt_cache(tree, level)->upper;
	op_unlock(tree, held);
	if (level == MMU_LEVEL_PT)
		return walk_answer(tree->mmu, MMU_LEVEL_PT, va, v, upper, out);
	return walk_answer(tree->mmu, MMU_LEVEL_PD, va, v, upper, out);
}

/* The slow path: the walker's descent (pt_descend), from the cached page
 * directory or the root; the general path for VA in the other half or a
 * destroyed tree. TAKEN: the fast path holds the lock for this call. */
PAGE_SLOW mmu_err_t walk_slow(struct mmu_tree *tree, bool held, mmu_vaddr_t va, struct mmu_translation *out,
			      bool taken)
{
	if (!taken)
		tree_lock(tree);
	enum mmu_level level;
	uint64_t upper;
	mmu_pte_t *e = NULL;
	if (page_in_half(tree, va) && !tree->dead)
		e = pt_descend(tree, va, NULL, &level, &upper);
	mmu_pte_t v = e ? pte_load(e) : 0;
	op_unlock(tree, held);
	if (!e)
		return walk_general(tree, held, va, out);
	if (level == MMU_LEVEL_PT)
		return walk_answer(tree->mmu, MMU_LEVEL_PT, va, v, upper, out);
	return walk_answer(tree->mmu, level, va, v, upper, out);
}

PAGE_INLINE mmu_err_t page_walk(struct mmu_tree *tree, mmu_vaddr_t va, struct mmu_translation *out, bool held)
{
	mmu_err_t err = walk_fast(tree, held, va, out);
	if (__builtin_expect(err == PAGE_MISS || err == PAGE_BUSY, 0))
		return walk_slow(tree, held, va, out, err == PAGE_MISS);
	return err;
}

/* ---- unmap and protect ---- */

/* The new value of leaf V: none for an unmap, else PERM_BITS. */
PAGE_INLINE mmu_pte_t changed_leaf(mmu_pte_t v, bool unmap, uint64_t perm_bits)
{
	return unmap ? 0 : (v & ~MMU_PTE_PERM_MASK) | perm_bits;
}

/* A protect of a tree that promotes may promote: the general path
 * decides. Read under the lock (mmu_tree_set_promote takes it). */
PAGE_INLINE bool change_may_promote(const struct mmu_tree *tree, bool unmap)
{
	return !unmap && tree->promote;
}

/* Unmap (NV 0) or give permission bits to the present leaf V at E, the
 * entry for VA in the cached table at LEVEL, under the lock: releasing
 * the tables the unmap empties (P: VA's path when the caller has it,
 * NULL: found again), and recording what the change owes the TLBs in
 * GIVEN or flushing now. */
PAGE_INLINE void change_leaf(struct mmu_tree *tree, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_pte_t v,
			     mmu_pte_t nv, const struct pt_path *p, struct mmu_tlb_batch *given)
{
	if (nv == v)
		return;
	if (nv == 0 && pt_cache(tree, level)->meta->live == 1) {
		/* The last leaf of its table: the tables it empties go too. */
		entry_clear_releasing(tree, level, va, v, p, given);
		return;
	}
	if (nv == 0)
		entry_write_cached(tree, level, e, 0);
	else
		entry_rewrite_leaf_bits(e, MMU_PTE_PERM_MASK, nv & MMU_PTE_PERM_MASK, tree_idle(tree));
	if (entry_owes(tree, given, v))
		entry_invalidate_page(tree, given, va, level, v, nv == 0);
}

/* The fast path: VA's leaf is in the cached table at LEVEL, and changing
 * it owes the TLBs nothing and empties no table: plain stores. */
PAGE_INLINE mmu_err_t change_fast(struct mmu_tree *tree, bool held, enum mmu_level level, mmu_vaddr_t va, bool unmap,
				  uint64_t perm_bits, const struct mmu_tlb_batch *given)
{
	if (!mmu_is_aligned(va, mmu_level_span(level)))
		return PAGE_DECLINED;
	if (!page_trylock(tree, held))
		return PAGE_BUSY;
	mmu_err_t err = PAGE_MISS;
	mmu_pte_t *e = pt_cache_lookup(tree, level, va);
	mmu_pte_t v = e ? pte_load(e) : 0;
	mmu_pte_t nv = changed_leaf(v, unmap, perm_bits);
	if (!e || change_may_promote(tree, unmap) || (level > MMU_LEVEL_PT && mmu_pte_present(v) && !(v & MMU_PTE_PS))) {
		/* the slow path decides */
	} else if (!mmu_pte_present(v)) {
		err = MMU_E_NOTEXIST;
	} else if (!entry_owes(tree, given, v) && !(unmap && pt_cache(tree, level)->meta->live == 1)) {
		/* NV may equal V (a protect to the same bits): storing it
		 * again costs less than testing for it, and owes nothing. */
		if (unmap)
			entry_clear_cached(tree, level, e);
		else
			entry_rewrite_leaf_idle(e, nv);
		err = MMU_OK;
	}
	if (err != PAGE_MISS) /* a miss: the slow path goes on under the lock */
		op_unlock(tree, held);
	return err;
}

/* The slow path's change of VA's leaf at LEVEL, when the cache does not
 * hold its table: follow its path from the root (which refills the
 * cache) and change the leaf there. Under the lock. */
PAGE_INLINE mmu_err_t change_along_path(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va, bool unmap,
					uint64_t perm_bits, struct mmu_tlb_batch *given)
{
	if (!page_in_half(tree, va) || tree->dead)
		return PAGE_DECLINED;
	struct pt_path p;
	pt_path_find(tree, va, &p);
	/* A hole or a leaf above LEVEL, a table at it: the general path. */
	if (p.level != level)
		return PAGE_DECLINED;
	mmu_pte_t v = pte_load(p.entry[level]);
	if (!mmu_pte_present(v))
		return MMU_E_NOTEXIST;
	change_leaf(tree, level, p.entry[level], va, v, changed_leaf(v, unmap, perm_bits), &p, given);
	return MMU_OK;
}

/* The slow path at LEVEL: the cached table's entry, or VA's path. TAKEN:
 * the fast path holds the lock for it. */
static inline mmu_err_t change_slow_at(struct mmu_tree *tree, bool held, bool taken, enum mmu_level level,
				       mmu_vaddr_t va, bool unmap, uint64_t perm_bits, struct mmu_tlb_batch *given)
{
	mmu_err_t err = MMU_OK;
	if (!taken)
		op_lock(tree, held);
	mmu_pte_t *e = pt_cache_lookup(tree, level, va);
	mmu_pte_t v = e ? pte_load(e) : 0;
	if (change_may_promote(tree, unmap))
		err = PAGE_DECLINED;
	else if (!e)
		err = change_along_path(tree, level, va, unmap, perm_bits, given);
	else if (!mmu_pte_present(v))
		err = MMU_E_NOTEXIST;
	else if (level > MMU_LEVEL_PT && !(v & MMU_PTE_PS))
		err = PAGE_DECLINED; /* a table below: the general path */
	else
		change_leaf(tree, level, e, va, v, changed_leaf(v, unmap, perm_bits), NULL, given);
	op_unlock(tree, held);
	return err;
}

/* The slow path of a single page of LEN bytes, then the general one;
 * HOW: PAGE_HELD, PAGE_TAKEN (the fast path holds the lock: it found a
 * valid single page), PAGE_UNMAP (else protect to PROT). */
PAGE_SLOW mmu_err_t change_slow(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned prot,
				struct mmu_tlb_batch *given, unsigned how)
{
	bool held = how & PAGE_HELD, taken = how & PAGE_TAKEN, unmap = how & PAGE_UNMAP;
	mmu_err_t err = PAGE_DECLINED;
	enum mmu_level level = page_level(len);
	if (level && (unmap || page_prot_ok(prot)) && mmu_is_aligned(va, mmu_level_span(level)))
		err = change_slow_at(tree, held, taken, level, va, unmap, unmap ? 0 : prot_to_pte(tree->mmu, prot),
				     given);
	else
		MMU_ASSERT(tree->mmu, !taken, "change_slow: va %lx len %lx declined under the fast path's lock",
			   (unsigned long)va, (unsigned long)len);
	if (err != PAGE_DECLINED)
		return err;
	return unmap ? unmap_general(tree, held, va, len, given) : protect_general(tree, held, va, len, prot, given);
}

/* Unmap (UNMAP) or protect (PROT) a single page of LEN bytes. */
PAGE_INLINE mmu_err_t change_page(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, bool unmap,
				  unsigned prot, struct mmu_tlb_batch *given)
{
	mmu_err_t err = PAGE_DECLINED;
	uint64_t perm_bits = unmap ? 0 : prot_to_pte(tree->mmu, prot);
	if (unmap || page_prot_ok(prot)) {
		if (len == mmu_level_span(MMU_LEVEL_PT))
			err = change_fast(tree, held, MMU_LEVEL_PT, va, unmap, perm_bits, given);
		else if (len == mmu_level_span(MMU_LEVEL_PD))
			err = change_fast(tree, held, MMU_LEVEL_PD, va, unmap, perm_bits, given);
	}
	if (__builtin_expect(err == PAGE_MISS || err == PAGE_DECLINED || err == PAGE_BUSY, 0))
		return change_slow(tree, va, len, prot, given,
				   held | (err == PAGE_MISS ? PAGE_TAKEN : 0) | (unmap ? PAGE_UNMAP : 0));
	return err;
}

/* ---- the public calls: each instantiates its path for a plain call
 * (the lock taken and dropped here) and for a _locked one (HELD) ---- */

mmu_err_t mmu_map(struct mmu_tree *tree, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
		  const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch)
{
	return page_map(tree, va, pa, len, prot, opts, batch, false);
}

mmu_err_t mmu_map_locked(struct mmu_tree_locked held, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
			 const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch)
{
	tree_assert_held(held);
	return page_map(held.tree, va, pa, len, prot, opts, batch, true);
}

mmu_err_t mmu_walk(struct mmu_tree *tree, mmu_vaddr_t va, struct mmu_translation *out)
{
	return page_walk(tree, va, out, false);
}

mmu_err_t mmu_walk_locked(struct mmu_tree_locked held, mmu_vaddr_t va, struct mmu_translation *out)
{
	tree_assert_held(held);
	return page_walk(held.tree, va, out, true);
}

mmu_err_t mmu_unmap(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch)
{
	return change_page(tree, false, va, len, true, 0, batch);
}

mmu_err_t mmu_unmap_locked(struct mmu_tree_locked held, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch)
{
	tree_assert_held(held);
	return change_page(held.tree, true, va, len, true, 0, batch);
}

mmu_err_t mmu_protect(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned prot,
		      struct mmu_tlb_batch *batch)
{
	return change_page(tree, false, va, len, false, prot, batch);
}

mmu_err_t mmu_protect_locked(struct mmu_tree_locked held, mmu_vaddr_t va, uint64_t len, unsigned prot,
			     struct mmu_tlb_batch *batch)
{
	tree_assert_held(held);
	return change_page(held.tree, true, va, len, false, prot, batch);
}
