/* SPDX-License-Identifier: MIT */
/* map, walk, unmap and protect of a single page (the public calls and
 * their _locked forms are at the end of this file): one engine, run with a
 * constant description of each operation (struct page_op). A single 4K or
 * 2M page is the walker's descent (src/descend.h) started from the deepest
 * table the tree has cached for VA: the page table, else the page
 * directory, else the root; the descent refills the cache on its way
 * down. These are the calls a fault handler and a page-at-a-time loop
 * make, so the path that finds its table cached is a few dozen
 * instructions and everything rarer is out of line: allocating the tables
 * a map needs, releasing the tables an unmap empties, recording an
 * invalidation. Whatever must decide more (an argument the general path
 * may refuse, options, a split, a promotion, a kernel-half address from a
 * user tree) goes to the general paths (map.c, lookup.c, change.c). */
#include "internal.h"
#include "descend.h"

/* The engine is written once for a constant operation and a constant
 * LEVEL (PT for a 4K page, PD for a 2M one) and instantiated for each, so
 * that every test of the description, every shift and every mask below is
 * a constant. */
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
#define PAGE_BELOW ((mmu_err_t)0x7c)    /* a read's cached page directory holds a table at VA: the
					 * descent goes on from it, under the lock the fast path took */
#define PAGE_DECLINED ((mmu_err_t)0x7f) /* the general path must answer */

/* ---- the operations ---- */

enum page_kind { PAGE_MAP, PAGE_WALK, PAGE_UNMAP, PAGE_PROTECT };

/* What the engine needs to know of an operation: what it does at its
 * entry (KIND: page_at), and how the engine gets there. */
struct page_op {
	enum page_kind kind;
	bool reads_only;  /* changes no entry (a walk): answers from a page directory's leaf too */
	bool allocates;   /* fills a hole, allocating the tables on its way first (a map) */
	bool may_promote; /* in a tree that promotes, the general path decides (it may promote) */
	bool aligned_by_cache; /* VA's alignment to the page is tested with the cache: an unaligned VA misses */
};

static const struct page_op op_map = {.kind = PAGE_MAP, .allocates = true, .may_promote = true};
static const struct page_op op_walk = {.kind = PAGE_WALK, .reads_only = true};
static const struct page_op op_unmap = {.kind = PAGE_UNMAP, .aligned_by_cache = true};
static const struct page_op op_protect = {.kind = PAGE_PROTECT, .may_promote = true, .aligned_by_cache = true};

/* One call's arguments. */
struct page_args {
	mmu_vaddr_t va;
	mmu_pte_t bits;               /* a map's leaf, a protect's permission bits */
	struct mmu_tlb_batch *given;  /* unmap, protect: the caller's batch, or NULL */
	struct mmu_translation *out;  /* a walk's answer */
};

/* How a slow path is entered (one argument, so that the fast path's call
 * to it is a jump, and its last, so that the call's own arguments stay in
 * their registers): the caller holds the lock (a _locked call), the fast
 * path took it for this call (after PAGE_MISS). */
enum { PAGE_HELD = 1, PAGE_TAKEN = 2 };

/* Take TREE's lock unless HELD; false if another CPU has it, or if a
 * _locked call (HELD) finds it free: the slow path reports that misuse
 * (page_slow), so that the fast path calls nothing. */
PAGE_INLINE bool page_trylock(struct mmu_tree *tree, bool held)
{
	if (held)
		return __builtin_expect(atomic_load_explicit(&tree->locked, memory_order_relaxed), true);
	return __builtin_expect(!atomic_exchange_explicit(&tree->locked, true, memory_order_acquire), true);
}

/* VA is TREE's to walk from the root: TREE is alive and VA in its own
 * half (canonical, its sign the tree's), one test of what tree_set_half
 * computed when the tree was made (a dead tree's half_top matches no VA).
 * A hit in the table cache proves it too: a dead tree caches nothing,
 * the cache holds tables of the tree's own half, and its base keeps
 * every VA bit above the table's span. */
static inline bool page_walkable(const struct mmu_tree *tree, mmu_vaddr_t va)
{
	return va >> tree->half_shift == tree->half_top;
}

/* PROT is valid and readable: the general path reports the others. */
static inline bool page_prot_ok(unsigned prot)
{
	return (prot & ~(MMU_PROT_W | MMU_PROT_X | MMU_PROT_U)) == MMU_PROT_R;
}

/* The level of a single page of LEN bytes, 0 for any other length. */
static inline enum mmu_level page_level(uint64_t len)
{
	if (len == mmu_level_span(MMU_LEVEL_PT))
		return MMU_LEVEL_PT;
	return len == mmu_level_span(MMU_LEVEL_PD) ? MMU_LEVEL_PD : 0;
}

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

/* ---- what each operation does at VA's entry ----
 * E (value V) is VA's entry at LEVEL in the table the cache holds for
 * LEVEL, under the lock. QUICK (the fast path): answer only where plain
 * stores do and nothing is owed, else PAGE_MISS. */

/* A map: an entry in use maps something inside the page, since tables
 * are never left empty. */
PAGE_INLINE mmu_err_t map_at(struct mmu_tree *tree, enum mmu_level level, mmu_pte_t *e, mmu_pte_t v, mmu_pte_t leaf)
{
	if (v)
		return MMU_E_DUPLICATED;
	entry_write_cached(tree, level, e, leaf);
	return MMU_OK;
}

/* A walk: the translation of leaf V, UPPER what the levels above allow;
 * a table below (only where the cache answered: the descent ends at the
 * first entry that is not one) is PAGE_BELOW. */
PAGE_INLINE mmu_err_t walk_at(const struct mmu *mmu, enum mmu_level level, mmu_vaddr_t va, mmu_pte_t v,
			      uint64_t upper, struct mmu_translation *out)
{
	if (pt_entry_goes_on(v, level))
		return PAGE_BELOW;
	if (!mmu_pte_present(v))
		return MMU_E_NOTEXIST;
	*out = entry_translation(mmu, level, v, upper, va);
	return MMU_OK;
}

/* The fast path's unmap (UNMAP) or protect to permission bits BITS of
 * leaf V: a plain store where the change owes the TLBs nothing and
 * empties no table, else PAGE_MISS (a hole too: the slow path answers). */
PAGE_INLINE mmu_err_t change_quick(struct mmu_tree *tree, enum mmu_level level, mmu_pte_t *e, mmu_pte_t v, bool unmap,
				   const struct page_args *a)
{
	/* A present leaf that is not global (a global one always owes): one
	 * test. */
	mmu_pte_t leaf = MMU_PTE_P | (level > MMU_LEVEL_PT ? MMU_PTE_PS : 0);
	if ((v & (leaf | MMU_PTE_G)) != leaf || entry_owes_local(tree, a->given))
		return PAGE_MISS;
	if (unmap)
		return entry_clear_cached_unless_last(tree, level, e) ? MMU_OK : PAGE_MISS;
	/* A protect to the same bits stores them again: that costs less
	 * than testing for it, and owes nothing. */
	entry_rewrite_leaf_idle(e, (v & ~MMU_PTE_PERM_MASK) | a->bits);
	return MMU_OK;
}

/* An unmap (UNMAP) or a protect to permission bits BITS of the present
 * leaf V, with the entry writer's full duty: releasing the tables an
 * unmap empties (P: VA's path when the caller found it, NULL: found again
 * where needed), and recording what the change owes the TLBs in the
 * caller's batch or invalidating now. */
PAGE_INLINE mmu_err_t change_at(struct mmu_tree *tree, enum mmu_level level, mmu_pte_t *e, mmu_pte_t v, bool unmap,
				const struct page_args *a, const struct pt_path *p, bool quick)
{
	if (quick)
		return change_quick(tree, level, e, v, unmap, a);
	if (!mmu_pte_present(v))
		return MMU_E_NOTEXIST;
	if (level > MMU_LEVEL_PT && !(v & MMU_PTE_PS))
		return PAGE_DECLINED; /* a table below: the general path */
	mmu_pte_t nv = unmap ? 0 : (v & ~MMU_PTE_PERM_MASK) | a->bits;
	if (nv == v)
		return MMU_OK;
	if (unmap && table_live(pt_cache_meta(tree, level)) <= 1) {
		/* The last leaf of its table: the tables it empties go too. */
		entry_clear_releasing(tree, level, a->va, v, p, a->given);
		return MMU_OK;
	}
	if (unmap)
		entry_write_cached(tree, level, e, 0);
	else
		entry_rewrite_leaf_bits(e, MMU_PTE_PERM_MASK, nv & MMU_PTE_PERM_MASK, tree_idle(tree));
	if (entry_owes(tree, a->given, v))
		entry_invalidate_page(tree, a->given, a->va, level, v, unmap);
	return MMU_OK;
}

/* OP at VA's entry E at LEVEL (the cached table's; P as for change_at). */
PAGE_INLINE mmu_err_t page_at(struct mmu_tree *tree, const struct page_op *op, enum mmu_level level, mmu_pte_t *e,
			      const struct page_args *a, const struct pt_path *p, bool quick)
{
	mmu_pte_t v = pte_load(e);
	switch (op->kind) {
	case PAGE_MAP:
		return map_at(tree, level, e, v, a->bits);
	case PAGE_WALK:
		return walk_at(tree->mmu, level, a->va, v, pt_cache(tree, level)->upper, a->out);
	case PAGE_UNMAP:
		return change_at(tree, level, e, v, true, a, p, quick);
	case PAGE_PROTECT:
		return change_at(tree, level, e, v, false, a, p, quick);
	}
	return PAGE_DECLINED;
}

/* ---- the fast path: VA's entry in a cached table ---- */

/* OP at LEVEL from the cache, under the lock the caller took: a miss
 * keeps it for the slow path. */
PAGE_INLINE mmu_err_t page_fast_at(struct mmu_tree *tree, bool held, const struct page_op *op, enum mmu_level level,
				   mmu_pte_t *e, const struct page_args *a)
{
	mmu_err_t err = page_at(tree, op, level, e, a, NULL, true);
	if (err != PAGE_MISS && err != PAGE_BELOW)
		op_unlock(tree, held);
	return err;
}

/* A walk: the descent (src/descend.h) from where START says, through
 * PORT. */
PAGE_INLINE mmu_err_t walk_descending(struct mmu_tree *tree, const struct page_args *a, enum descent_start start,
				      struct descent_port port)
{
	enum mmu_level level;
	mmu_pte_t v;
	uint64_t upper;
	descend_from(tree, a->va, start, NULL, &level, &v, &upper, port);
	if (level == MMU_LEVEL_PT)
		return walk_at(tree->mmu, MMU_LEVEL_PT, a->va, v, upper, a->out);
	if (level == MMU_LEVEL_PD)
		return walk_at(tree->mmu, MMU_LEVEL_PD, a->va, v, upper, a->out);
	return walk_at(tree->mmu, level, a->va, v, upper, a->out);
}

/* A read the fast path left under the lock: the descent from where
 * START says (the fast path found the page directory cached or not),
 * where it calls nothing and VA is the tree's to walk; else PAGE_MISS,
 * the lock still held. From the root that is a 4-level tree of a port
 * with a direct map and a metadata array (tree->direct_top): the case a
 * walk over a large, sparse space takes each time, with the level count
 * and the half test's shift (page_walkable) constants. Any other tree
 * descends in the slow path. */
PAGE_INLINE mmu_err_t read_descending(struct mmu_tree *tree, bool held, enum descent_start start,
				      const struct page_args *a)
{
	mmu_err_t err;
	if (start == DESCEND_FROM_ROOT) {
		if (a->va >> (mmu_va_bits(4) - 1) != tree->direct_top)
			return PAGE_MISS;
		struct descent_port port = {true, true, tree->direct_map, tree->direct_root};
		err = walk_descending(tree, a, start, port);
	} else {
		struct descent_port port = descent_port_of(tree->mmu);
		if (!port.direct || !page_walkable(tree, a->va))
			return PAGE_MISS;
		err = walk_descending(tree, a, start, port);
	}
	op_unlock(tree, held);
	return err;
}

/* The fast path of OP on the page at LEVEL: the engine at VA's entry in
 * the table the cache holds for LEVEL (a read: or in the cached page
 * directory). PAGE_BUSY: another CPU holds the lock; PAGE_MISS: the slow
 * path goes on under it; PAGE_BELOW (a read): the descent goes on under
 * it from the cached page directory. */
PAGE_INLINE mmu_err_t page_fast(struct mmu_tree *tree, bool held, const struct page_op *op, enum mmu_level level,
				const struct page_args *a)
{
	if (!page_trylock(tree, held))
		return PAGE_BUSY;
	if (op->may_promote && tree->promote)
		return PAGE_MISS;
	if (op->aligned_by_cache ? pt_cache_covers_page(tree, level, a->va) : pt_cache_covers(tree, level, a->va))
		return page_fast_at(tree, held, op, level, pt_cache_entry(tree, level, a->va), a);
	if (op->reads_only && pt_cache_covers(tree, MMU_LEVEL_PD, a->va))
		return page_fast_at(tree, held, op, MMU_LEVEL_PD, pt_cache_entry(tree, MMU_LEVEL_PD, a->va), a);
	return PAGE_MISS;
}

/* ---- the slow path: under the lock, the cache or VA's path ---- */

/* Where VA's path P ends above LEVEL, in an empty entry: allocate the
 * tables between first (NOMEM changes nothing), then link them top down
 * and write the leaf. */
PAGE_INLINE mmu_err_t map_filling(struct mmu_tree *tree, enum mmu_level level, struct pt_path *p,
				  const struct page_args *a)
{
	struct table_pool pool = {0};
	mmu_err_t err = table_pool_fill(tree->mmu, &pool, p->level - level, !tree->is_kernel);
	if (err == MMU_OK)
		entry_link_path(tree, p, level, a->va, a->bits, &pool);
	return err;
}

/* OP where the cache does not hold VA's table at LEVEL: follow VA's path
 * from the root (which refills the cache). */
PAGE_INLINE mmu_err_t page_along_path(struct mmu_tree *tree, const struct page_op *op, enum mmu_level level,
				      const struct page_args *a)
{
	struct pt_path p;
	pt_path_find(tree, a->va, &p);
	if (p.level == level)
		return page_at(tree, op, level, p.entry[level], a, &p, false);
	if (!op->allocates)
		return PAGE_DECLINED; /* a hole or a leaf above LEVEL, a table at it */
	/* A table at LEVEL (the path went below it) or a huge leaf above. */
	if (p.level < level || pte_load(p.entry[p.level]))
		return MMU_E_DUPLICATED;
	return map_filling(tree, level, &p, a);
}

/* The slow path of OP on the page at LEVEL, under the lock. */
PAGE_INLINE mmu_err_t page_slow_locked(struct mmu_tree *tree, const struct page_op *op, enum mmu_level level,
				       const struct page_args *a)
{
	if ((op->may_promote && tree->promote) || !page_walkable(tree, a->va))
		return PAGE_DECLINED;
	if (op->reads_only) /* a rare walk (5 levels, a port with hooks): one form, the port tested at each level */
		return walk_descending(tree, a, DESCEND_FROM_CACHE, descent_port_of(tree->mmu));
	if (pt_cache_covers(tree, level, a->va))
		return page_at(tree, op, level, pt_cache_entry(tree, level, a->va), a, NULL, false);
	return page_along_path(tree, op, level, a);
}

/* The slow path: HOW as above. PAGE_DECLINED: the lock is dropped. */
PAGE_INLINE mmu_err_t page_slow(struct mmu_tree *tree, unsigned how, const struct page_op *op, enum mmu_level level,
				const struct page_args *a)
{
	bool held = how & PAGE_HELD;
	if (held)
		tree_assert_held((struct mmu_tree_locked){tree});
	else if (!(how & PAGE_TAKEN))
		tree_lock(tree);
	mmu_err_t err = page_slow_locked(tree, op, level, a);
	op_unlock(tree, held);
	return err;
}

/* The fast path declined before taking the lock only for a call the
 * general path answers: the slow path must not hold it then. */
static inline void page_assert_not_taken(struct mmu_tree *tree, unsigned how, mmu_vaddr_t va, uint64_t len)
{
	MMU_ASSERT(tree->mmu, !(how & PAGE_TAKEN), "page: va %lx len %lx declined under the fast path's lock",
		   (unsigned long)va, (unsigned long)len);
}

/* ---- each call: its fast path, then its slow path, then the general one ---- */

/* How the slow path is entered after the fast path answered ERR. */
static inline unsigned page_how(bool held, mmu_err_t err)
{
	return held | (err == PAGE_MISS ? PAGE_TAKEN : 0);
}

static inline bool page_gave_up(mmu_err_t err)
{
	return __builtin_expect(err == PAGE_MISS || err == PAGE_DECLINED || err == PAGE_BUSY, 0);
}

PAGE_SLOW mmu_err_t map_slow(struct mmu_tree *tree, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
			     const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch, unsigned how)
{
	mmu_err_t err = PAGE_DECLINED;
	enum mmu_level level = page_level(len);
	mmu_pte_t leaf = !opts && level ? map_leaf(tree, level, va, pa, prot) : 0;
	if (leaf)
		err = page_slow(tree, how, &op_map, level, &(struct page_args){.va = va, .bits = leaf});
	else
		page_assert_not_taken(tree, how, va, len);
	return err != PAGE_DECLINED ? err : map_general(tree, how & PAGE_HELD, va, pa, len, prot, opts, batch);
}

PAGE_INLINE mmu_err_t map_fast(struct mmu_tree *tree, bool held, enum mmu_level level, mmu_vaddr_t va, mmu_pa_t pa,
			       unsigned prot)
{
	mmu_pte_t leaf = map_leaf(tree, level, va, pa, prot);
	if (!leaf)
		return PAGE_DECLINED;
	return page_fast(tree, held, &op_map, level, &(struct page_args){.va = va, .bits = leaf});
}

PAGE_INLINE mmu_err_t page_map(struct mmu_tree *tree, bool held, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len,
			       unsigned prot, const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch)
{
	mmu_err_t err = PAGE_DECLINED;
	if (!opts && len == mmu_level_span(MMU_LEVEL_PT))
		err = map_fast(tree, held, MMU_LEVEL_PT, va, pa, prot);
	else if (!opts && len == mmu_level_span(MMU_LEVEL_PD))
		err = map_fast(tree, held, MMU_LEVEL_PD, va, pa, prot);
	return page_gave_up(err) ? map_slow(tree, va, pa, len, prot, opts, batch, page_how(held, err)) : err;
}

PAGE_SLOW mmu_err_t walk_slow(struct mmu_tree *tree, mmu_vaddr_t va, struct mmu_translation *out, unsigned how)
{
	mmu_err_t err = page_slow(tree, how, &op_walk, MMU_LEVEL_PT, &(struct page_args){.va = va, .out = out});
	return err != PAGE_DECLINED ? err : walk_general(tree, how & PAGE_HELD, va, out);
}

/* A walk the fast path left under the lock: the descent from START,
 * out of line and calling nothing (read_descending), else the slow path.
 * One instance for each start and each way the lock was had (HELD: a
 * _locked call), the fast path knowing both: with HELD a constant the
 * descent has a register more. */
PAGE_INLINE mmu_err_t walk_missed(struct mmu_tree *tree, bool held, enum descent_start start, mmu_vaddr_t va,
				  struct mmu_translation *out)
{
	mmu_err_t err = read_descending(tree, held, start, &(struct page_args){.va = va, .out = out});
	return err == PAGE_MISS ? walk_slow(tree, va, out, held | PAGE_TAKEN) : err;
}

/* After PAGE_MISS: no cached table covers VA. */
PAGE_SLOW mmu_err_t walk_missed_root(struct mmu_tree *tree, mmu_vaddr_t va, struct mmu_translation *out)
{
	return walk_missed(tree, false, DESCEND_FROM_ROOT, va, out);
}

PAGE_SLOW mmu_err_t walk_missed_root_held(struct mmu_tree *tree, mmu_vaddr_t va, struct mmu_translation *out)
{
	return walk_missed(tree, true, DESCEND_FROM_ROOT, va, out);
}

/* After PAGE_BELOW: the cached page directory covers VA. */
PAGE_SLOW mmu_err_t walk_missed_pd(struct mmu_tree *tree, mmu_vaddr_t va, struct mmu_translation *out)
{
	return walk_missed(tree, false, DESCEND_FROM_PD, va, out);
}

PAGE_SLOW mmu_err_t walk_missed_pd_held(struct mmu_tree *tree, mmu_vaddr_t va, struct mmu_translation *out)
{
	return walk_missed(tree, true, DESCEND_FROM_PD, va, out);
}

PAGE_INLINE mmu_err_t page_walk(struct mmu_tree *tree, bool held, mmu_vaddr_t va, struct mmu_translation *out)
{
	mmu_err_t err = page_fast(tree, held, &op_walk, MMU_LEVEL_PT, &(struct page_args){.va = va, .out = out});
	if (err == PAGE_MISS)
		return held ? walk_missed_root_held(tree, va, out) : walk_missed_root(tree, va, out);
	if (err == PAGE_BELOW)
		return held ? walk_missed_pd_held(tree, va, out) : walk_missed_pd(tree, va, out);
	return err == PAGE_BUSY ? walk_slow(tree, va, out, held) : err;
}

/* An unmap (OP: op_unmap) or a protect to PROT (op_protect). */
PAGE_INLINE mmu_err_t change_slow(struct mmu_tree *tree, unsigned how, const struct page_op *op, mmu_vaddr_t va,
				  uint64_t len, unsigned prot, struct mmu_tlb_batch *given)
{
	bool unmap = op->kind == PAGE_UNMAP;
	mmu_err_t err = PAGE_DECLINED;
	enum mmu_level level = page_level(len);
	bool single = level && (unmap || page_prot_ok(prot));
	if (single && mmu_is_aligned(va, mmu_level_span(level)))
		err = page_slow(tree, how, op, level,
				&(struct page_args){.va = va,
						    .bits = unmap ? 0 : prot_to_pte(tree->mmu, prot),
						    .given = given});
	else if (single && (how & PAGE_TAKEN))
		op_unlock(tree, how & PAGE_HELD); /* unaligned: the fast path's cache test (aligned_by_cache) missed */
	else
		page_assert_not_taken(tree, how, va, len);
	if (err != PAGE_DECLINED)
		return err;
	bool held = how & PAGE_HELD;
	return unmap ? unmap_general(tree, held, va, len, given) : protect_general(tree, held, va, len, prot, given);
}

PAGE_SLOW mmu_err_t unmap_slow(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *given,
			       unsigned how)
{
	return change_slow(tree, how, &op_unmap, va, len, 0, given);
}

PAGE_SLOW mmu_err_t protect_slow(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned prot,
				 struct mmu_tlb_batch *given, unsigned how)
{
	return change_slow(tree, how, &op_protect, va, len, prot, given);
}

/* The fast path of an unmap or a protect of LEN bytes: a valid single
 * page, else PAGE_DECLINED. */
PAGE_INLINE mmu_err_t change_page_fast(struct mmu_tree *tree, bool held, const struct page_op *op, mmu_vaddr_t va,
				       uint64_t len, unsigned prot, struct mmu_tlb_batch *given)
{
	bool unmap = op->kind == PAGE_UNMAP;
	if (!unmap && !page_prot_ok(prot))
		return PAGE_DECLINED;
	const struct page_args a = {.va = va, .bits = unmap ? 0 : prot_to_pte(tree->mmu, prot), .given = given};
	/* The 2M page is tested first, so that its path is the shorter one:
	 * the 4K page's takes the extra test and the jump to the tail the two
	 * share (three instructions; its own work is the smaller). With the
	 * length a constant (LTO) neither pays. */
	if (len == mmu_level_span(MMU_LEVEL_PD))
		return page_fast(tree, held, op, MMU_LEVEL_PD, &a);
	/* Likely: any other length goes on to the general path, next to which
	 * a branch taken costs nothing, and the 4K page's path then does not
	 * set up the slow path's call before its test. */
	if (__builtin_expect(len == mmu_level_span(MMU_LEVEL_PT), 1))
		return page_fast(tree, held, op, MMU_LEVEL_PT, &a);
	return PAGE_DECLINED;
}

PAGE_INLINE mmu_err_t page_unmap(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len,
				 struct mmu_tlb_batch *batch)
{
	mmu_err_t err = change_page_fast(tree, held, &op_unmap, va, len, 0, batch);
	return page_gave_up(err) ? unmap_slow(tree, va, len, batch, page_how(held, err)) : err;
}

PAGE_INLINE mmu_err_t page_protect(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, unsigned prot,
				   struct mmu_tlb_batch *batch)
{
	mmu_err_t err = change_page_fast(tree, held, &op_protect, va, len, prot, batch);
	return page_gave_up(err) ? protect_slow(tree, va, len, prot, batch, page_how(held, err)) : err;
}

/* ---- the public calls: each instantiates its path for a plain call
 * (the lock taken and dropped here) and for a _locked one (HELD) ----
 * Defined `inline` (external definitions all the same: include/mmu64/pt.h
 * declares them without it), so that a build with link-time optimization
 * weighs inlining their fast paths into the caller by the limits of
 * functions meant to be inlined (in the benchmark, gcc 12 inlines unmap
 * and protect at every call site; map and walk, larger, only where they
 * have few). */

inline mmu_err_t mmu_map(struct mmu_tree *tree, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
		  const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch)
{
	return page_map(tree, false, va, pa, len, prot, opts, batch);
}

inline mmu_err_t mmu_map_locked(struct mmu_tree_locked held, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
			 const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch)
{
	return page_map(held.tree, true, va, pa, len, prot, opts, batch);
}

inline mmu_err_t mmu_walk(struct mmu_tree *tree, mmu_vaddr_t va, struct mmu_translation *out)
{
	return page_walk(tree, false, va, out);
}

inline mmu_err_t mmu_walk_locked(struct mmu_tree_locked held, mmu_vaddr_t va, struct mmu_translation *out)
{
	return page_walk(held.tree, true, va, out);
}

inline mmu_err_t mmu_unmap(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch)
{
	return page_unmap(tree, false, va, len, batch);
}

inline mmu_err_t mmu_unmap_locked(struct mmu_tree_locked held, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch)
{
	return page_unmap(held.tree, true, va, len, batch);
}

inline mmu_err_t mmu_protect(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned prot,
		      struct mmu_tlb_batch *batch)
{
	return page_protect(tree, false, va, len, prot, batch);
}

inline mmu_err_t mmu_protect_locked(struct mmu_tree_locked held, mmu_vaddr_t va, uint64_t len, unsigned prot,
			     struct mmu_tlb_batch *batch)
{
	return page_protect(held.tree, true, va, len, prot, batch);
}
