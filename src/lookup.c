/* SPDX-License-Identifier: MIT */
/* mmu_walk and mmu_entry: a single-address walk with the range walker. */
#include "internal.h"

struct lookup_op {
	enum mmu_level want; /* the level asked for by mmu_entry; 0 for the leaf */
	bool found;
	enum mmu_level level;
	mmu_pte_t entry;
	unsigned prot;
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
			op->prot = entry_prot(w->mmu, entry_path_upper(w, level), v);
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
	if (err != MMU_OK)
		return err;
	uint64_t offset = va & (mmu_level_span(op.level) - 1);
	*out = (struct mmu_translation){
		.pa = mmu_pa((op.entry & mmu_pte_addr_mask(op.entry, op.level)) + offset),
		.size = (enum mmu_size)op.level,
		.prot = op.prot,
		.leaf = op.entry,
	};
	return MMU_OK;
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
