/* SPDX-License-Identifier: MIT */
/* Page-table trees: create, destroy, load on a CPU. */
#ifndef MMU64_TREE_H
#define MMU64_TREE_H

#include "mmu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A new user tree sharing the kernel half, in TREE's storage (its previous
 * contents are ignored). It copies the kernel root's 256 upper entries, so
 * a kernel mapping made at any time is seen by it. NOMEM when no frame for
 * the root. */
mmu_err_t mmu_tree_create(struct mmu *mmu, struct mmu_tree *tree);

/* Free every user-half table of TREE (never a data frame, never the kernel
 * half). When it returns MMU_OK no TLB holds a translation of TREE any
 * more, so the frames its leaves mapped (listed with mmu_leaves before)
 * may be freed then (include/mmu64/pt.h, "Who owns the frames"). BUSY,
 * and nothing freed, while TREE is loaded on any CPU; INVALID for the
 * kernel tree. A destroyed tree is dead until mmu_tree_create makes its
 * storage a tree again: destroy, map, unmap, protect, walk, entry, leaves,
 * harvest (and their _locked forms) and set_promote return INVALID;
 * mmu_tree_load, mmu_dump and mmu_audit_wx panic; mmu_tree_cr3 is 0. Calls racing with the destroy
 * of their own tree are the caller's bug; the library panics where it
 * meets one rather than touch freed tables. */
mmu_err_t mmu_tree_destroy(struct mmu_tree *tree);

/* Make TREE the active tree of this CPU: CR3 written (with TREE's PCID on
 * this CPU when PCIDs are on), this CPU in TREE's mask before the write and
 * out of the previous tree's after it. No CR3 write when it already is.
 * Preemption off (the CPU must not change during the call); with PCIDs,
 * interrupts off too (docs/PORTING.md, "Calling context"). Spins while
 * another CPU holds TREE's lock, serving shootdown requests before it has
 * changed anything. A CPU leaving a user tree that ever held a global
 * leaf drops every global TLB entry. Panics for a destroyed tree. */
void mmu_tree_load(struct mmu_tree *tree);

/* A run of calls under one hold of TREE's lock (Hafnium's locked-handle
 * idea): mmu_map_locked, mmu_unmap_locked, mmu_protect_locked,
 * mmu_walk_locked, mmu_leaves_locked and mmu_harvest_locked
 * (include/mmu64/pt.h) take the
 * handle and skip the lock that every plain call takes and drops, an
 * atomic exchange each. For a caller that already serializes its space (a
 * fault handler, an mmap building a region page by page, an munmap that
 * collects its frames and unmaps them in one hold) this is the same
 * contract as a Rust `&mut` page table. While held, a CPU loading TREE
 * waits (mmu_tree_load joins its mask under this lock), so keep the hold
 * short, and do not load or destroy TREE, or make plain calls on it, from
 * the holder: they take the lock again and would spin forever. */
struct mmu_tree_locked {
	struct mmu_tree *tree;
};
struct mmu_tree_locked mmu_tree_lock(struct mmu_tree *tree);
void mmu_tree_unlock(struct mmu_tree_locked held);

/* Promote as mmu_map's `promote` option does (include/mmu64/pt.h), after
 * every map and protect on TREE: the per-space opt-in. INVALID (nothing
 * changed) to turn it on for a process space's tree, which holds 4K
 * leaves only (include/mmu64/vm.h), and for a destroyed tree. */
mmu_err_t mmu_tree_set_promote(struct mmu_tree *tree, bool promote);

/* The tree active on this CPU. */
struct mmu_tree *mmu_tree_active(struct mmu *mmu);

/* The CR3 value that selects TREE, without PCID bits (lock-free). */
uint64_t mmu_tree_cr3(const struct mmu_tree *tree);

/* True when TREE is loaded on CPU. */
bool mmu_tree_active_on(const struct mmu_tree *tree, unsigned cpu);

#ifdef __cplusplus
}
#endif

#endif
