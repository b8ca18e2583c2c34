/* SPDX-License-Identifier: MIT */
/* The walker: the range walk that every range operation shares (map,
 * unmap, protect, walk, entry, dump, destroy, fork, ...), its prepare
 * run, its single-address form, the descent of the single-page calls
 * (src/page.c), and the runners through which the process-space layer
 * makes its changes. They read entries only; the writes are
 * src/entry.c's. */
#include "internal.h"
#include "descend.h"

/* The entry hook of a visitor of leaves (its `leaf` hook): the walk's own
 * step for a hole (skipped) and a table (descended), the visitor's for a
 * present leaf. */
static enum pt_step walk_leaf_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				    mmu_vaddr_t last)
{
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v))
		return PT_NEXT;
	if (!mmu_pte_is_leaf(v, level))
		return PT_DESCEND;
	return w->visitor->leaf(w, level, e, v, va, last);
}

void pt_walk_init(struct pt_walk *w, struct mmu_tree *tree, const struct pt_visitor *visitor, void *op)
{
	*w = (struct pt_walk){.mmu = tree->mmu, .tree = tree, .visitor = visitor, .op = op, .root = tree->root};
	if (!visitor)
		return; /* pt_destroy_after_change without a change: no walk */
	MMU_ASSERT(tree->mmu, !visitor->entry != !visitor->leaf,
		   "pt_walk_init: visitor %lx has not exactly one of entry and leaf", (unsigned long)(uintptr_t)visitor);
	/* Chosen once here rather than tested at each entry of the walk. */
	w->entry = visitor->leaf ? walk_leaf_entry : visitor->entry;
	if (visitor->leaf || visitor->visits == PT_VISIT_PRESENT)
		w->visit_bits = MMU_PTE_P;
	else if (visitor->visits == PT_VISIT_NONZERO)
		w->visit_bits = ~(mmu_pte_t)0;
}

void pt_walk_view(struct pt_walk *w, struct mmu_tree *tree, mmu_pa_t root, const struct pt_visitor *visitor, void *op)
{
	pt_walk_init(w, tree, visitor, op);
	w->root = root;
	w->no_cache = true;
}

/* Cache the page table or page directory (LEVEL) the range walker goes
 * through, UPPER from the path it went down, for the single-page calls
 * that follow. */
static void pt_cache_fill(struct pt_walk *w, enum mmu_level level, mmu_pa_t table, mmu_pte_t *entries,
			  mmu_vaddr_t va)
{
	if (w->no_cache || mmu_va_is_kernel(va) != w->tree->is_kernel)
		return;
	pt_cache_set(w->tree, level, port_meta(w->mmu, table), entries, va, entry_path_upper(w, level));
}

void pt_path_find(struct mmu_tree *tree, mmu_vaddr_t va, struct pt_path *p)
{
	enum mmu_level level;
	mmu_pte_t value;
	uint64_t upper;
	pt_descend(tree, va, p, &level, &value, &upper);
}

/* What a prepare run (w->dry) descends into where the commit would
 * install a table (below an empty entry: a table of empty entries) or
 * split a huge leaf (a table of leaves, P|PS being a leaf at every level
 * a split can reach). Read-only: a prepare run writes nothing. */
static const mmu_pte_t dry_empty_table[MMU_ENTRIES_PER_TABLE];
static const mmu_pte_t dry_leaf_table[MMU_ENTRIES_PER_TABLE] = {
	[0 ... MMU_ENTRIES_PER_TABLE - 1] = MMU_PTE_P | MMU_PTE_PS};

/* What a visitor's STEP for the entry (or run) ending at LAST asks of the
 * walk besides a descent: its end, or a flush after that entry, which
 * pt_walk_range makes out of the recursion (a flush there would sit on
 * five walker frames) and then goes on. A prepare run recorded nothing to
 * flush. */
static void walk_obey(struct pt_walk *w, enum pt_step step, mmu_vaddr_t last)
{
	if (step == PT_FLUSH && !w->dry) {
		w->flush = true;
		w->flush_after = last;
	}
	if (step == PT_STOP || w->flush)
		w->stop = true;
}

/* The walk's batch flushed, then the visitor's `flushed` hook: what it
 * recorded is done on every CPU. */
static void walk_flush(struct pt_walk *w)
{
	MMU_ASSERT(w->mmu, w->batch, "walk: a flush of tree %lx with no batch", (unsigned long)w->tree->root.bits);
	mmu_tlb_flush(w->batch);
	if (w->visitor->flushed)
		w->visitor->flushed(w);
}

/* Where the walk of a table at LEVEL goes on from VA (in one of its
 * entries): the start of the first entry from there up to LAST's that the
 * visitor is called for (w->visit_bits), else LAST's own entry, which it
 * then passes as the last of the table. */
static mmu_vaddr_t skip_unvisited(const struct pt_walk *w, const mmu_pte_t *entries, enum mmu_level level,
				  mmu_vaddr_t va, mmu_vaddr_t last)
{
	mmu_pte_t bits = w->visit_bits;
	if (!bits)
		return va;
	unsigned first = mmu_va_index(va, level), end = mmu_va_index(last, level), i = first;
	while (i < end && !(pte_load(&entries[i]) & bits))
		i++;
	return i == first ? va : (va & ~(mmu_level_span(level) - 1)) + (uint64_t)(i - first) * mmu_level_span(level);
}

/* Visit the entries of the table at LEVEL (ENTRIES; TABLE its PA, none
 * for a prepare run's stand-in) that overlap [VA, LAST]. */
static void walk_table(struct pt_walk *w, mmu_pa_t table, const mmu_pte_t *entries, enum mmu_level level,
		       mmu_vaddr_t va, mmu_vaddr_t last)
{
	w->table[level] = table;
	if (level <= MMU_CACHED_LEVELS && !w->dry)
		pt_cache_fill(w, level, table, (mmu_pte_t *)entries, va);
	if (level == MMU_LEVEL_PT && w->visitor->pt_run) {
		/* A stand-in table holds nothing a run could refuse or count:
		 * the entry above it was already visited. */
		if (entries == dry_empty_table || entries == dry_leaf_table)
			return;
		unsigned count = (unsigned)((last - va) >> MMU_PAGE_SHIFT) + 1;
		walk_obey(w, w->visitor->pt_run(w, (mmu_pte_t *)entries, mmu_va_index(va, level), count, va), last);
		return;
	}
	for (;;) {
		va = skip_unvisited(w, entries, level, va, last);
		mmu_vaddr_t e_last = pt_entry_last(va, level, last);
		mmu_pte_t *e = (mmu_pte_t *)&entries[mmu_va_index(va, level)];
		enum pt_step step = w->entry(w, level, e, va, e_last);
		walk_obey(w, step, e_last);
		if (step == PT_DESCEND) {
			/* Into the table E points to or, in a prepare run, the
			 * stand-in for the one the commit would put there. */
			mmu_pte_t v = pte_load(e);
			mmu_pa_t next;
			w->path[level] = v;
			if (mmu_pte_next_table(v, level, &next) == MMU_OK) {
				walk_table(w, next, table_of(w->mmu, next), level - 1, va, e_last);
			} else {
				MMU_ASSERT(w->mmu, w->dry, "walk: descend at level %u va %lx into entry %lx", level,
					   (unsigned long)va, (unsigned long)v);
				walk_table(w, mmu_pa(0), mmu_pte_present(v) ? dry_leaf_table : dry_empty_table, level - 1,
					   va, e_last);
			}
			/* Leave hooks only free and promote: not in a prepare run. */
			if (w->visitor->leave && !w->dry)
				w->visitor->leave(w, level, e, va, e_last);
		}
		if (w->stop || e_last == last)
			return;
		va = e_last + 1;
	}
}

void pt_walk_range(struct pt_walk *w, mmu_vaddr_t va, mmu_vaddr_t last)
{
	/* The public calls refuse a destroyed tree; getting here means one
	 * was destroyed while a call on it waited for its lock. */
	MMU_ASSERT(w->mmu, !w->tree->dead, "pt_walk_range: tree %lx was destroyed (walk of %lx..%lx)",
		   (unsigned long)(uintptr_t)w->tree, (unsigned long)va, (unsigned long)last);
	for (;;) {
		w->stop = w->flush = false;
		walk_table(w, w->root, table_of(w->mmu, w->root), mmu_top_level(w->mmu), va, last);
		if (!w->flush)
			return;
		walk_flush(w);
		if (w->flush_after == last)
			return;
		va = w->flush_after + 1;
	}
}

uint64_t pt_walk_prepare(struct pt_walk *w, mmu_vaddr_t va, mmu_vaddr_t last)
{
	w->dry = true;
	w->dry_tables = 0;
	pt_walk_range(w, va, last);
	w->dry = false;
	return w->dry_tables;
}

mmu_err_t pt_walk_op(struct pt_walk *w, mmu_vaddr_t va, mmu_vaddr_t last)
{
	uint64_t tables = pt_walk_prepare(w, va, last);
	mmu_err_t err = w->visitor->prepared ? w->visitor->prepared(w) : MMU_OK;
	if (err == MMU_OK)
		err = table_pool_fill(w->mmu, &w->pool, tables, !w->tree->is_kernel);
	if (err != MMU_OK)
		return err;
	pt_walk_range(w, va, last);
	MMU_ASSERT(w->mmu, w->pool.count == 0, "pt_walk_op: %lu of %lu prepared tables left over at %lx..%lx",
		   (unsigned long)w->pool.count, (unsigned long)tables, (unsigned long)va, (unsigned long)last);
	return MMU_OK;
}

/* ---- runners ---- */

enum run_mode {
	RUN_COMMIT,       /* the walk alone: the visitor takes no table */
	RUN_PREPARE_FIRST /* pt_walk_op: the prepare run and its tables first */
};

/* Visit [VA, LAST] with W, its tree's lock held and the tree alive, into
 * a batch of the run's own, flushed at the end. An error (of the prepare
 * run) changed nothing. */
static mmu_err_t run_locked(struct pt_walk *w, mmu_vaddr_t va, mmu_vaddr_t last, enum run_mode mode)
{
	struct mmu_tlb_batch batch;
	mmu_tlb_batch_init(&batch, w->tree);
	w->batch = &batch;
	mmu_err_t err = MMU_OK;
	if (mode == RUN_PREPARE_FIRST)
		err = pt_walk_op(w, va, last);
	else
		pt_walk_range(w, va, last);
	if (err == MMU_OK)
		walk_flush(w);
	mmu_tlb_batch_done(&batch);
	w->batch = NULL;
	return err;
}

/* The same under the lock of W's tree, taken here; a dead tree refused. */
static mmu_err_t run(struct pt_walk *w, mmu_vaddr_t va, mmu_vaddr_t last, enum run_mode mode)
{
	tree_lock(w->tree);
	mmu_err_t err = w->tree->dead ? MMU_E_INVALID : run_locked(w, va, last, mode);
	tree_unlock(w->tree);
	return err;
}

mmu_err_t pt_change(struct mmu_tree *tree, const struct pt_visitor *visitor, void *op, mmu_vaddr_t va,
		    mmu_vaddr_t last)
{
	struct pt_walk w;
	pt_walk_init(&w, tree, visitor, op);
	return run(&w, va, last, RUN_COMMIT);
}

mmu_err_t pt_change_splitting(struct mmu_tree *tree, const struct pt_visitor *visitor, void *op, mmu_vaddr_t va,
			      mmu_vaddr_t last)
{
	struct pt_walk w;
	pt_walk_init(&w, tree, visitor, op);
	return run(&w, va, last, RUN_PREPARE_FIRST);
}

/* Each tree's walk records into M's one batch, flushed by pt_multi_flush
 * only: the trees' locks are dropped before that flush, which is safe as
 * the caller holds every space lock meanwhile (no other change of these
 * trees), and a CPU that loads one of them after its walk reads the new
 * entries through the tree lock it takes to join. */
void pt_multi_begin(struct pt_multi *m, struct mmu_tree *first) { mmu_tlb_batch_init(&m->batch, first); }

mmu_err_t pt_multi_change(struct pt_multi *m, struct mmu_tree *tree, const struct pt_visitor *visitor, void *op,
			  mmu_vaddr_t va, mmu_vaddr_t last)
{
	MMU_ASSERT(tree->mmu, tree->mmu == m->batch.tree->mmu && !tree->is_kernel,
		   "pt_multi_change: tree %lx is not a user tree of the batch's mmu", (unsigned long)tree->root.bits);
	struct pt_walk w;
	pt_walk_init(&w, tree, visitor, op);
	w.batch = &m->batch;
	tree_lock(tree);
	mmu_err_t err = tree->dead ? MMU_E_INVALID : MMU_OK;
	if (err == MMU_OK)
		pt_walk_range(&w, va, last);
	tree_unlock(tree);
	return err;
}

/* The batch names one tree, but its entries came from several: a full
 * non-global flush on every CPU (all_cpus) reaches every PCID of every
 * CPU, running or lazy, KPTI user PCIDs included, whatever tree each
 * runs; the batch's ranges are dropped for it. */
void pt_multi_flush(struct pt_multi *m)
{
	if (mmu_tlb_batch_pending(&m->batch))
		tlb_batch_want_full(&m->batch, false, true);
	mmu_tlb_flush(&m->batch);
	mmu_tlb_batch_done(&m->batch);
}

mmu_err_t pt_copy(struct mmu_tree *from, struct mmu_tree *to, const struct pt_visitor *visitor, void *op,
		  mmu_vaddr_t va, mmu_vaddr_t last)
{
	MMU_ASSERT(from->mmu, to->mmu == from->mmu && !to->is_kernel && !from->is_kernel,
		   "pt_copy: tree %lx to tree %lx: not two user trees of one mmu", (unsigned long)from->root.bits,
		   (unsigned long)to->root.bits);
	struct pt_copy copy = {.tree = to};
	copy.table[mmu_top_level(to->mmu)] = to->root;
	struct pt_walk w;
	pt_walk_init(&w, from, visitor, op);
	w.copy = &copy;
	return run(&w, va, last, RUN_PREPARE_FIRST);
}

mmu_err_t pt_destroy_after_change(struct mmu_tree *tree, const struct pt_visitor *visitor, void *op, mmu_pa_t also)
{
	MMU_ASSERT(tree->mmu, !tree->is_kernel, "pt_destroy_after_change: tree %lx is the kernel's",
		   (unsigned long)tree->root.bits);
	struct pt_walk w;
	pt_walk_init(&w, tree, visitor, op);
	tree_lock(tree);
	mmu_err_t err = tree->dead ? MMU_E_INVALID : atomic_load(&tree->active_cpus) != 0 ? MMU_E_BUSY : MMU_OK;
	if (err == MMU_OK && visitor)
		run_locked(&w, 0, mmu_user_last(tree->mmu), RUN_COMMIT);
	if (err == MMU_OK)
		tree_destroy_locked(tree, also);
	tree_unlock(tree);
	return err;
}
