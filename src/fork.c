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
 * reads it. Those PAs wait in the op, so zap asks for a flush (PT_FLUSH)
 * every ZAP_CHUNK shared leaves and drops them in its `flushed` hook. */
#define ZAP_CHUNK 32 /* 256 bytes of the stack frame */

struct zap_op {
	struct mmu_vm_space *sp;
	mmu_pa_t pa[ZAP_CHUNK];
	unsigned n;
};

static enum pt_step zap_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
			      mmu_vaddr_t last)
{
	(void)last;
	struct zap_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v))
		return PT_NEXT;
	if (!mmu_pte_is_leaf(v, level))
		return PT_DESCEND;
	MMU_ASSERT(w->mmu, level == MMU_LEVEL_PT, "zap: level %u leaf %lx at %lx in a process space", level,
		   (unsigned long)v, (unsigned long)va);
	entry_clear_leaf(w, level, e, va);
	mmu_pa_t pa = mmu_pa(v & MMU_PTE_ADDR_MASK);
	struct mmu_frame_meta *meta = port_meta(w->mmu, pa);
	if (__atomic_load_n(&meta->refcount, __ATOMIC_ACQUIRE) == 1) {
		meta->refcount = 0;
		mmu_tlb_batch_defer_free(w->batch, MMU_FRAME_DATA, MMU_SIZE_4K, pa);
		return PT_NEXT;
	}
	op->pa[op->n++] = pa;
	return op->n < ZAP_CHUNK ? PT_NEXT : PT_FLUSH;
}

/* Emptied tables go (after the flush), the root never. A root entry
 * removed leaves the shadow too, before that flush. */
static void zap_leave(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_vaddr_t last)
{
	(void)last;
	struct zap_op *op = w->op;
	if (pt_table_meta(w, level - 1)->live != 0 || pt_table_is_pinned(w, level - 1))
		return;
	entry_release_table(w, level, e);
	if (level == mmu_top_level(w->mmu))
		vm_kpti_sync(op->sp, va);
}

/* After a flush: a shared frame whose other sharers went meanwhile. */
static void zap_flushed(struct pt_walk *w)
{
	struct zap_op *op = w->op;
	for (unsigned i = 0; i < op->n; i++)
		if (vm_frame_put(w->mmu, op->pa[i]))
			frame_free_data(w->mmu, op->pa[i]);
	op->n = 0;
}

static const struct pt_visitor zap_visitor = {.entry = zap_entry, .leave = zap_leave, .flushed = zap_flushed};

void vm_zap(struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_vaddr_t last)
{
	struct zap_op op = {.sp = sp, .n = 0};
	mmu_err_t err = pt_change(&sp->tree, &zap_visitor, &op, va, last);
	MMU_ASSERT(sp->tree.mmu, err == MMU_OK, "vm_zap: %lx..%lx of a dead space (%u)", (unsigned long)va,
		   (unsigned long)last, (unsigned)err);
}

mmu_err_t vm_zap_exit(struct mmu_vm_space *sp)
{
	struct zap_op op = {.sp = sp, .n = 0};
	return pt_destroy_after_change(&sp->tree, &zap_visitor, &op, sp->kpti ? sp->shadow : mmu_pa(0));
}

/* ---- fork ----
 * One pass over the parent's user half. The child's tree mirrors it: the
 * visitor keeps, in CHILD.table[L], the child table that holds the level-L
 * entries matching the parent entries being visited, so each parent entry
 * has its child slot at the same index. Tables come from a pool filled
 * before the pass (one per parent table below the root), so the pass
 * cannot fail. */
struct fork_op {
	uint64_t tables;    /* scan: parent tables below the root */
	struct pt_walk child; /* the child side: its tables and the pool */
};

static enum pt_step fork_scan_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				    mmu_vaddr_t last)
{
	(void)va, (void)last;
	struct fork_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v) || mmu_pte_is_leaf(v, level))
		return PT_NEXT;
	op->tables++;
	return PT_DESCEND;
}

static enum pt_step fork_commit_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				      mmu_vaddr_t last)
{
	(void)last;
	struct fork_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v))
		return PT_NEXT;
	mmu_pte_t *ce = pt_walk_entry(&op->child, level, va);
	if (!mmu_pte_is_leaf(v, level)) {
		op->child.table[level - 1] = entry_install_table(&op->child, level, ce);
		return PT_DESCEND;
	}
	MMU_ASSERT(w->mmu, level == MMU_LEVEL_PT, "fork: level %u leaf %lx at %lx in a process space", level,
		   (unsigned long)v, (unsigned long)va);
	if (v & MMU_PTE_RW)
		entry_rewrite_leaf(w, level, e, va, MMU_PTE_RW, 0, true);
	vm_frame_get(w->mmu, mmu_pa(v & MMU_PTE_ADDR_MASK));
	/* The parent's entry as it is now: A and D set meanwhile included. */
	entry_set_leaf(&op->child, level, ce, pte_load(e));
	return PT_NEXT;
}

static const struct pt_visitor fork_scan = {.entry = fork_scan_entry};
static const struct pt_visitor fork_commit = {.entry = fork_commit_entry};

/* Scan the parent, then fill the child's pool and, with KPTI, allocate
 * its shadow root; NOMEM leaves nothing allocated. */
static mmu_err_t fork_prepare(struct pt_walk *w, struct fork_op *op, mmu_vaddr_t last, bool kpti, mmu_pa_t *shadow)
{
	pt_walk_range(w, 0, last);
	mmu_err_t err = table_pool_fill(w->mmu, &op->child.pool, op->tables, true);
	if (err == MMU_OK && kpti && table_alloc(w->mmu, true, shadow) != MMU_OK) {
		table_pool_drain(w->mmu, &op->child.pool);
		err = MMU_E_NOMEM;
	}
	return err;
}

mmu_err_t mmu_vm_fork(struct mmu_vm_space *parent, struct mmu_vm_space *child)
{
	struct mmu *mmu = parent->tree.mmu;
	/* A created child would lose its root to the create below. */
	if (child == parent || vm_space_live(child))
		return MMU_E_INVALID;
	mmu_err_t err = mmu_vm_space_create(mmu, child);
	if (err != MMU_OK)
		return err;
	struct fork_op op = {.tables = 0};
	pt_walk_init(&op.child, &child->tree, NULL, NULL);
	op.child.table[mmu_top_level(mmu)] = child->tree.root;
	struct pt_walk w;
	pt_walk_init(&w, &parent->tree, &fork_scan, &op);
	mmu_vaddr_t last = mmu_user_last(mmu);
	vm_lock(parent);
	tree_lock(&parent->tree);
	mmu_pa_t shadow = mmu_pa(0);
	err = parent->tree.dead ? MMU_E_INVALID : fork_prepare(&w, &op, last, parent->kpti != NULL, &shadow);
	if (err == MMU_OK) {
		struct mmu_tlb_batch batch;
		mmu_tlb_batch_init(&batch, &parent->tree);
		w.batch = &batch;
		w.visitor = &fork_commit;
		pt_walk_range(&w, 0, last);
		MMU_ASSERT(mmu, op.child.pool.count == 0, "mmu_vm_fork: %lu prepared tables left over",
			   (unsigned long)op.child.pool.count);
		mmu_tlb_flush(&batch); /* the one flush of the parent */
		mmu_tlb_batch_done(&batch);
		if (parent->kpti)
			vm_kpti_attach(child, parent->kpti, shadow);
		child->nregions = parent->nregions;
		for (unsigned i = 0; i < parent->nregions; i++)
			child->region[i] = parent->region[i];
	}
	tree_unlock(&parent->tree);
	vm_unlock(parent);
	if (err != MMU_OK) {
		child->live = 0;
		mmu_err_t derr = mmu_tree_destroy(&child->tree);
		MMU_ASSERT(mmu, derr == MMU_OK, "mmu_vm_fork: destroy of the unused child returned %u", (unsigned)derr);
	}
	return err;
}
