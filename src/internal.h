/* Library-internal declarations: port wrappers, assertions, the range
 * walker every operation uses, the prepared-table pool. Not installed. */
#ifndef MMU64_INTERNAL_H
#define MMU64_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "mmu64/mmu64.h"

/* ---- formatting and assertions (no libc) ---- */

/* A tiny vsnprintf: %s %c %d %u %x %lu %lx %ld, flags '0' and a width, %%.
 * Always NUL-terminates; returns the length written. */
size_t mmu_vfmt(char *buf, size_t size, const char *fmt, va_list ap);
size_t mmu_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Formats the message and calls the port's panic hook; never returns. */
_Noreturn void mmu_panicf(const struct mmu *mmu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define MMU_ASSERT(mmu, cond, ...)                                                   \
	do {                                                                         \
		if (__builtin_expect(!(cond), 0))                                    \
			mmu_panicf((mmu), "assertion `" #cond "` failed: " __VA_ARGS__); \
	} while (0)

/* ---- port wrappers ---- */

static inline unsigned port_cpu_id(const struct mmu *mmu) { return mmu->port.ops->cpu_id(mmu->port.ctx); }

static inline void *port_p2v(const struct mmu *mmu, mmu_pa_t pa)
{
	if (mmu->port.direct_map)
		return mmu->port.direct_map + pa.bits;
	return mmu->port.ops->phys_to_virt(mmu->port.ctx, pa);
}

static inline struct mmu_frame_meta *port_meta(const struct mmu *mmu, mmu_pa_t pa)
{
	if (mmu->port.meta_map)
		return &mmu->port.meta_map[pa.bits >> MMU_PAGE_SHIFT];
	return mmu->port.ops->frame_meta(mmu->port.ctx, pa);
}

static inline mmu_pte_t *table_of(const struct mmu *mmu, mmu_pa_t pa) { return (mmu_pte_t *)port_p2v(mmu, pa); }

/* ---- entries as the hardware sees them ----
 * A CPU may walk a table while we read it: every entry read is a single
 * atomic load so that it never sees a torn value. Stores: src/entry.h. */

static inline mmu_pte_t pte_load(const mmu_pte_t *e) { return __atomic_load_n(e, __ATOMIC_RELAXED); }

/* meta->flags of library-owned table pages. */
enum {
	META_TABLE = 1u << 0,  /* a page-table page of some tree */
	META_PINNED = 1u << 1, /* root or kernel-half top table: never freed by emptiness */
	META_USER = 1u << 2,   /* belongs to a user tree (counts in `stats`) */
	META_DEFER_SHIFT = 8,  /* deferred free: (use << 2 | size) << shift */
};

/* The top level of the tree: PML4 or PML5. */
static inline enum mmu_level mmu_top_level(const struct mmu *mmu) { return (enum mmu_level)mmu->levels; }

/* Flags of a non-leaf entry the library creates (VECTORS.md). */
static inline mmu_pte_t table_entry_flags(bool user_half)
{
	return MMU_PTE_P | MMU_PTE_RW | (user_half ? MMU_PTE_US : 0);
}

/* ---- tree lock ---- */
/* Spins serving shootdown requests: the holder may be waiting for ours. */
void tree_lock_contended(struct mmu_tree *tree);
/* Free TREE's user-half tables and mark it dead (lock held, TREE loaded
 * nowhere): the body of mmu_tree_destroy, which process exit shares. */
void tree_destroy_locked(struct mmu_tree *tree);
static inline void tree_lock(struct mmu_tree *tree)
{
	if (__builtin_expect(atomic_exchange_explicit(&tree->locked, true, memory_order_acquire), 0))
		tree_lock_contended(tree);
}
static inline void tree_unlock(struct mmu_tree *tree)
{
	atomic_store_explicit(&tree->locked, false, memory_order_release);
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

/* ---- table pages ---- */
mmu_err_t table_alloc(struct mmu *mmu, bool user, mmu_pa_t *out);
void table_free_now(struct mmu *mmu, mmu_pa_t pa);

/* A list of tables allocated before a commit, so the commit cannot fail. */
struct table_pool {
	uint64_t head; /* PA of the first table, chained by meta link */
	uint64_t count;
};
mmu_err_t table_pool_fill(struct mmu *mmu, struct table_pool *pool, uint64_t n, bool user);
mmu_pa_t table_pool_take(struct mmu *mmu, struct table_pool *pool);
void table_pool_drain(struct mmu *mmu, struct table_pool *pool);

/* The last byte of the entry at LEVEL that contains VA, clipped to LAST.
 * Inclusive ends so the top of the address space does not wrap to 0. */
static inline mmu_vaddr_t pt_entry_last(mmu_vaddr_t va, enum mmu_level level, mmu_vaddr_t last)
{
	mmu_vaddr_t end = va | (mmu_level_span(level) - 1);
	return end < last ? end : last;
}

/* ---- the range walker ----
 * One walker serves every operation. It visits, in address order, each entry
 * that overlaps [va, last] level by level, going down once and sideways
 * after that. The visitor decides per entry: go into the table it points to
 * (allocating or splitting it first if it wants), or move on. */

enum pt_step {
	PT_NEXT,    /* done with this entry */
	PT_DESCEND, /* the entry is (now) a table: visit its entries */
	PT_STOP,    /* end the walk */
};

struct pt_walk;

struct pt_visitor {
	/* E is the entry at LEVEL for [VA, LAST], already clipped to the walk's
	 * range. Only PT_DESCEND on a present non-leaf entry. */
	enum pt_step (*entry)(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
			      mmu_vaddr_t last);
	/* Optional: called after the walk came back up from the table E points
	 * to (post-order: unmap frees tables it emptied here). */
	void (*leave)(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_vaddr_t last);
	/* Optional: takes the place of ENTRY for a page table's COUNT entries
	 * from FIRST (VA is the first one's address), so that a range
	 * operation runs one tight loop per table instead of a call per 4K
	 * page (Linux's pte_range callbacks). */
	enum pt_step (*pt_run)(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count, mmu_vaddr_t va);
};

struct pt_walk {
	struct mmu *mmu;
	struct mmu_tree *tree;
	const struct pt_visitor *visitor;
	void *op;                           /* the operation's own state */
	struct mmu_tlb_batch *batch;        /* where invalidations go (may be NULL for reads) */
	struct table_pool pool;             /* tables prepared for the commit */
	mmu_pa_t root;                      /* where the range walk starts: the tree's root */
	bool stop;
	bool no_cache;                      /* a read-only view: never fill the tree's leaf cache */
	mmu_pte_t path[MMU_LEVEL_PML5 + 1]; /* path[L]: entry at level L above the current one */
	mmu_pa_t table[MMU_LEVEL_PML5 + 1]; /* table[L]: the table holding level-L entries */
};

void pt_walk_init(struct pt_walk *w, struct mmu_tree *tree, const struct pt_visitor *visitor, void *op);
/* A read-only walk of the tables under ROOT, a root other than TREE's that
 * shares TREE's mmu (a KPTI shadow): TREE's leaf cache is left alone. The
 * visitor must not write. */
void pt_walk_view(struct pt_walk *w, struct mmu_tree *tree, mmu_pa_t root, const struct pt_visitor *visitor, void *op);
/* Visit [VA, LAST] (inclusive, canonical, one half). */
void pt_walk_range(struct pt_walk *w, mmu_vaddr_t va, mmu_vaddr_t last);

/* MMU_PROT_* from the combined bits of a leaf's path: ALL_AND (RW, US
 * ANDed), ANY_XD (src/entry.h folds them). */
static inline unsigned prot_of_bits(const struct mmu *mmu, uint64_t all_and, uint64_t any_xd)
{
	_Static_assert(MMU_PTE_RW == 2 && MMU_PTE_US == 4 && MMU_PTE_XD == 1ull << 63, "pte_prot index");
	return mmu->pte_prot[((all_and >> 1) & 3) | ((any_xd >> 61) & 4)];
}

/* ---- the table cache (struct mmu_leaf_cache), under the tree lock ---- */
static inline struct mmu_leaf_cache *pt_cache(struct mmu_tree *tree, enum mmu_level level)
{
	return &tree->leaf_cache[level - 1];
}
/* The entry for VA at LEVEL (PT or PD) when VA lies in TREE's cached
 * table of that level, else NULL. */
static inline mmu_pte_t *pt_cache_lookup(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va)
{
	const struct mmu_leaf_cache *c = pt_cache(tree, level);
	if (!c->entries || (va & ~(mmu_level_span(level + 1) - 1)) != c->base)
		return NULL;
	return &c->entries[mmu_va_index(va, level)];
}
/* An entry at LEVEL changed: the cached tables below it may be gone. */
static inline void pt_cache_drop_below(struct mmu_tree *tree, enum mmu_level level)
{
	for (unsigned l = MMU_LEVEL_PT; l < (unsigned)level && l <= MMU_CACHED_LEVELS; l++)
		pt_cache(tree, (enum mmu_level)l)->entries = NULL;
}
/* VA's path from a tree's root: the table holding VA's entry at each level
 * and that entry, from the top down to LEVEL, the first entry that is not
 * a table (empty, a leaf) or the page table's. */
struct pt_path {
	enum mmu_level level;
	mmu_pa_t table[MMU_LEVEL_PML5 + 1];
	mmu_pte_t *entry[MMU_LEVEL_PML5 + 1];
};
/* The walker's single-address form (src/walk.c), for VA in TREE's own
 * half: records the path and caches its page directory and page table. */
void pt_path_find(struct mmu_tree *tree, mmu_vaddr_t va, struct pt_path *p);
/* Cache the tables on VA's path, for single-page calls that missed. */
void pt_cache_descend(struct mmu_tree *tree, mmu_vaddr_t va);
/* The metadata of the table holding the current level-LEVEL entries. */
static inline struct mmu_frame_meta *pt_table_meta(const struct pt_walk *w, enum mmu_level level)
{
	return port_meta(w->mmu, w->table[level]);
}

/* True when the table holding level-LEVEL entries may not be freed when
 * empty (a root, a kernel top). */
static inline bool pt_table_is_pinned(const struct pt_walk *w, enum mmu_level level)
{
	return (pt_table_meta(w, level)->flags & META_PINNED) != 0;
}

#include "entry.h"

/* ---- checks shared by map, unmap, protect ---- */
/* INVALID unless [VA, VA+LEN) is a non-empty range in TREE's half. */
mmu_err_t range_check(const struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len);

/* User pages of the kernel half (src/kernel_user.c): set US above the
 * leaves of [VA, VA+LEN) in TREE (lock held); whether [VA, LAST] lies in /
 * overlaps the ranges mmu_kernel_map_user mapped. */
void kernel_user_paths(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len);
bool kernel_user_range(const struct mmu *mmu, mmu_vaddr_t va, mmu_vaddr_t last);
bool kernel_user_overlaps(const struct mmu *mmu, mmu_vaddr_t va, mmu_vaddr_t last);
/* The argument checks of a protect, in VECTORS.md's order: INVALID (range
 * or prot bits), UNALIGNED, INVALID_PERMISSION (no MMU_PROT_R). */
mmu_err_t protect_check(const struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned prot);
/* INVALID for bits other than MMU_PROT_*. */
static inline mmu_err_t prot_check(unsigned prot)
{
	return (prot & ~(MMU_PROT_R | MMU_PROT_W | MMU_PROT_X | MMU_PROT_U)) ? MMU_E_INVALID : MMU_OK;
}
/* The RW, US and XD bits PROT (valid) asks for: a table made by mmu_init,
 * since every single-page map and protect needs it. */
static inline uint64_t prot_to_pte(const struct mmu *mmu, unsigned prot)
{
	return mmu->prot_pte[prot & 15];
}

/* Take BATCH if given, else start LOCAL; end_batch flushes LOCAL. */
struct mmu_tlb_batch *begin_batch(struct mmu_tree *tree, struct mmu_tlb_batch *given, struct mmu_tlb_batch *local);
void end_batch(struct mmu_tlb_batch *used, struct mmu_tlb_batch *local);
/* A leaf B records was removed or now maps another frame (B->unmapped). */
static inline void tlb_batch_note_unmapped(struct mmu_tlb_batch *b) { b->unmapped = true; }
/* B flushes whole TLBs: GLOBAL, their global entries too; ALL_CPUS, on
 * every CPU, whatever it runs. */
void tlb_batch_want_full(struct mmu_tlb_batch *b, bool global, bool all_cpus);

/* ---- map, walk, unmap, protect: single pages from the table cache
 * (src/page.c), everything else through the general paths. HELD: the
 * caller holds TREE's lock (the _locked calls). ---- */
mmu_err_t page_map(struct mmu_tree *tree, bool held, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
		   const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch);
mmu_err_t page_walk(struct mmu_tree *tree, bool held, mmu_vaddr_t va, struct mmu_translation *out);
mmu_err_t page_unmap(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch);
mmu_err_t page_protect(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, unsigned prot,
		       struct mmu_tlb_batch *batch);
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
