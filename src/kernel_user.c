/* SPDX-License-Identifier: MIT */
/* User-accessible pages in the kernel half (a vsyscall-style page): user
 * mode reaches a page only when US is set at every level of its path, and
 * the library builds kernel-half tables supervisor-only. The calls here
 * set US on the path of pages mapped for that purpose, in the kernel tree
 * and in a KPTI template, and remember the ranges so that KPTI copies them
 * with U and its audit accepts them. */
#include "internal.h"

/* Set US on every table entry above VA's leaf in TREE (lock held).
 * Returns the span of the leaf, or of the hole, VA ends in. */
static uint64_t path_set_user(struct mmu_tree *tree, mmu_vaddr_t va)
{
	struct pt_path p;
	pt_path_find(tree, va, &p);
	entry_set_user_path(tree, &p);
	return mmu_level_span(p.level);
}

void kernel_user_paths(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len)
{
	mmu_vaddr_t last = va + (len - 1);
	tree_lock(tree);
	for (;;) {
		uint64_t span = path_set_user(tree, va);
		mmu_vaddr_t next = (va & ~(span - 1)) + span;
		if (next == 0 || next - 1 >= last)
			break;
		va = next;
	}
	tree_unlock(tree);
}

bool kernel_user_range(const struct mmu *mmu, mmu_vaddr_t va, mmu_vaddr_t last)
{
	for (unsigned i = 0; i < mmu->nuser_windows; i++) {
		const struct mmu_user_window *u = &mmu->user_window[i];
		if (va >= u->va && last - u->va <= u->len - 1)
			return true;
	}
	return false;
}

bool kernel_user_overlaps(const struct mmu *mmu, mmu_vaddr_t va, mmu_vaddr_t last)
{
	for (unsigned i = 0; i < mmu->nuser_windows; i++) {
		const struct mmu_user_window *u = &mmu->user_window[i];
		if (va <= u->va + (u->len - 1) && last >= u->va)
			return true;
	}
	return false;
}

mmu_err_t mmu_kernel_map_user(struct mmu *mmu, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
			      const struct mmu_map_opts *opts)
{
	struct mmu_tree *k = mmu_kernel_tree(mmu);
	mmu_err_t err = range_check(k, va, len);
	if (err == MMU_OK && (prot & ~(unsigned)(MMU_PROT_R | MMU_PROT_W | MMU_PROT_X | MMU_PROT_U)))
		err = MMU_E_INVALID;
	if (err != MMU_OK)
		return err;
	/* A user tree copied the root's kernel half when it was created: a US
	 * set there now would not reach it. */
	if (mmu_user_tables(mmu) != 0)
		return MMU_E_BUSY;
	if (mmu->nuser_windows == MMU_KERNEL_USER_WINDOWS)
		return MMU_E_NOMEM;
	err = mmu_map(k, va, pa, len, prot | MMU_PROT_U, opts, NULL);
	if (err != MMU_OK)
		return err;
	/* No invalidation: entries only gain US, and no user tree exists, so
	 * no CPU ran user mode on these tables (a stale entry could only
	 * refuse a user access, never allow one). */
	kernel_user_paths(k, va, len);
	mmu->user_window[mmu->nuser_windows++] = (struct mmu_user_window){.va = va, .len = len};
	return MMU_OK;
}
