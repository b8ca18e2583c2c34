/* SPDX-License-Identifier: MIT */
/* The page-table layer as the process-space layer (src/vm.c,
 * src/vm_protect.c, src/fault.c, src/fork.c, src/kpti.c) sees it: the
 * range walker and the entry writer's walk functions, the runners that
 * make a visitor one change of a tree (fork, zap, exit, region protect,
 * the fault's leaf rewrite: they hold the tree lock and the batch, which
 * the process layer never does), table pages, data frames, the argument
 * checks and a few batch and PCID calls.
 * The process-space files include this header and not src/internal.h;
 * the page-table layer's own files get it through src/internal.h. Not
 * installed. */
#ifndef MMU64_PT_LAYER_H
#define MMU64_PT_LAYER_H

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

/* ---- memory of frames and tables ----
 * Through the port's direct map and metadata array when it has them (no
 * call), else its hooks. */

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

/* The metadata of TABLE, a page-aligned PA, in the port's metadata array
 * (which the caller knows it has): 16 bytes a frame, so its offset is
 * the PA shifted right by 8, one shift where port_meta's index takes two. */
static inline struct mmu_frame_meta *table_meta_direct(const struct mmu *mmu, mmu_pa_t table)
{
	_Static_assert(sizeof(struct mmu_frame_meta) << 8 == 1u << MMU_PAGE_SHIFT, "a frame's metadata is 16 bytes");
	return (struct mmu_frame_meta *)((uint8_t *)mmu->port.meta_map + (table.bits >> 8));
}

/* The same for the table whose entries are ENTRIES in the direct map. */
static inline struct mmu_frame_meta *table_meta_of_entries(const struct mmu *mmu, const mmu_pte_t *entries)
{
	return table_meta_direct(mmu, mmu_pa((uint64_t)((const uint8_t *)entries - mmu->port.direct_map)));
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
	META_DATA_2M = 1u << 3, /* a 4K piece of a live 2M data frame (every piece has it) */
	META_DEFER_SHIFT = 8,  /* deferred free: (use << 2 | size) << shift */
};

/* The top level of the tree: PML4 or PML5. */
static inline enum mmu_level mmu_top_level(const struct mmu *mmu) { return (enum mmu_level)mmu->levels; }

/* The last byte of the user half, and the first of the kernel half. */
static inline mmu_vaddr_t mmu_user_last(const struct mmu *mmu)
{
	return (1ull << (mmu_va_bits(mmu->levels) - 1)) - 1;
}
static inline mmu_vaddr_t mmu_kernel_first(const struct mmu *mmu)
{
	return mmu_va_canonicalize(mmu_user_last(mmu) + 1, mmu->levels);
}

/* ---- locks ---- */
/* Take LOCK, spinning while serving shootdown requests: the holder may be
 * waiting for this CPU's acknowledgement. The tree lock (src/internal.h)
 * and the space lock both spin here. The process layer takes the space
 * lock only: every change it makes to a tree is one runner call (below),
 * which takes the tree lock around the walk and its flush. */
void lock_spin(struct mmu *mmu, atomic_bool *lock);

/* The tree of a KPTI template (struct mmu_kpti): ROOT (pinned) under
 * MMU's kernel half, no CPU running it. Destroy: free its tables and root
 * after a full flush of every CPU (the shadows that used it are gone). */
void tree_init_template(struct mmu_tree *tree, struct mmu *mmu, mmu_pa_t root);
void tree_destroy_template(struct mmu_tree *tree);
/* KPTI is on from now: kernel maps make no global leaf, and the kernel
 * tree's global leaves lose G (every CPU drops what it cached of them). */
void tree_kernel_not_global(struct mmu *mmu);

/* ---- table pages ---- */

/* A table's live count (struct mmu_frame_meta): its non-zero entries, in
 * four lanes, entry E counting in lane table_lane_of(E): bits 3-4 of its
 * address, its index mod 4 (a table is a page-aligned frame where the
 * library sees it). A lane holds at most a quarter of the entries. */
#define TABLE_LANE_MAX (MMU_ENTRIES_PER_TABLE / 4)
#define TABLE_LIVE_FULL 0x80808080u /* every lane at TABLE_LANE_MAX */

static inline unsigned table_lane_of(const mmu_pte_t *e) { return (unsigned)((uintptr_t)e / sizeof(*e)) % 4; }

/* The four lanes as one word (0: empty, TABLE_LIVE_FULL: full). */
static inline uint32_t table_live_word(const struct mmu_frame_meta *meta)
{
	uint32_t w;
	__builtin_memcpy(&w, meta->live, sizeof(w));
	return w;
}

static inline void table_live_set_word(struct mmu_frame_meta *meta, uint32_t w)
{
	__builtin_memcpy(meta->live, &w, sizeof(w));
}

static inline unsigned table_live(const struct mmu_frame_meta *meta)
{
	return (unsigned)meta->live[0] + meta->live[1] + meta->live[2] + meta->live[3];
}

static inline bool table_empty(const struct mmu_frame_meta *meta) { return table_live_word(meta) == 0; }

mmu_err_t table_alloc(struct mmu *mmu, bool user, mmu_pa_t *out);
void table_free_now(struct mmu *mmu, mmu_pa_t pa);

/* A list of tables allocated before a commit, so the commit cannot fail. */
struct table_pool {
	uint64_t head; /* PA of the first table, chained by meta link */
	uint64_t count;
};

/* Pin table PA: never freed by emptiness (a root). */
static inline void table_pin(struct mmu *mmu, mmu_pa_t pa) { port_meta(mmu, pa)->flags |= META_PINNED; }

/* Data frames of process spaces, through the port: 4K, or 2M (a huge
 * page; each of its 512 pieces' metadata is marked META_DATA_2M while it
 * lives, and its references are counted at its first piece, the head). */
mmu_err_t frame_alloc_data(struct mmu *mmu, mmu_pa_t *out);
mmu_err_t frame_alloc_data_2m(struct mmu *mmu, mmu_pa_t *out);

/* The frame whose metadata counts the references of the data frame
 * holding PA: the head of its 2M frame, or its own 4K frame. */
static inline mmu_pa_t frame_data_head(const struct mmu *mmu, mmu_pa_t pa)
{
	if (port_meta(mmu, pa)->flags & META_DATA_2M)
		return mmu_pa(pa.bits & ~(mmu_size_bytes(MMU_SIZE_2M) - 1));
	return mmu_pa(pa.bits & ~(MMU_PAGE_SIZE - 1));
}

/* Free the data frame holding PA (the whole 2M frame for a piece of one). */
void frame_free_data(struct mmu *mmu, mmu_pa_t pa);
/* The same with the next flush of W's batch, which takes the leaf that
 * mapped it out of every TLB (zap: a frame no other space maps). */
struct pt_walk;
void frame_free_data_flushed(struct pt_walk *w, mmu_pa_t pa);
/* Copy the 4K frame SRC to DST. */
void frame_copy(struct mmu *mmu, mmu_pa_t dst, mmu_pa_t src);

/* ---- the range walker ----
 * One walker serves every operation. It visits, in address order, each entry
 * that overlaps [va, last] level by level, going down once and sideways
 * after that. The visitor decides per entry: go into the table it points to
 * (allocating or splitting it first if it wants), or move on. */

enum pt_step {
	PT_NEXT,    /* done with this entry */
	PT_DESCEND, /* the entry is (now) a table: visit its entries */
	PT_STOP,    /* end the walk */
	PT_FLUSH,   /* done with this entry; flush the walk's batch (then the
		     * visitor's `flushed` hook) before the next (in a prepare
		     * run: PT_NEXT) */
};

/* Which entries a walk calls its visitor for. It passes the others with
 * a load and a test each, so that a sparse table costs what its entries
 * do, not a call per slot. */
enum pt_visits {
	PT_VISIT_ALL,     /* every entry, holes too (the default) */
	PT_VISIT_NONZERO, /* entries that are not zero: a non-present one may hold a swap entry */
	PT_VISIT_PRESENT, /* present entries only (always so for the `leaf` form) */
};

struct pt_walk;
struct pt_copy;

struct pt_visitor {
	/* E is the entry at LEVEL for [VA, LAST], already clipped to the walk's
	 * range. Only PT_DESCEND on a present non-leaf entry. */
	enum pt_step (*entry)(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
			      mmu_vaddr_t last);
	/* In place of ENTRY (which stays NULL), for a visitor of present
	 * leaves only: the walk skips holes and descends tables itself, and
	 * calls this for E, a present leaf at LEVEL whose value it read as V.
	 * PT_DESCEND only after splitting E. */
	enum pt_step (*leaf)(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t v, mmu_vaddr_t va,
			     mmu_vaddr_t last);
	/* Optional: called after the walk came back up from the table E points
	 * to (post-order: unmap frees tables it emptied here). */
	void (*leave)(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_vaddr_t last);
	/* Optional: takes the place of ENTRY for a page table's COUNT entries
	 * from FIRST (VA is the first one's address), so that a range
	 * operation runs one tight loop per table instead of a call per 4K
	 * page (Linux's pte_range callbacks). */
	enum pt_step (*pt_run)(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count, mmu_vaddr_t va);
	/* Optional, for pt_walk_op: after the prepare run, the error it
	 * found (MMU_OK: commit). */
	mmu_err_t (*prepared)(const struct pt_walk *w);
	/* Optional: after each flush of the walk's batch (PT_FLUSH, and the
	 * runners' last one), when the invalidations it recorded are done
	 * on every CPU: zap drops its shared frames' references here. */
	void (*flushed)(struct pt_walk *w);
	/* For the `entry` form: the entries ENTRY is called for. */
	enum pt_visits visits;
};

struct pt_walk {
	struct mmu *mmu;
	struct mmu_tree *tree;
	const struct pt_visitor *visitor;
	/* Called for each entry: the visitor's `entry` hook, or the walker's
	 * own that calls its `leaf` hook (chosen once, in pt_walk_init). */
	enum pt_step (*entry)(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
			      mmu_vaddr_t last);
	mmu_pte_t visit_bits;               /* w->entry is called for entries with one of these (0: all) */
	void *op;                           /* the operation's own state */
	struct mmu_tlb_batch *batch;        /* where invalidations go (may be NULL for reads) */
	struct table_pool pool;             /* tables prepared for the commit */
	mmu_pa_t root;                      /* where the range walk starts: the tree's root */
	bool stop;
	bool flush;                         /* stopped by PT_FLUSH: flush, then go on after flush_after */
	bool no_cache;                      /* a read-only view: never fill the tree's leaf cache */
	/* A prepare run (pt_walk_prepare): the entry writer's walk functions
	 * write nothing and count the tables the commit will take. */
	bool dry;
	uint64_t dry_tables;
	mmu_vaddr_t flush_after;            /* the last byte of the entry that asked for the flush */
	mmu_pte_t path[MMU_LEVEL_PML5 + 1]; /* path[L]: entry at level L above the current one */
	mmu_pa_t table[MMU_LEVEL_PML5 + 1]; /* table[L]: the table holding level-L entries */
	struct pt_copy *copy;               /* pt_copy: the tree the visitor copies into */
};

/* The other tree of a pt_copy, kept in step with the walk by the entry
 * writer's copy functions: TABLE[L] is the table of TREE whose level-L
 * entries match the ones the walk visits. */
struct pt_copy {
	struct mmu_tree *tree;
	mmu_pa_t table[MMU_LEVEL_PML5 + 1];
};

/* A read-only walk of the tables under ROOT, a root other than TREE's that
 * shares TREE's mmu (a KPTI shadow): TREE's leaf cache is left alone. The
 * visitor must not write. */
void pt_walk_view(struct pt_walk *w, struct mmu_tree *tree, mmu_pa_t root, const struct pt_visitor *visitor, void *op);
/* Visit [VA, LAST] (inclusive, canonical, one half). Where the visitor
 * returns PT_FLUSH: flush w->batch, call its `flushed` hook, and go on
 * from the next entry (the walk restarts from the root there). */
void pt_walk_range(struct pt_walk *w, mmu_vaddr_t va, mmu_vaddr_t last);

/* Whether [VA, LAST] covers the whole entry at LEVEL it lies in (a huge
 * leaf that it does not cover is split before a change). */
static inline bool pt_entry_covered(enum mmu_level level, mmu_vaddr_t va, mmu_vaddr_t last)
{
	uint64_t span = mmu_level_span(level);
	return mmu_is_aligned(va, span) && last - va == span - 1;
}

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

/* ---- runners: a visitor as one change of a tree ----
 * How the process-space layer changes a tree: a runner takes the tree's
 * lock, refuses a dead tree (MMU_E_INVALID: destroyed while the caller
 * waited for the lock; nothing visited), walks with a batch of its own,
 * flushes it (then the visitor's `flushed` hook) and drops the lock. The
 * caller never holds the lock nor sees a batch: a visitor that needs its
 * invalidations done before it goes on returns PT_FLUSH.
 *
 * Runners rather than a held lock (mmu_tree_lock's handle, as a kernel
 * uses for a run of _locked calls): each change the process layer makes
 * under one hold is one walk and one batch (zap, the fault's rewrite,
 * region protect: one range, the visitor skipping what lies between
 * regions), that walk followed by the tree's end (exit), or a walk that
 * writes a second tree (fork). With a handle the batch, its flushes and
 * the dead and BUSY checks would be back in each caller. */

/* Visit [VA, LAST] of TREE with VISITOR (OP its state). No prepare run:
 * for a visitor that takes no table. */
mmu_err_t pt_change(struct mmu_tree *tree, const struct pt_visitor *visitor, void *op, mmu_vaddr_t va,
		    mmu_vaddr_t last);
/* The same with a prepare run first (pt_walk_op), for a visitor that
 * splits huge leaves (entry_split_leaf): the tables the splits take are
 * allocated before anything changes (NOMEM: nothing changed). */
mmu_err_t pt_change_splitting(struct mmu_tree *tree, const struct pt_visitor *visitor, void *op, mmu_vaddr_t va,
			      mmu_vaddr_t last);
/* One change of several trees of one mmu, with ONE shootdown (a page-out
 * of a frame that several spaces map: src/swap.c): begin, a change of
 * [VA, LAST] of each tree by VISITOR (a visitor that takes no table and
 * never asks PT_FLUSH; INVALID for a dead tree, nothing visited), then
 * the flush: a full non-global flush on every CPU. The caller holds
 * every space lock of the trees throughout. */
struct pt_multi {
	struct mmu_tlb_batch batch;
};
void pt_multi_begin(struct pt_multi *m, struct mmu_tree *first);
mmu_err_t pt_multi_change(struct pt_multi *m, struct mmu_tree *tree, const struct pt_visitor *visitor, void *op,
			  mmu_vaddr_t va, mmu_vaddr_t last);
void pt_multi_flush(struct pt_multi *m);
/* mmu_harvest's test and clear of BITS (MMU_PTE_A and/or MMU_PTE_D) as
 * one change of pt_multi M: the 4K page PAGE of TREE, when its leaf maps
 * FRAME (another frame's is left alone: a private copy). Returns the bits
 * of BITS the leaf had. */
uint64_t pt_multi_harvest(struct pt_multi *m, struct mmu_tree *tree, mmu_vaddr_t page, mmu_pa_t frame, uint64_t bits);
/* Map the 2M frame PA at VA (2M-aligned, user half) of the process tree
 * TREE with PROT, the one huge leaf a process tree takes (a demand fault
 * of a space with huge pages on): DUPLICATED when anything is mapped or a
 * table sits in the 2M block, NOMEM (no table), nothing changed then. */
mmu_err_t pt_map_2m(struct mmu_tree *tree, mmu_vaddr_t va, mmu_pa_t pa, unsigned prot);
/* Visit [VA, LAST] of FROM as one change, the visitor also writing TO,
 * at the same addresses, with entry_copy_table and entry_copy_leaf: a
 * fork's child, a fresh user tree of the same mmu (no entry below its
 * root) that nothing else can reach yet, so its lock is not taken. Run
 * as map runs (pt_walk_op): the prepare run counts the tables TO will
 * take, they are allocated (NOMEM: neither tree changed), then the
 * commit, which cannot fail. */
mmu_err_t pt_copy(struct mmu_tree *from, struct mmu_tree *to, const struct pt_visitor *visitor, void *op,
		  mmu_vaddr_t va, mmu_vaddr_t last);
/* Destroy the user tree TREE as mmu_tree_destroy does (INVALID when dead,
 * BUSY while a CPU has it loaded: nothing changed), after a last change
 * of its whole user half by VISITOR (none: NULL), and free ALSO (PA 0:
 * nothing), a table that must outlive the tree's flush (a KPTI shadow
 * root), with its root. The check, the change and the destroy are one
 * hold of the lock, which mmu_tree_load takes to join a tree: a load
 * comes first (BUSY) or finds the tree dead. */
mmu_err_t pt_destroy_after_change(struct mmu_tree *tree, const struct pt_visitor *visitor, void *op, mmu_pa_t also);

/* ---- the entry writer's walk functions (src/entry.c, src/entry.h) ----
 * Each keeps the live count and the table cache and records what it owes
 * into w->batch. VA is an address inside the entry. */

/* Remove the present leaf E (recorded as unmapped); returns the leaf as
 * it was when it went: one atomic exchange, so an A or D bit a CPU sets
 * up to that moment is in it (the page-out of an object page reports D
 * for writeback). */
mmu_pte_t entry_clear_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va);
/* Replace the CLEAR bits of the present leaf E by SET (A and D kept);
 * INVALIDATE: record the old translation (an upgrade need not: a stale
 * entry that allows less only causes a spurious fault). A change of the
 * address bits is recorded as unmapped. */
void entry_rewrite_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, uint64_t clear,
			uint64_t set, bool invalidate);
/* Swap entries (include/mmu64/vm.h), 4K pages only: replace the present
 * leaf E by the swap entry SWAP with the leaf's KEEP bits (0: the swap
 * entry alone; a pending entry keeps the rest of the leaf, so that it can
 * come back as it was), in one compare-exchange, returning the leaf as it
 * went (the live count stays; recorded as unmapped: the frame may be
 * freed after the flush); or replace the swap entry E by VALUE, another
 * swap entry, a leaf or 0 (nothing owed: a not-present entry is never
 * cached). */
mmu_pte_t entry_leaf_to_swap(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_pte_t swap,
			     mmu_pte_t keep);
void entry_rewrite_swap(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t value);
/* Turn the huge leaf E at LEVEL into a table of 512 leaves one level down
 * that map the same memory with the same bits (a table from the pool). */
void entry_split_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va);
/* Clear table entry E and free the table after the flush. */
void entry_release_table(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e);
/* A pt_copy's writes into its other tree, at the entry for VA at LEVEL
 * there: a fresh table from the walk's pool (counted in a prepare run),
 * which the copy then goes down into, in step with the walk; or leaf
 * VALUE (nothing owed: the entry was empty). */
void entry_copy_table(struct pt_walk *w, enum mmu_level level, mmu_vaddr_t va);
void entry_copy_leaf(struct pt_walk *w, enum mmu_level level, mmu_vaddr_t va, mmu_pte_t value);
/* A KPTI shadow root (no live count: pinned, never freed by emptiness):
 * fill it from USER_ROOT's user half and KERNEL_ROOT's kernel half, or
 * copy slot SLOT of USER_ROOT into it. */
void entry_fill_shadow(struct mmu *mmu, mmu_pa_t shadow, mmu_pa_t user_root, mmu_pa_t kernel_root);
void entry_mirror_slot(struct mmu *mmu, mmu_pa_t shadow, mmu_pa_t user_root, unsigned slot);

/* ---- checks shared by map, unmap, protect ---- */
/* INVALID unless [VA, VA+LEN) is a non-empty range in TREE's half. */
mmu_err_t range_check(const struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len);

/* User pages of the kernel half (src/kernel_user.c): set US above the
 * leaves of [VA, VA+LEN) in TREE (taking its lock); whether [VA, LAST] lies in /
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

/* ---- batches, CPUs, PCIDs ---- */
/* Drop VA from this CPU's TLB (the current PCID): after a fault the
 * library raised itself, which the hardware did not drop as a #PF does. */
void tlb_invalidate_here(struct mmu *mmu, mmu_vaddr_t va);
/* The CR3 of TREE's KPTI shadow SHADOW (user) and of TREE (kernel) for
 * this CPU: with PCIDs, TREE's PCID (| MMU_PCID_USER for the shadow) and
 * the no-flush bit unless a flush is owed. */
uint64_t pcid_shadow_cr3(struct mmu_tree *tree, mmu_pa_t shadow);
uint64_t pcid_tree_cr3(const struct mmu_tree *tree);
/* Dump [START, END) of the tables under ROOT, a root other than TREE's
 * that shares its mmu and its user-half tables (a KPTI shadow), under
 * TREE's lock; returns the lines. */
size_t dump_view(struct mmu_tree *tree, mmu_pa_t root, mmu_vaddr_t start, mmu_vaddr_t end, mmu_line_fn out,
		 void *ctx);

#endif
