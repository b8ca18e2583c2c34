/* SPDX-License-Identifier: MIT */
/* Range operations on a tree: map, unmap, protect, walk, leaves, entry,
 * the harvest of the Accessed and Dirty bits; and who owns the frames a
 * tree maps.
 *
 * Ranges are [va, va+len). Checks run in the order of docs/VECTORS.md:
 * INVALID (a destroyed tree, non-canonical, wrapping, crossing halves, the
 * kernel half on a user tree or the user half on the kernel tree, bad
 * option, a physical range wrapping or reaching 2^maxphyaddr
 * (mmu_config), in a process space's tree `promote` or a forced 2M/1G
 * size), UNALIGNED,
 * INVALID_PERMISSION (no MMU_PROT_R), DUPLICATED / NOTEXIST, NOMEM. A call
 * that fails changes nothing: every table it needs is allocated before the
 * first entry is written.
 *
 * BATCH may be NULL: the call then flushes before returning. Otherwise the
 * invalidations and frees are added to BATCH and the caller flushes. */
#ifndef MMU64_PT_H
#define MMU64_PT_H

#include "mmu.h"
#include "pte.h"
#include "tlb.h"
#include "tree.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Permission letters of a mapping. */
enum {
	MMU_PROT_R = 1u << 0,
	MMU_PROT_W = 1u << 1,
	MMU_PROT_X = 1u << 2,
	MMU_PROT_U = 1u << 3,
};

enum mmu_cache {
	MMU_CACHE_WB = 0, /* PAT entry 0: no bits */
	MMU_CACHE_WC,     /* PAT entry 1: PWT (Linux's PAT MSR layout) */
	MMU_CACHE_UC,     /* PAT entry 3: PCD|PWT */
};

struct mmu_map_opts {
	enum mmu_size size; /* MMU_SIZE_ANY: the largest that fits, position by position */
	bool global;
	enum mmu_cache cache;
	unsigned pkey; /* 0..15 */
	/* After mapping, promote every table of 512 leaves that the range
	 * touched and that now maps one aligned, contiguous run with identical
	 * attributes to a single huge leaf (FreeBSD's rule). A later partial
	 * unmap or protect demotes it again (a split). In a process
	 * space's tree only the library's fault handler maps 2M leaves
	 * (mmu_vm_space_set_huge): there `promote` and a forced 2M/1G size
	 * are INVALID, and MMU_SIZE_ANY maps 4K leaves. */
	bool promote;
};

/* Map [VA, VA+LEN) of the kernel half to [PA, PA+LEN) for user mode as
 * well as the kernel (a vsyscall-style page: code or data every process
 * reaches at one address). It is mmu_map on the kernel tree with
 * MMU_PROT_U added, and then US set on every table entry above those
 * leaves, the root's included. User trees copy the root's kernel half when
 * they are created, so this is a boot-time call: BUSY once any user tree
 * or process space exists (mmu_user_tables() != 0). Call it before
 * mmu_kpti_init too: a KPTI template copies these pages with U (when its
 * ranges include them) and its audit accepts their US bits; the template
 * keeps what the call saw. Other kernel leaves under the same tables stay
 * supervisor-only (their leaf has no US). At most MMU_KERNEL_USER_WINDOWS
 * calls (NOMEM after). Errors otherwise as mmu_map on the kernel tree
 * (INVALID for the user half); nothing changed on error. */
mmu_err_t mmu_kernel_map_user(struct mmu *mmu, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
			      const struct mmu_map_opts *opts);

/* Who owns the frames. The page-table layer never frees a data frame: the
 * caller owns every frame it maps. mmu_unmap removes leaves, frees the
 * tables it empties (after the flush) and reports nothing about the frames
 * those leaves pointed at; mmu_tree_destroy frees the tree's tables, never
 * a frame its leaves still map. A kernel that owns frames finds them with
 * mmu_leaves first, then unmaps, and frees a frame only after the flush
 * that removed its last translation from every TLB: queue it on the
 * unmap's batch with mmu_tlb_batch_defer_free (include/mmu64/tlb.h; the
 * port's frame_free gets it back, with that use and size, once every CPU
 * invalidated), or free it after mmu_tlb_flush returns. In one hold, so
 * that nothing maps the range in between, and over a range that cuts no
 * huge leaf (then the unmap needs no table for a split, and once
 * mmu_leaves succeeded it cannot fail with a frame queued):
 *
 *     static bool queue(void *b, mmu_vaddr_t va, const struct mmu_translation *t)
 *     {
 *             mmu_tlb_batch_defer_free(b, MMU_FRAME_DATA, t->size, t->pa);
 *             return true;
 *     }
 *     ...
 *     struct mmu_tlb_batch b;
 *     mmu_tlb_batch_init(&b, tree);
 *     struct mmu_tree_locked held = mmu_tree_lock(tree);
 *     mmu_err_t err = mmu_leaves_locked(held, va, len, queue, &b);
 *     if (err == MMU_OK)
 *             err = mmu_unmap_locked(held, va, len, &b);  // NOTEXIST: none queued
 *     mmu_tree_unlock(held);
 *     mmu_tlb_flush(&b);   // every CPU invalidates, then the frames are freed
 *     mmu_tlb_batch_done(&b);
 *
 * The caller counts what it maps twice (two addresses, two trees): such a
 * frame may go only after the flush that removed its last translation. A
 * huge leaf the range cuts stays mapped around the range (unmap splits
 * it): its frame is not free. mmu_tree_destroy returns MMU_OK only when no
 * TLB holds the tree's translations any more (it is BUSY while loaded, and
 * flushes what lazy PCIDs and global leaves keep), so frames found with
 * mmu_leaves over the user half before it may be freed when it returns.
 * Process spaces (include/mmu64/vm.h) own the frames they map and free
 * them themselves (exit, region remove): never free those. examples/frames
 * does both, munmap and exit, on the software machine. */

/* Map [VA, VA+LEN) to [PA, PA+LEN). OPTS may be NULL (defaults). */
mmu_err_t mmu_map(struct mmu_tree *tree, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
		  const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch);

/* Remove every leaf in the range, splitting huge leaves it cuts, and free
 * the tables it empties (after the flush); the frames the leaves mapped
 * stay the caller's (above). NOTEXIST when nothing is mapped there. */
mmu_err_t mmu_unmap(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch);

/* Set the permissions of every leaf in the range to PROT (RW, US, XD; all
 * other bits kept), splitting huge leaves it cuts. NOTEXIST when nothing is
 * mapped there. */
mmu_err_t mmu_protect(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned prot,
		      struct mmu_tlb_batch *batch);

/* The same on a tree whose lock the caller holds (mmu_tree_lock,
 * include/mmu64/tree.h). Same checks, errors and effects. */
mmu_err_t mmu_map_locked(struct mmu_tree_locked held, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
			 const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch);
mmu_err_t mmu_unmap_locked(struct mmu_tree_locked held, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch);
mmu_err_t mmu_protect_locked(struct mmu_tree_locked held, mmu_vaddr_t va, uint64_t len, unsigned prot,
			     struct mmu_tlb_batch *batch);

struct mmu_translation {
	mmu_pa_t pa;        /* what VA translates to */
	enum mmu_size size; /* of the leaf */
	unsigned prot;      /* effective: RW and US ANDed, XD ORed over the levels */
	mmu_pte_t leaf;     /* the raw leaf entry (A, D, G...) */
};

/* Translate VA in TREE as the hardware would (no A/D side effects).
 * INVALID for a non-canonical VA, NOTEXIST when not mapped. A kernel-half VA
 * in a user tree reports the shared mapping. */
mmu_err_t mmu_walk(struct mmu_tree *tree, mmu_vaddr_t va, struct mmu_translation *out);
mmu_err_t mmu_walk_locked(struct mmu_tree_locked held, mmu_vaddr_t va, struct mmu_translation *out);

/* mmu_leaves calls it once per present leaf, in address order. VA is the
 * first address of the leaf inside the range (the leaf's own start unless
 * the range cuts a 2M or 1G leaf) and T what mmu_walk(VA) would give:
 * T->pa the translation of VA, T->size the leaf's size, T->leaf the raw
 * entry. Return true to go on, false to end the walk. */
typedef bool (*mmu_leaf_fn)(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t);

/* Every present leaf of [VA, VA+LEN), in address order, handed to FN: a
 * 2M or 1G leaf once, with its size, however much of it the range covers.
 * Reads only (no A/D bits set, nothing changed); MMU_OK also when the
 * range holds no leaf or FN stopped the walk. The argument errors of
 * unmap, found before anything is read: INVALID (a destroyed tree; an
 * empty, wrapping or non-canonical range, one crossing halves or in the
 * other half than TREE's; FN NULL), then UNALIGNED (VA or LEN not a
 * multiple of 4K). FN runs with TREE's lock held: it must not call the
 * library on TREE (a plain call would spin forever, a change would move
 * the tables under the walk) and should be short (a CPU loading TREE
 * waits). It may record what it is given, e.g. queue each frame on a
 * batch with mmu_tlb_batch_defer_free ("Who owns the frames", above).
 * mmu_leaves_locked: the same under a hold of mmu_tree_lock, so that a
 * caller can collect a range's frames and unmap it in one hold. */
mmu_err_t mmu_leaves(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, mmu_leaf_fn fn, void *ctx);
mmu_err_t mmu_leaves_locked(struct mmu_tree_locked held, mmu_vaddr_t va, uint64_t len, mmu_leaf_fn fn, void *ctx);

/* ---- Harvesting the Accessed and Dirty bits (a clock or LRU page-out,
 * writeback) ---- */

/* What mmu_harvest tests and clears: WHAT is one or both. */
enum {
	MMU_HARVEST_ACCESSED = 1u << 0, /* A: the page was used (read, written or fetched) */
	MMU_HARVEST_DIRTY = 1u << 1,    /* D: the page was written */
};

/* Called once for each leaf that had one of the bits asked for, in address
 * order. VA: the leaf's first address (a huge leaf may begin below the
 * range). T: the leaf as it was: T->pa maps VA, its size, its effective
 * prot, and T->leaf the raw entry before its bits were cleared. HAD: which
 * of the bits asked for it had (MMU_HARVEST_*). It runs under TREE's lock
 * and before the invalidation (see mmu_harvest): note the page and act
 * after the call (and the flush) returns; never call the library on TREE
 * from it. */
typedef void (*mmu_harvest_fn)(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t, unsigned had);

/* Test and clear A and/or D (WHAT) in every present leaf of [VA, VA+LEN),
 * reporting each leaf that had one to FN (NULL: clear only). Each bit is
 * taken with one atomic read-modify-write, so a bit a CPU sets at the
 * same moment is either reported or stays set: never lost. A huge leaf
 * has one A and one D for its whole page: it is harvested whole when the
 * range overlaps it (nothing is split, nothing allocated). Errors: INVALID
 * (the range as for unmap; WHAT 0 or with other bits), UNALIGNED,
 * NOTEXIST (no leaf in the range); nothing changed on error.
 *
 * Invalidation. A CPU that cached a translation while D was set writes
 * through it without setting D again. So a cleared D is always recorded
 * for invalidation, and a page reported dirty is clean only once the
 * flush has returned: write it back (read the frame) after that. A write
 * that lands before the flush is in the frame when writeback reads it;
 * one after it walks the tables and sets D again. A cleared A is recorded
 * too (Linux's x86 ptep_clear_flush_young skips that flush): a page in
 * use goes on through a cached translation without setting A for as long
 * as the TLB keeps it, with a large TLB long enough for a clock to page
 * out a hot page. The records are lazy: with BATCH they go into it
 * and cost nothing until the caller's mmu_tlb_flush, so a sweep over many
 * ranges pays one shootdown (above the flush ceiling, one full flush per
 * CPU running TREE); with NULL, one flush before the call returns, after
 * the last FN. A leaf without the bits costs no record. */
mmu_err_t mmu_harvest(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned what, mmu_harvest_fn fn,
		      void *ctx, struct mmu_tlb_batch *batch);
mmu_err_t mmu_harvest_locked(struct mmu_tree_locked held, mmu_vaddr_t va, uint64_t len, unsigned what,
			     mmu_harvest_fn fn, void *ctx, struct mmu_tlb_batch *batch);

/* The raw entry at LEVEL on the way to VA. NOTEXIST when that level is not
 * reached (a non-present or leaf entry above it, or LEVEL above the
 * tree's top); INVALID for a non-canonical VA. */
mmu_err_t mmu_entry(struct mmu_tree *tree, mmu_vaddr_t va, enum mmu_level level, mmu_pte_t *out);

#ifdef __cplusplus
}
#endif

#endif
