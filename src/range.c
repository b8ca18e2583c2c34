/* SPDX-License-Identifier: MIT */
/* Checks every range operation shares, and the batch a call uses when the
 * caller gives none. */
#include "internal.h"

/* A range is valid when it is not empty, does not wrap, both ends are
 * canonical and in one half, and that half is the tree's. */
mmu_err_t range_check(const struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len)
{
	unsigned levels = tree->mmu->levels;
	if (tree->dead || len == 0 || va + (len - 1) < va)
		return MMU_E_INVALID;
	mmu_vaddr_t last = va + (len - 1);
	if (!mmu_va_canonical(va, levels) || !mmu_va_canonical(last, levels))
		return MMU_E_INVALID;
	if (mmu_va_is_kernel(va) != mmu_va_is_kernel(last) || mmu_va_is_kernel(va) != tree->is_kernel)
		return MMU_E_INVALID;
	return MMU_OK;
}

mmu_err_t protect_check(const struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned prot)
{
	mmu_err_t err = range_check(tree, va, len);
	if (err == MMU_OK)
		err = prot_check(prot);
	if (err == MMU_OK && !mmu_is_aligned(va | len, MMU_PAGE_SIZE))
		err = MMU_E_UNALIGNED;
	if (err == MMU_OK && !(prot & MMU_PROT_R))
		err = MMU_E_INVALID_PERMISSION;
	return err;
}

struct mmu_tlb_batch *begin_batch(struct mmu_tree *tree, struct mmu_tlb_batch *given, struct mmu_tlb_batch *local)
{
	if (given) {
		MMU_ASSERT(tree->mmu, given->tree == tree, "batch of tree %lx used on tree %lx",
			   (unsigned long)given->tree->root.bits, (unsigned long)tree->root.bits);
		return given;
	}
	mmu_tlb_batch_init(local, tree);
	return local;
}

void end_batch(struct mmu_tlb_batch *used, struct mmu_tlb_batch *local)
{
	if (used != local)
		return;
	mmu_tlb_flush(local);
	mmu_tlb_batch_done(local);
}
