/* SPDX-License-Identifier: MIT */
/* mmu_unmap and mmu_protect: the same walk over present leaves, splitting
 * the huge leaves the range cuts, run twice: prepare (without committing:
 * whether there is a leaf, and the tables the splits take), then commit,
 * which rewrites leaves and frees the tables it empties. */
#include "internal.h"

struct change_op {
	mmu_vaddr_t last;
	bool unmap;
	uint64_t perm_bits; /* protect: the new RW/US/XD */
	uint64_t leaves; /* nonzero when the range holds a leaf (not a full count) */
	/* No CPU can hold the range's translations (tree_idle, no PCIDs) and
	 * no caller batch waits for them: only global leaves need recording. */
	bool quiet;
};

static void change_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va)
{
	struct change_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	mmu_pte_t nv = op->unmap ? 0 : (v & ~MMU_PTE_PERM_MASK) | op->perm_bits;
	if (nv == v)
		return;
	if (op->unmap)
		entry_clear_leaf(w, level, e, va);
	else
		entry_rewrite_leaf(w, level, e, va, MMU_PTE_PERM_MASK, op->perm_bits, true);
}

/* A quiet unmap (struct change_op) that covers a whole page table drops it
 * as it is: its leaves owe no invalidation (no CPU holds them and, the
 * tree never having held a global leaf, none is global), and the port
 * hands out zeroed frames, so nothing needs clearing entry by entry. */
static bool drops_whole_table(const struct pt_walk *w, enum mmu_level level, mmu_vaddr_t va, mmu_vaddr_t last)
{
	const struct change_op *op = w->op;
	bool had_global = atomic_load_explicit(&w->tree->has_global, memory_order_relaxed);
	return op->unmap && op->quiet && !had_global && level == MMU_LEVEL_PD && pt_entry_covered(level, va, last);
}

static enum pt_step change_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
					mmu_vaddr_t last)
{
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v))
		return PT_NEXT;
	if (!mmu_pte_is_leaf(v, level) && drops_whole_table(w, level, va, last)) {
		((struct change_op *)w->op)->leaves++; /* a table is never left empty */
		entry_release_table(w, level, e);
		return PT_NEXT;
	}
	if (!mmu_pte_is_leaf(v, level))
		return PT_DESCEND;
	((struct change_op *)w->op)->leaves++;
	if (!pt_entry_covered(level, va, last)) {
		entry_split_leaf(w, level, e, va);
		return PT_DESCEND;
	}
	change_leaf(w, level, e, va);
	return PT_NEXT;
}

/* A table left with no entries goes, except the pinned roots and kernel
 * tops that other trees point at. */
static void change_leave(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				mmu_vaddr_t last)
{
	(void)va, (void)last;
	struct change_op *op = w->op;
	if (op->unmap && table_empty(pt_table_meta(w, level - 1)) && !pt_table_is_pinned(w, level - 1))
		entry_release_table(w, level, e);
	else if (!op->unmap && w->tree->promote)
		entry_try_promote(w, level, e, va);
}

/* Changes the PTEs and records each run of changed pages once. */
static enum pt_step change_run(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count,
				      mmu_vaddr_t va)
{
	struct change_op *op = w->op;
	op->leaves += entry_run_change(w, entries, first, count, va, op->unmap, op->perm_bits, op->quiet);
	return PT_NEXT;
}

/* One visitor, run twice: as the prepare run (pt_walk_prepare), which
 * finds whether the range holds a leaf and counts the tables the splits
 * take, then as the commit. */
static mmu_err_t change_prepared(const struct pt_walk *w)
{
	return ((const struct change_op *)w->op)->leaves ? MMU_OK : MMU_E_NOTEXIST;
}

static const struct pt_visitor change_visitor = {.entry = change_entry,
						 .leave = change_leave,
						 .pt_run = change_run,
						 .prepared = change_prepared,
						 .visits = PT_VISIT_PRESENT};

static mmu_err_t change_range(struct mmu_tree *tree, bool held, mmu_vaddr_t va, struct change_op *op,
			      struct mmu_tlb_batch *given)
{
	op_lock(tree, held);
	struct mmu_tlb_batch local;
	struct pt_walk w;
	pt_walk_init(&w, tree, &change_visitor, op);
	w.batch = begin_batch(tree, given, &local);
	op->quiet = !given && tree_idle(tree) && !tree->mmu->pcid;
	mmu_err_t err = pt_walk_op(&w, va, op->last);
	end_batch(w.batch, &local);
	op_unlock(tree, held);
	return err;
}

mmu_err_t unmap_general(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch)
{
	mmu_err_t err = range_check(tree, va, len);
	if (err == MMU_OK && !mmu_is_aligned(va | len, MMU_PAGE_SIZE))
		err = MMU_E_UNALIGNED;
	if (err != MMU_OK)
		return err;
	struct change_op op = {.last = va + (len - 1), .unmap = true};
	return change_range(tree, held, va, &op, batch);
}

mmu_err_t protect_general(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, unsigned prot,
			  struct mmu_tlb_batch *batch)
{
	mmu_err_t err = protect_check(tree, va, len, prot);
	if (err != MMU_OK)
		return err;
	struct change_op op = {.last = va + (len - 1), .perm_bits = prot_to_pte(tree->mmu, prot)};
	return change_range(tree, held, va, &op, batch);
}
