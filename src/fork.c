/* SPDX-License-Identifier: MIT */
/* Copy-on-write fork, and zap: the removal of a space's pages that exit
 * and region removal share. Both are visitors of the range walker. */
#include "vm_internal.h"

/* ---- zap ----
 * A frame only this space maps (refcount 1; nobody can take a reference
 * while we hold the space lock) is queued on the batch and freed by the
 * flush. A shared frame's reference is dropped only after the flush that
 * removed its leaf from every TLB: until then the other sharer could take
 * the frame over (COW) and write it while a stale translation here still
 * reads it. Those frames wait in the op, so zap asks for a flush
 * (PT_FLUSH) every ZAP_CHUNK of them and drops them in its `flushed` hook.
 * A slot holds a frame's head (frame_data_head) and, in its low bits, the
 * references to drop less one: the 4K leaves of a split 2M frame follow
 * each other and take one slot. A 2M leaf the range cuts is split first
 * (its table prepared before anything changes). */
#define ZAP_CHUNK 32 /* 256 bytes of the stack frame */
#define ZAP_EXTRA (MMU_PAGE_SIZE - 1) /* the low bits of a slot */

struct zap_op {
	struct mmu_vm_space *sp;
	mmu_pa_t pa[ZAP_CHUNK];
	unsigned n;
};

/* Drop the reference of the shared frame PA after the next flush. */
static enum pt_step zap_later(struct zap_op *op, mmu_pa_t head)
{
	if (op->n && (op->pa[op->n - 1].bits & ~ZAP_EXTRA) == head.bits) {
		op->pa[op->n - 1].bits++;
		return PT_NEXT;
	}
	op->pa[op->n++] = head;
	return op->n < ZAP_CHUNK ? PT_NEXT : PT_FLUSH;
}

static enum pt_step zap_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
			      mmu_vaddr_t last)
{
	struct zap_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v)) {
		if (v)
			vm_swap_forget(w, op->sp, e);
		return PT_NEXT;
	}
	if (!mmu_pte_is_leaf(v, level) || vm_split_if_cut(w, level, e, va, last))
		return PT_DESCEND;
	if (w->dry)
		return PT_NEXT;
	entry_clear_leaf(w, level, e, va);
	mmu_pa_t head = frame_data_head(w->mmu, mmu_pa(v & mmu_pte_addr_mask(v, level)));
	if (vm_frame_refs(w->mmu, head) == 1) {
		port_meta(w->mmu, head)->refcount = 0;
		frame_free_data_flushed(w, head);
		return PT_NEXT;
	}
	return zap_later(op, head);
}

/* Emptied tables go (after the flush), the root never. A root entry
 * removed leaves the shadow too, before that flush. */
static void zap_leave(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_vaddr_t last)
{
	(void)last;
	struct zap_op *op = w->op;
	if (!table_empty(pt_table_meta(w, level - 1)) || pt_table_is_pinned(w, level - 1))
		return;
	entry_release_table(w, level, e);
	if (level == mmu_top_level(w->mmu))
		vm_kpti_sync(op->sp, va);
}

/* After a flush: a shared frame whose other sharers went meanwhile. */
static void zap_flushed(struct pt_walk *w)
{
	struct zap_op *op = w->op;
	for (unsigned i = 0; i < op->n; i++) {
		mmu_pa_t head = mmu_pa(op->pa[i].bits & ~ZAP_EXTRA);
		for (uint64_t k = 0; k <= (op->pa[i].bits & ZAP_EXTRA); k++)
			if (vm_frame_put(w->mmu, head))
				frame_free_data(w->mmu, head);
	}
	op->n = 0;
}

static const struct pt_visitor zap_visitor = {
	.entry = zap_entry, .leave = zap_leave, .flushed = zap_flushed, .visits = PT_VISIT_NONZERO};

mmu_err_t vm_zap(struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_vaddr_t last)
{
	struct zap_op op = {.sp = sp, .n = 0};
	mmu_err_t err = pt_change_splitting(&sp->tree, &zap_visitor, &op, va, last);
	MMU_ASSERT(sp->tree.mmu, err == MMU_OK || err == MMU_E_NOMEM, "vm_zap: %lx..%lx of a dead space (%u)",
		   (unsigned long)va, (unsigned long)last, (unsigned)err);
	return err;
}

mmu_err_t vm_zap_exit(struct mmu_vm_space *sp)
{
	struct zap_op op = {.sp = sp, .n = 0};
	return pt_destroy_after_change(&sp->tree, &zap_visitor, &op, sp->kpti ? sp->shadow : mmu_pa(0));
}

/* ---- fork ----
 * One visitor, run as map's is (pt_copy): a prepare run that counts the
 * child's tables, their allocation (NOMEM: nothing changed), then the
 * commit over the parent's user half. The child's tree mirrors the
 * parent's: for each parent table below the root, a child table at the
 * same indexes (entry_copy_table keeps the child in step with the walk);
 * each leaf is copied as the parent's entry, read-only in both. */

/* Whether the page at VA of PARENT is in a shared region: its leaf stays
 * as it is, writable too, in both. */
static bool fork_shares(const struct mmu_vm_space *parent, mmu_vaddr_t va)
{
	int i = vm_region_find(parent, va);
	return i >= 0 && parent->region[i].kind == MMU_VM_SHARED;
}

/* Share the leaf E (LEVEL) at VA with the child, copy-on-write (but in a
 * shared region): RW goes in the parent (invalidated), the frame gains
 * the child's reference. */
static void fork_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va)
{
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v)) {
		if (v)
			vm_swap_copy(w, w->op, va, v);
		return;
	}
	if ((v & MMU_PTE_RW) && !fork_shares(w->op, va))
		entry_rewrite_leaf(w, level, e, va, MMU_PTE_RW, 0, true);
	vm_frame_get(w->mmu, mmu_pa(v & mmu_pte_addr_mask(v, level)));
	/* The parent's entry as it is now: A and D set meanwhile included. */
	entry_copy_leaf(w, level, va, pte_load(e));
}

/* A table is mirrored; a 2M leaf (huge pages, mmu_vm_space_set_huge) is
 * shared whole, as a page table's 4K leaves are by fork_run. */
static enum pt_step fork_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
			       mmu_vaddr_t last)
{
	(void)last;
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v))
		return PT_NEXT;
	if (mmu_pte_is_leaf(v, level)) {
		MMU_ASSERT(w->mmu, level == MMU_LEVEL_PD, "fork: level %u leaf %lx at %lx in a process space",
			   level, (unsigned long)v, (unsigned long)va);
		if (!w->dry)
			fork_leaf(w, level, e, va);
		return PT_NEXT;
	}
	entry_copy_table(w, level, va);
	return PT_DESCEND;
}

/* A page table's 4K leaves. The prepare
 * run skips them: they take no table, and a frame's reference is the
 * visitor's own write, which the entry writer cannot hold back. */
static enum pt_step fork_run(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count, mmu_vaddr_t va)
{
	if (w->dry)
		return PT_NEXT;
	for (unsigned i = 0; i < count; i++)
		fork_leaf(w, MMU_LEVEL_PT, &entries[first + i], va + ((uint64_t)i << MMU_PAGE_SHIFT));
	return PT_NEXT;
}

static const struct pt_visitor fork_visitor = {.entry = fork_entry, .pt_run = fork_run, .visits = PT_VISIT_PRESENT};

/* The child's KPTI shadow root and regions, after the copy. */
static void fork_finish(struct mmu_vm_space *parent, struct mmu_vm_space *child, mmu_pa_t shadow)
{
	if (parent->kpti)
		vm_kpti_attach(child, parent->kpti, shadow);
	vm_regions_move(child->region, parent->region, parent->nregions);
	child->nregions = parent->nregions; /* counted in their objects before the copy */
	vm_regions_forked(child);
	child->min_addr = parent->min_addr;
	child->huge = parent->huge;
	child->swap = parent->swap; /* fork_leaf dup'd the slots of its swap entries */
	child->swap_ctx = parent->swap_ctx;
	child->swapped = parent->swapped;
}

/* Every check under the parent's lock, before the child is created, so
 * the errors come in the contract's order (INVALID, NOSPACE, NOMEM) and
 * the regions found fitting are the ones copied. The child's tree is
 * created under that lock: the space lock comes before tree locks. */
mmu_err_t mmu_vm_fork_with_storage(struct mmu_vm_space *parent, struct mmu_vm_space *child,
				   struct mmu_vm_region *slots, unsigned capacity)
{
	struct mmu *mmu = parent->tree.mmu;
	/* A created child would lose its root to the create below. */
	if (child == parent || vm_space_live(child) || !vm_storage_args_ok(slots, capacity))
		return MMU_E_INVALID;
	vm_lock(parent);
	/* The parent's array is read under its lock: it may be moving. */
	bool overlap = vm_storage_overlaps(slots, capacity, parent);
	mmu_err_t err = parent->tree.dead || overlap ? MMU_E_INVALID : MMU_OK;
	if (err == MMU_OK && parent->nregions > (slots ? capacity : MMU_VM_INLINE_REGIONS))
		err = MMU_E_NOSPACE;
	/* The child's records in the objects it will map (NOSPACE), marked
	 * as a fork's: an object's page-out waits until the child is built. */
	if (err == MMU_OK)
		err = vm_regions_claim(child, parent->region, parent->nregions, true);
	bool claimed = err == MMU_OK;
	if (err == MMU_OK)
		err = mmu_vm_space_create(mmu, child);
	bool created = err == MMU_OK;
	if (created)
		vm_regions_adopt(child, slots, capacity);
	/* The shadow root first, so that a NOMEM here or in the copy leaves
	 * the parent as it was. */
	mmu_pa_t shadow = mmu_pa(0);
	if (err == MMU_OK && parent->kpti && table_alloc(mmu, true, &shadow) != MMU_OK)
		err = MMU_E_NOMEM;
	if (err == MMU_OK)
		err = pt_copy(&parent->tree, &child->tree, &fork_visitor, parent, 0, mmu_user_last(mmu));
	if (err == MMU_OK)
		fork_finish(parent, child, shadow);
	else if (shadow.bits)
		table_free_now(mmu, shadow);
	if (err != MMU_OK && claimed)
		vm_regions_drop(child, parent->region, parent->nregions);
	vm_unlock(parent);
	/* Linked after the parent's lock went (the family lock comes first):
	 * meanwhile a page-out of a frame the child shares finds fewer leaves
	 * than references and refuses (BUSY). The parent cannot exit in
	 * between: it is the caller's, busy forking. */
	if (err == MMU_OK) {
		vm_family_lock(mmu);
		vm_family_link(parent, child);
		vm_family_unlock(mmu);
	}
	if (err != MMU_OK && created) {
		child->live = 0;
		mmu_err_t derr = mmu_tree_destroy(&child->tree);
		MMU_ASSERT(mmu, derr == MMU_OK, "mmu_vm_fork: destroy of the unused child returned %u", (unsigned)derr);
	}
	return err;
}

mmu_err_t mmu_vm_fork(struct mmu_vm_space *parent, struct mmu_vm_space *child)
{
	return mmu_vm_fork_with_storage(parent, child, NULL, 0);
}
