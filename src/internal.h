/* SPDX-License-Identifier: MIT */
/* The page-table layer's own declarations (src/pt_layer.h holds the part
 * the process-space layer uses too): the CPU id, the tree lock, the
 * table cache and the single-address paths, the entry writer
 * (src/entry.h), the single-page calls, the TLB and PCID internals. Not
 * installed; the process-space files do not include it. */
#ifndef MMU64_INTERNAL_H
#define MMU64_INTERNAL_H

#include "pt_layer.h"

/* ---- the tree lock (the process layer's changes take it in the
 * runners, src/walk.c) ---- */
/* lock_spin for TREE's lock: one argument, so that the single-page calls
 * that inline tree_lock keep their registers for the fast path. */
void tree_lock_contended(struct mmu_tree *tree);
static inline void tree_lock(struct mmu_tree *tree)
{
	if (__builtin_expect(atomic_exchange_explicit(&tree->locked, true, memory_order_acquire), 0))
		tree_lock_contended(tree);
}
static inline void tree_unlock(struct mmu_tree *tree)
{
	atomic_store_explicit(&tree->locked, false, memory_order_release);
}
/* Free TREE's user-half tables and ALSO (PA 0: nothing) after one flush,
 * and mark it dead (lock held, TREE loaded nowhere): the end of
 * pt_destroy_after_change. */
void tree_destroy_locked(struct mmu_tree *tree, mmu_pa_t also);

/* ---- the page-table layer's own parts of the walker and its pools
 * (the process layer reaches them through the runners) ---- */
mmu_err_t table_pool_fill(struct mmu *mmu, struct table_pool *pool, uint64_t n, bool user);
mmu_pa_t table_pool_take(struct mmu *mmu, struct table_pool *pool);
void table_pool_drain(struct mmu *mmu, struct table_pool *pool);
void pt_walk_init(struct pt_walk *w, struct mmu_tree *tree, const struct pt_visitor *visitor, void *op);
/* Prepare: the same walk of the same visitor, committing nothing. Where
 * the commit would install a table or split a huge leaf, the walk goes on
 * into a read-only stand-in (a table of empty entries, or of leaves), so
 * the visitor makes the same decisions below it; the entry writer counts
 * the tables those decisions take. Returns that count, the size of the
 * pool the commit (pt_walk_range, same visitor) needs. Leave hooks do not
 * run (they only free and promote); a visitor's errors (DUPLICATED, no
 * leaf) are found here, before anything changed. */
uint64_t pt_walk_prepare(struct pt_walk *w, mmu_vaddr_t va, mmu_vaddr_t last);
/* An operation that changes a tree, as one call: the prepare run, the
 * visitor's verdict on it (`prepared`), the tables it counted taken into
 * the walk's pool (NOMEM: nothing changed), then the commit, which takes
 * exactly those (asserted). Under the tree's lock, w->batch set. */
mmu_err_t pt_walk_op(struct pt_walk *w, mmu_vaddr_t va, mmu_vaddr_t last);
/* B flushes whole TLBs: GLOBAL, their global entries too; ALL_CPUS, on
 * every CPU, whatever it runs. */
void tlb_batch_want_full(struct mmu_tlb_batch *b, bool global, bool all_cpus);

/* ---- port wrappers ---- */

static inline unsigned port_cpu_id(const struct mmu *mmu) { return mmu->port.ops->cpu_id(mmu->port.ctx); }

/* Flags of a non-leaf entry the library creates (VECTORS.md). */
static inline mmu_pte_t table_entry_flags(bool user_half)
{
	return MMU_PTE_P | MMU_PTE_RW | (user_half ? MMU_PTE_US : 0);
}

/* A _locked call's handle must come from mmu_tree_lock, still held. */
static inline void tree_assert_held(struct mmu_tree_locked held)
{
	MMU_ASSERT(held.tree->mmu, atomic_load_explicit(&held.tree->locked, memory_order_relaxed),
		   "a _locked call on tree %lx whose lock is not held", (unsigned long)held.tree->root.bits);
}

/* The lock of a call: taken and dropped here unless the caller holds it
 * already (the _locked calls, include/mmu64/tree.h). */
static inline void op_lock(struct mmu_tree *tree, bool held)
{
	if (!held)
		tree_lock(tree);
}
static inline void op_unlock(struct mmu_tree *tree, bool held)
{
	if (!held)
		tree_unlock(tree);
}

/* TREE (a user tree) is about to hold a global leaf. Set before the leaf
 * is written: a CPU that leaves TREE after caching the leaf must see it
 * (mmu_tree_load then drops global entries too). */
static inline void tree_note_global(struct mmu_tree *tree)
{
	/* acq_rel: the leaf's store cannot move above it. */
	atomic_exchange_explicit(&tree->has_global, true, memory_order_acq_rel);
}

/* No CPU runs TREE (a user tree), read under its lock: a CPU joins the mask
 * only under that lock (mmu_tree_load), so until we unlock no hardware
 * walker sets A or D in its entries and no TLB gains any of them. Without
 * PCIDs a CPU that ran it flushed it with its next CR3 write. */
static inline bool tree_idle(struct mmu_tree *tree)
{
	return !tree->is_kernel && atomic_load_explicit(&tree->active_cpus, memory_order_relaxed) == 0;
}

/* The last byte of the entry at LEVEL that contains VA, clipped to LAST.
 * Inclusive ends so the top of the address space does not wrap to 0. */
static inline mmu_vaddr_t pt_entry_last(mmu_vaddr_t va, enum mmu_level level, mmu_vaddr_t last)
{
	mmu_vaddr_t end = va | (mmu_level_span(level) - 1);
	return end < last ? end : last;
}

/* Where the fold of a leaf's path (src/entry.h) finds its MMU_PROT_* in
 * mmu->pte_prot: its three bits rotated left by one, so that not-XD (bit
 * 63) lands on bit 0, RW on 2 and US on 3 (one rotate and one mask, where
 * gathering them into 0..7 takes two shifts, two masks and an OR). The
 * rotation and the mask are 64-bit so that the compiler keeps them a
 * rotate. */
#define PROT_INDEX_MASK 0xdu
static inline uint64_t prot_index(uint64_t folded)
{
	_Static_assert(MMU_PTE_RW == 2 && MMU_PTE_US == 4 && MMU_PTE_XD == 1ull << 63, "pte_prot index");
	uint64_t rotated = folded << 1 | folded >> 63;
	return rotated & PROT_INDEX_MASK;
}

/* MMU_PROT_* from the fold of a leaf's path (src/entry.h): RW and US
 * ANDed, and in the XD position whether no level set XD. */
static inline unsigned prot_of_bits(const struct mmu *mmu, uint64_t folded)
{
	return mmu->pte_prot[prot_index(folded)];
}

/* TREE's half, the kernel's (IS_KERNEL) or the user one, set once where
 * the tree is made: VA is in it iff its bits from the half's top bit up
 * (VA >> half_shift) all equal that bit, half_top. A dead tree's half_top
 * is one no VA has (TREE_HALF_DEAD: VA >> half_shift is below 2^17), so
 * the one test also refuses every VA of a dead tree (src/page.c,
 * page_walkable). */
#define TREE_HALF_DEAD UINT32_MAX
static inline void tree_set_half(struct mmu_tree *tree, bool is_kernel)
{
	unsigned shift = mmu_va_bits(tree->mmu->levels) - 1;
	tree->is_kernel = is_kernel;
	tree->half_shift = (uint8_t)shift;
	tree->half_top = is_kernel ? (uint32_t)(~0ull >> shift) : 0;
	tree->direct_top = TREE_HALF_DEAD; /* until it has a root (tree_set_root) */
}

/* TREE's root is ROOT (its own table, made with it), after its half is
 * set: a walk that misses the table cache may start from the root's
 * entries with no hook where the port maps tables directly and the tree
 * has four levels (src/page.c, read_descending); then direct_top is
 * half_top, else it is TREE_HALF_DEAD, so that one test of VA (against a
 * 64-bit field: a compare with memory) refuses both a VA outside the
 * half and a tree that must descend otherwise. ROOT 0: the tree has none
 * (dead). */
static inline void tree_set_root(struct mmu_tree *tree, mmu_pa_t root)
{
	const struct mmu *mmu = tree->mmu;
	bool direct = root.bits && mmu->port_direct && mmu->levels == 4;
	tree->root = root;
	tree->direct_root = direct ? (mmu_pte_t *)(mmu->port.direct_map + root.bits) : NULL;
	tree->direct_top = direct ? tree->half_top : TREE_HALF_DEAD;
	tree->direct_map = direct ? mmu->port.direct_map : NULL;
}

/* ---- the table cache (struct mmu_leaf_cache), under the tree lock ---- */
static inline struct mmu_leaf_cache *pt_cache(struct mmu_tree *tree, enum mmu_level level)
{
	return &tree->leaf_cache[level - 1];
}
/* The base of a cache that holds nothing: bits 12 and 21, which no VA
 * masked by either test below keeps (each clears the bits of the
 * table's span above the page: 12..20 for a page table, 21..29 for a page
 * directory), so a lookup needs no test of its own for emptiness. */
#define PT_CACHE_EMPTY ((mmu_vaddr_t)(1ull << 12 | 1ull << 21))
/* Whether VA lies in TREE's cached table at LEVEL (PT or PD), and its
 * entry there when it does. */
static inline bool pt_cache_covers(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va)
{
	return (va & ~(mmu_level_span(level + 1) - 1)) == pt_cache(tree, level)->base;
}
/* The same, and VA is aligned to the page at LEVEL: one test. */
static inline bool pt_cache_covers_page(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va)
{
	uint64_t mask = ~(mmu_level_span(level + 1) - 1) | (mmu_level_span(level) - 1);
	return (va & mask) == pt_cache(tree, level)->base;
}
static inline mmu_pte_t *pt_cache_entry(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va)
{
	return &pt_cache(tree, level)->entries[mmu_va_index(va, level)];
}
static inline void pt_cache_drop(struct mmu_tree *tree, enum mmu_level level)
{
	*pt_cache(tree, level) = (struct mmu_leaf_cache){.base = PT_CACHE_EMPTY};
}
/* An entry at LEVEL changed: the cached tables below it may be gone. */
static inline void pt_cache_drop_below(struct mmu_tree *tree, enum mmu_level level)
{
	for (unsigned l = MMU_LEVEL_PT; l < (unsigned)level && l <= MMU_CACHED_LEVELS; l++)
		pt_cache(tree, (enum mmu_level)l)->base = PT_CACHE_EMPTY;
}
/* A new tree caches nothing. */
static inline void pt_cache_init(struct mmu_tree *tree)
{
	for (unsigned l = MMU_LEVEL_PT; l <= MMU_CACHED_LEVELS; l++)
		pt_cache_drop(tree, (enum mmu_level)l);
}
/* VA's path from a tree's root: the table holding VA's entry at each level
 * and that entry, from the top down to LEVEL, the first entry that is not
 * a table (empty, a leaf) or the page table's. */
struct pt_path {
	enum mmu_level level;
	mmu_pa_t table[MMU_LEVEL_PML5 + 1];
	mmu_pte_t *entry[MMU_LEVEL_PML5 + 1];
};
/* The walker's single-address form (src/descend.h) from the root, for VA
 * in TREE's own half, recording its path into P: down to the first entry
 * that is not a table, or to VA's page-table entry, caching the page
 * directory or page table that holds it. */
void pt_path_find(struct mmu_tree *tree, mmu_vaddr_t va, struct pt_path *p);

/* The single-address descent shares these with the single-page calls and
 * the range walker: whether a descent goes on below entry V at LEVEL (a
 * present entry that is not a leaf: mmu_pte_is_leaf, PS only in a PDPTE
 * or PDE, so a PML4 or PML5 entry tests P alone); and the caching of a page table or page directory (LEVEL,
 * at TABLE whose ENTRIES the caller has mapped already) on VA's path, with
 * UPPER, what the levels above allow (a user tree never caches the kernel
 * half: the kernel tree's lock guards those tables). */
static inline bool pt_entry_goes_on(mmu_pte_t v, enum mmu_level level)
{
	return level > MMU_LEVEL_PT && mmu_pte_present(v) && !mmu_pte_is_leaf(v, level);
}
static inline void pt_cache_set(struct mmu_tree *tree, enum mmu_level level, struct mmu_frame_meta *meta,
				mmu_pte_t *entries, mmu_vaddr_t va, uint64_t upper)
{
	*pt_cache(tree, level) = (struct mmu_leaf_cache){
		.base = va & ~(mmu_level_span(level + 1) - 1),
		.entries = entries,
		.meta = meta,
		.upper = upper,
	};
}
/* The metadata of the table TREE caches at LEVEL. A walk through the
 * direct map caches a page table without it (src/descend.h,
 * descent_cache): a read needs none, and a walk over a large sparse
 * space misses the cache on every call, so it would pay for finding it
 * every time. The first change through the table finds it then, from
 * the table's address in the direct map. */
static inline struct mmu_frame_meta *pt_cache_meta(struct mmu_tree *tree, enum mmu_level level)
{
	struct mmu_leaf_cache *c = pt_cache(tree, level);
	if (level == MMU_LEVEL_PT && __builtin_expect(!c->meta, 0))
		c->meta = table_meta_of_entries(tree->mmu, c->entries);
	return c->meta;
}

#include "entry.h"

/* Take BATCH if given, else start LOCAL; end_batch flushes LOCAL. */
struct mmu_tlb_batch *begin_batch(struct mmu_tree *tree, struct mmu_tlb_batch *given, struct mmu_tlb_batch *local);
void end_batch(struct mmu_tlb_batch *used, struct mmu_tlb_batch *local);
/* PAGES leaves of 1<<SHIFT bytes from VA need invalidation; GLOBAL when
 * any of them was a global leaf (the entry writer's record). */
void tlb_batch_add(struct mmu_tlb_batch *b, mmu_vaddr_t va, unsigned shift, uint32_t pages, bool global);
/* A leaf B records was removed or now maps another frame (B->unmapped). */
static inline void tlb_batch_note_unmapped(struct mmu_tlb_batch *b) { b->unmapped = true; }

/* ---- map, walk, unmap, protect: the public calls are src/page.c's
 * (single pages from the table cache); everything else goes on to these
 * general paths (map.c, lookup.c, change.c). HELD: the caller holds
 * TREE's lock (the _locked calls). ---- */
mmu_err_t map_general(struct mmu_tree *tree, bool held, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
		      const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch);
mmu_err_t walk_general(struct mmu_tree *tree, bool held, mmu_vaddr_t va, struct mmu_translation *out);
mmu_err_t unmap_general(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch);
mmu_err_t protect_general(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, unsigned prot,
			  struct mmu_tlb_batch *batch);

/* ---- TLB internals ---- */
void tlb_apply_local(struct mmu *mmu, unsigned cpu, const struct mmu_tlb_batch *b);

/* ---- PCIDs (src/pcid.c) ---- */
static inline bool tree_user_pcid(const struct mmu_tree *tree)
{
	return atomic_load_explicit(&tree->user_pcid, memory_order_relaxed);
}
bool pcid_valid_on(const struct mmu_tree *tree, unsigned cpu);
/* The CR3 value that loads TREE on CPU, assigning a PCID if needed. */
uint64_t pcid_cr3_for_load(struct mmu_tree *tree, unsigned cpu);
/* CPU drops its claim on TREE's PCID (after flushing it, or when invalid). */
void pcid_forget(struct mmu_tree *tree, unsigned cpu);
/* Flush TREE's PCID on CPU (the calling CPU), where TREE is not loaded. */
void pcid_flush_context(struct mmu *mmu, unsigned cpu, struct mmu_tree *tree);

#endif
