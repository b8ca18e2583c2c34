/* SPDX-License-Identifier: MIT */
/* Trees: creation (sharing the kernel half), destruction, activation. */
#include "internal.h"

void lock_spin(struct mmu *mmu, atomic_bool *lock)
{
	while (atomic_exchange_explicit(lock, true, memory_order_acquire)) {
		/* The holder may be waiting for this CPU's shootdown ack. */
		mmu_tlb_ipi_handler(mmu);
		mmu->port.ops->cpu_relax(mmu->port.ctx);
	}
}

void tree_lock_contended(struct mmu_tree *tree) { lock_spin(tree->mmu, &tree->locked); }

mmu_err_t mmu_tree_create(struct mmu *mmu, struct mmu_tree *tree)
{
	mmu_pa_t root;
	mmu_err_t err = table_alloc(mmu, true, &root);
	if (err != MMU_OK)
		return err;
	port_meta(mmu, root)->flags |= META_PINNED;
	entry_copy_kernel_half(mmu, root);
	/* Field by field, not a compound literal: at -O0 that copies a
	 * temporary of the whole tree (1.2 KiB) through the stack. */
	__builtin_memset(tree, 0, sizeof *tree);
	tree->mmu = mmu;
	tree_set_half(tree, false);
	tree_set_root(tree, root);
	pt_cache_init(tree);
	/* With PCIDs a lazy CPU may keep the tree's entries: a change owes
	 * the TLBs even while no CPU runs it (entry_owes). */
	tree->owes_always = mmu->pcid;
	atomic_init(&tree->locked, false);
	atomic_init(&tree->active_cpus, 0);
	atomic_init(&tree->tlb_gen, 0);
	atomic_init(&tree->pcid_cpus, 0);
	atomic_init(&tree->user_pcid, false);
	atomic_init(&tree->has_global, false);
	return MMU_OK;
}

/* Post-order: each table is released after everything below it. */
static void destroy_leave(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_vaddr_t last)
{
	(void)va, (void)last;
	entry_release_table(w, level, e);
}

/* A destroy releases the tables (the walk descends into each, the leaf
 * form's own step, and destroy_leave frees it on the way back): what the
 * leaves map is the caller's. So a huge leaf is passed over, and a page
 * table, which holds only leaves, is not even read. */
static enum pt_step destroy_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t v, mmu_vaddr_t va,
				 mmu_vaddr_t last)
{
	(void)w, (void)level, (void)e, (void)v, (void)va, (void)last;
	return PT_NEXT;
}

static enum pt_step destroy_run(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count, mmu_vaddr_t va)
{
	(void)w, (void)entries, (void)first, (void)count, (void)va;
	return PT_NEXT;
}

static const struct pt_visitor destroy_visitor = {.leaf = destroy_leaf, .pt_run = destroy_run, .leave = destroy_leave};

void tree_init_template(struct mmu_tree *tree, struct mmu *mmu, mmu_pa_t root)
{
	table_pin(mmu, root);
	__builtin_memset(tree, 0, sizeof *tree); /* no 1.2 KiB temporary at -O0 */
	tree->mmu = mmu;
	tree_set_half(tree, true);
	tree_set_root(tree, root);
	pt_cache_init(tree);
	tree->owes_always = true;
	atomic_init(&tree->locked, false);
	atomic_init(&tree->active_cpus, 0);
}

void tree_destroy_template(struct mmu_tree *tree)
{
	struct mmu_tlb_batch batch;
	struct pt_walk w;
	mmu_tlb_batch_init(&batch, tree);
	tlb_batch_want_full(&batch, true, false);
	pt_walk_init(&w, tree, &destroy_visitor, NULL);
	w.batch = &batch;
	tree_lock(tree);
	pt_walk_range(&w, mmu_kernel_first(tree->mmu), ~0ull);
	mmu_tlb_batch_defer_free(&batch, MMU_FRAME_TABLE, MMU_SIZE_4K, tree->root);
	mmu_tlb_flush(&batch);
	mmu_tlb_batch_done(&batch);
	tree_unlock(tree);
}

void tree_destroy_locked(struct mmu_tree *tree, mmu_pa_t also)
{
	struct mmu *mmu = tree->mmu;
	struct mmu_tlb_batch batch;
	mmu_tlb_batch_init(&batch, tree);
	/* Not loaded anywhere: each CPU that had it dropped its non-global
	 * entries at its next CR3 write. Global user leaves survive that. */
	if (atomic_load_explicit(&tree->has_global, memory_order_relaxed))
		tlb_batch_want_full(&batch, true, true);
	/* With PCIDs a CPU that ran the tree keeps its entries under the
	 * tree's PCID: they must go before the tables do. */
	if (mmu->pcid)
		tlb_batch_want_full(&batch, false, false);
	struct pt_walk w;
	pt_walk_init(&w, tree, &destroy_visitor, NULL);
	w.batch = &batch;
	pt_walk_range(&w, 0, mmu_user_last(mmu));
	mmu_tlb_batch_defer_free(&batch, MMU_FRAME_TABLE, MMU_SIZE_4K, tree->root);
	if (also.bits)
		mmu_tlb_batch_defer_free(&batch, MMU_FRAME_TABLE, MMU_SIZE_4K, also);
	mmu_tlb_flush(&batch);
	mmu_tlb_batch_done(&batch);
	/* Dead: the root may soon be another tree's, so nothing may reach
	 * it through this one. With an empty cache every single-page call
	 * takes its miss path, which is where the flag is checked. */
	tree->dead = true;
	tree->half_top = TREE_HALF_DEAD;
	tree_set_root(tree, mmu_pa(0));
	pt_cache_drop_below(tree, mmu_top_level(mmu));
}

mmu_err_t mmu_tree_destroy(struct mmu_tree *tree)
{
	return tree->is_kernel ? MMU_E_INVALID : pt_destroy_after_change(tree, NULL, NULL, mmu_pa(0));
}

struct mmu_tree_locked mmu_tree_lock(struct mmu_tree *tree)
{
	tree_lock(tree);
	return (struct mmu_tree_locked){tree};
}

void mmu_tree_unlock(struct mmu_tree_locked held)
{
	tree_assert_held(held);
	tree_unlock(held.tree);
}

mmu_err_t mmu_tree_set_promote(struct mmu_tree *tree, bool promote)
{
	tree_lock(tree);
	mmu_err_t err = tree->dead || (promote && tree->process) ? MMU_E_INVALID : MMU_OK;
	if (err == MMU_OK)
		tree->promote = promote;
	tree_unlock(tree);
	return err;
}

uint64_t mmu_tree_cr3(const struct mmu_tree *tree) { return tree->root.bits; }

struct mmu_tree *mmu_tree_active(struct mmu *mmu)
{
	return atomic_load_explicit(&mmu->cpu[port_cpu_id(mmu)].active, memory_order_relaxed);
}

bool mmu_tree_active_on(const struct mmu_tree *tree, unsigned cpu)
{
	return (atomic_load(&tree->active_cpus) >> cpu) & 1;
}

/* A CR3 write keeps global entries: those of the user tree this CPU just
 * left would let the next tree read its pages. Drop them all (after the
 * write, so the old tree's leaves cannot be cached again). */
static void leave_global_leaves(struct mmu *mmu, unsigned cpu)
{
	mmu->port.ops->flush_tlb(mmu->port.ctx, MMU_FLUSH_WITH_GLOBAL);
	atomic_fetch_add_explicit(&mmu->cpu[cpu].full, 1, memory_order_relaxed);
}

/* The CPU joins the new tree's mask under the tree lock, before CR3
 * changes. Every change of the tree is made under that lock too, so either
 * the change came first (our CR3 write then walks the new tables) or it
 * sees our bit and invalidates here. That is why changes need no fence
 * before they read the mask, and why a change to a tree no CPU runs can
 * skip the shootdown and, having no hardware walker to race with, the
 * compare-exchange on its entries. The CPU leaves the old mask after the
 * CR3 write: until then it may still walk the old tables. */
void mmu_tree_load(struct mmu_tree *tree)
{
	struct mmu *mmu = tree->mmu;
	unsigned cpu = port_cpu_id(mmu);
	struct mmu_tree *old = atomic_load_explicit(&mmu->cpu[cpu].active, memory_order_relaxed);
	if (old == tree)
		return;
	tree_lock(tree);
	MMU_ASSERT(mmu, !tree->dead, "mmu_tree_load: tree %lx was destroyed", (unsigned long)(uintptr_t)tree);
	atomic_fetch_or_explicit(&tree->active_cpus, 1ull << cpu, memory_order_relaxed);
	atomic_store(&mmu->cpu[cpu].active, tree);
	uint64_t cr3 = mmu->pcid ? pcid_cr3_for_load(tree, cpu) : mmu_tree_cr3(tree);
	tree_unlock(tree);
	mmu->port.ops->write_cr3(mmu->port.ctx, cr3);
	if (old && atomic_load_explicit(&old->has_global, memory_order_relaxed))
		leave_global_leaves(mmu, cpu);
	if (old)
		atomic_fetch_and(&old->active_cpus, ~(1ull << cpu));
}
