/* SPDX-License-Identifier: MIT */
/* mmu_walk and mmu_entry (a single-address walk with the range walker)
 * and mmu_leaves (every present leaf of a range): the reads that
 * translate. */
#include "internal.h"

struct lookup_op {
	enum mmu_level want; /* the level asked for by mmu_entry; 0 for the leaf */
	bool found;
	enum mmu_level level;
	mmu_pte_t entry;
	uint64_t upper; /* of a leaf: the fold of the entries above it */
};

static enum pt_step lookup_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				 mmu_vaddr_t last)
{
	(void)va, (void)last;
	struct lookup_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	bool leaf = mmu_pte_present(v) && mmu_pte_is_leaf(v, level);
	if (op->want == level || (op->want == 0 && leaf)) {
		op->found = true;
		op->level = level;
		op->entry = v;
		if (leaf)
			op->upper = entry_path_upper(w, level);
		return PT_STOP;
	}
	return mmu_pte_present(v) && !leaf ? PT_DESCEND : PT_STOP;
}

static const struct pt_visitor lookup_visitor = {.entry = lookup_entry};

/* The tree whose lock guards VA: kernel-half tables belong to the kernel. */
static struct mmu_tree *tree_for(struct mmu_tree *tree, mmu_vaddr_t va)
{
	return mmu_va_is_kernel(va) ? mmu_kernel_tree(tree->mmu) : tree;
}

/* HELD: the caller holds TREE's lock (not the kernel tree's, which a
 * kernel-half VA needs). */
static mmu_err_t lookup(struct mmu_tree *tree, bool held, mmu_vaddr_t va, struct lookup_op *op)
{
	if (tree->dead || !mmu_va_canonical(va, tree->mmu->levels))
		return MMU_E_INVALID;
	struct mmu_tree *owner = tree_for(tree, va);
	held = held && owner == tree;
	op_lock(owner, held);
	struct pt_walk w;
	pt_walk_init(&w, tree, &lookup_visitor, op);
	pt_walk_range(&w, va, va);
	op_unlock(owner, held);
	return op->found ? MMU_OK : MMU_E_NOTEXIST;
}

mmu_err_t walk_general(struct mmu_tree *tree, bool held, mmu_vaddr_t va, struct mmu_translation *out)
{
	struct lookup_op op = {0};
	mmu_err_t err = lookup(tree, held, va, &op);
	if (err == MMU_OK)
		*out = entry_translation(tree->mmu, op.level, op.entry, op.upper, va);
	return err;
}

mmu_err_t mmu_entry(struct mmu_tree *tree, mmu_vaddr_t va, enum mmu_level level, mmu_pte_t *out)
{
	if (level < MMU_LEVEL_PT || level > mmu_top_level(tree->mmu))
		return level <= MMU_LEVEL_PML5 && level >= MMU_LEVEL_PT ? MMU_E_NOTEXIST : MMU_E_INVALID;
	struct lookup_op op = {.want = level};
	mmu_err_t err = lookup(tree, false, va, &op);
	if (err == MMU_OK)
		*out = op.entry;
	return err;
}

/* ---- mmu_leaves: a read-only walk of a range, one call per leaf ---- */

struct leaves_op {
	mmu_leaf_fn fn;
	void *ctx;
};

/* Hand the present LEAF at LEVEL, whose part in the range starts at VA,
 * to the caller; false when the caller stops the walk. */
static bool leaves_report(struct pt_walk *w, enum mmu_level level, mmu_pte_t leaf, uint64_t upper,
			  mmu_vaddr_t va)
{
	const struct leaves_op *op = w->op;
	struct mmu_translation t = entry_translation(w->mmu, level, leaf, upper, va);
	return op->fn(op->ctx, va, &t);
}

/* Above the page tables: a huge leaf reported once (VA is where the
 * walk's range enters it). */
static enum pt_step leaves_huge(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t v, mmu_vaddr_t va,
				mmu_vaddr_t last)
{
	(void)e, (void)last;
	return leaves_report(w, level, v, entry_path_upper(w, level), va) ? PT_NEXT : PT_STOP;
}

/* A page table's entries in one loop: the path above them is folded
 * once for the whole run. */
static enum pt_step leaves_run(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count,
			       mmu_vaddr_t va)
{
	uint64_t upper = entry_path_upper(w, MMU_LEVEL_PT);
	for (unsigned i = first; i < first + count; i++, va += MMU_PAGE_SIZE) {
		mmu_pte_t v = pte_load(&entries[i]);
		if (mmu_pte_present(v) && !leaves_report(w, MMU_LEVEL_PT, v, upper, va))
			return PT_STOP;
	}
	return PT_NEXT;
}

static const struct pt_visitor leaves_visitor = {.leaf = leaves_huge, .pt_run = leaves_run};

/* The checks of a range call, in VECTORS.md's order (INVALID, then
 * UNALIGNED), then the walk under TREE's lock unless HELD. */
static mmu_err_t leaves(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, mmu_leaf_fn fn, void *ctx)
{
	mmu_err_t err = range_check(tree, va, len);
	if (err == MMU_OK && !fn)
		err = MMU_E_INVALID;
	if (err == MMU_OK && !mmu_is_aligned(va | len, MMU_PAGE_SIZE))
		err = MMU_E_UNALIGNED;
	if (err != MMU_OK)
		return err;
	struct leaves_op op = {.fn = fn, .ctx = ctx};
	struct pt_walk w;
	pt_walk_init(&w, tree, &leaves_visitor, &op);
	op_lock(tree, held);
	pt_walk_range(&w, va, va + (len - 1));
	op_unlock(tree, held);
	return MMU_OK;
}

mmu_err_t mmu_leaves(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, mmu_leaf_fn fn, void *ctx)
{
	return leaves(tree, false, va, len, fn, ctx);
}

mmu_err_t mmu_leaves_locked(struct mmu_tree_locked held, mmu_vaddr_t va, uint64_t len, mmu_leaf_fn fn, void *ctx)
{
	tree_assert_held(held);
	return leaves(held.tree, true, va, len, fn, ctx);
}
