/* SPDX-License-Identifier: MIT */
/* mmu_harvest: test and clear the Accessed and Dirty bits of the present
 * leaves of a range, reporting each leaf that had them (the scan of a
 * clock or LRU page-out, of a writeback). One walk, no prepare run:
 * nothing is allocated or split (a huge leaf has one A and one D for its
 * whole page, so the range only chooses the leaves), so nothing can fail
 * once the arguments are checked but an empty range. The stores and
 * their invalidation records are the entry writer's (entry_harvest_leaf);
 * the policy is include/mmu64/pt.h's. */
#include "internal.h"

struct harvest_op {
	uint64_t bits; /* MMU_PTE_A and/or MMU_PTE_D */
	mmu_harvest_fn fn;
	void *ctx;
	uint64_t leaves; /* present leaves met (NOTEXIST when none) */
	uint64_t had;    /* the bits of BITS taken, over every leaf */
	bool only_frame; /* only leaves of FRAME (pt_multi_harvest) */
	mmu_pa_t frame;
};

static uint64_t harvest_bits(unsigned what)
{
	return ((what & MMU_HARVEST_ACCESSED) ? MMU_PTE_A : 0) | ((what & MMU_HARVEST_DIRTY) ? MMU_PTE_D : 0);
}

static unsigned harvest_had(mmu_pte_t taken)
{
	return ((taken & MMU_PTE_A) ? MMU_HARVEST_ACCESSED : 0u) | ((taken & MMU_PTE_D) ? MMU_HARVEST_DIRTY : 0u);
}

/* Take the bits of the present leaf E at LEVEL, which holds some of them,
 * and report it as it was. UPPER: what the levels above allow. */
static void harvest_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, uint64_t upper)
{
	struct harvest_op *op = w->op;
	mmu_pte_t old = entry_harvest_leaf(w, level, e, va, op->bits);
	op->had |= old & op->bits;
	if (!op->fn)
		return;
	mmu_vaddr_t base = va & ~(mmu_level_span(level) - 1);
	struct mmu_translation t = entry_translation(w->mmu, level, old, upper, base);
	op->fn(op->ctx, base, &t, harvest_had(old & op->bits));
}

static enum pt_step harvest_present_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t v,
					 mmu_vaddr_t va, mmu_vaddr_t last)
{
	(void)last;
	struct harvest_op *op = w->op;
	if (op->only_frame && (v & mmu_pte_addr_mask(v, level)) != op->frame.bits)
		return PT_NEXT;
	op->leaves++;
	/* Only the hardware sets A and D, and only we clear them (under the
	 * lock): a bit seen clear here may be set meanwhile, and is then
	 * left for the next harvest; one seen set stays set until we take it. */
	if (v & op->bits)
		harvest_leaf(w, level, e, va, entry_path_upper(w, level));
	return PT_NEXT;
}

/* A page table's entries in one loop; the levels above are the same for
 * all of them. */
static enum pt_step harvest_run(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count,
				mmu_vaddr_t va)
{
	struct harvest_op *op = w->op;
	uint64_t upper = entry_path_upper(w, MMU_LEVEL_PT);
	for (unsigned i = 0; i < count; i++) {
		mmu_pte_t *e = &entries[first + i];
		mmu_pte_t v = pte_load(e);
		op->leaves += mmu_pte_present(v);
		if (mmu_pte_present(v) && (v & op->bits))
			harvest_leaf(w, MMU_LEVEL_PT, e, va + ((uint64_t)i << MMU_PAGE_SHIFT), upper);
	}
	return PT_NEXT;
}

static const struct pt_visitor harvest_visitor = {.leaf = harvest_present_leaf, .pt_run = harvest_run};
/* One page's leaf, of one frame: no run loop (the frame test stays out
 * of mmu_harvest's). */
static const struct pt_visitor harvest_frame_visitor = {.leaf = harvest_present_leaf};

uint64_t pt_multi_harvest(struct pt_multi *m, struct mmu_tree *tree, mmu_vaddr_t page, mmu_pa_t frame, uint64_t bits)
{
	struct harvest_op op = {.bits = bits, .only_frame = true, .frame = frame};
	mmu_err_t err = pt_multi_change(m, tree, &harvest_frame_visitor, &op, page, page + (MMU_PAGE_SIZE - 1));
	MMU_ASSERT(tree->mmu, err == MMU_OK, "pt_multi_harvest: tree %lx refused (%u)", (unsigned long)tree->root.bits,
		   (unsigned)err);
	return op.had;
}

/* INVALID (the range as for unmap and protect, or WHAT), UNALIGNED. */
static mmu_err_t harvest_check(const struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned what)
{
	mmu_err_t err = range_check(tree, va, len);
	if (err == MMU_OK && (what == 0 || (what & ~(MMU_HARVEST_ACCESSED | MMU_HARVEST_DIRTY))))
		err = MMU_E_INVALID;
	if (err == MMU_OK && !mmu_is_aligned(va | len, MMU_PAGE_SIZE))
		err = MMU_E_UNALIGNED;
	return err;
}

static mmu_err_t harvest(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, struct harvest_op *op,
			 struct mmu_tlb_batch *given)
{
	if (held)
		tree_assert_held((struct mmu_tree_locked){tree});
	op_lock(tree, held);
	struct mmu_tlb_batch local;
	struct pt_walk w;
	pt_walk_init(&w, tree, &harvest_visitor, op);
	w.batch = begin_batch(tree, given, &local);
	pt_walk_range(&w, va, va + (len - 1));
	end_batch(w.batch, &local);
	op_unlock(tree, held);
	return op->leaves ? MMU_OK : MMU_E_NOTEXIST;
}

static mmu_err_t harvest_call(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, unsigned what,
			      mmu_harvest_fn fn, void *ctx, struct mmu_tlb_batch *batch)
{
	mmu_err_t err = harvest_check(tree, va, len, what);
	if (err != MMU_OK)
		return err;
	struct harvest_op op = {.bits = harvest_bits(what), .fn = fn, .ctx = ctx};
	return harvest(tree, held, va, len, &op, batch);
}

mmu_err_t mmu_harvest(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned what, mmu_harvest_fn fn,
		      void *ctx, struct mmu_tlb_batch *batch)
{
	return harvest_call(tree, false, va, len, what, fn, ctx, batch);
}

mmu_err_t mmu_harvest_locked(struct mmu_tree_locked held, mmu_vaddr_t va, uint64_t len, unsigned what,
			     mmu_harvest_fn fn, void *ctx, struct mmu_tlb_batch *batch)
{
	return harvest_call(held.tree, true, va, len, what, fn, ctx, batch);
}
