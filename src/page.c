/* Single-page calls answered from the table cache: one 4K or 2M page whose
 * page table or page directory the walker went through last. These are the
 * calls a fault handler and a page-at-a-time loop make, so they skip the
 * general checks and the walk. Each returns false, having done nothing,
 * wherever the general path must decide: an argument it may refuse, a
 * table not cached, a table to free or split, a promotion. */
#include "internal.h"

/* The cached level whose one entry spans LEN bytes, or 0. */
static inline enum mmu_level page_level(uint64_t len)
{
	if (len == MMU_PAGE_SIZE)
		return MMU_LEVEL_PT;
	return len == mmu_level_span(MMU_LEVEL_PD) ? MMU_LEVEL_PD : 0;
}

/* VA starts a page of LEVEL in TREE's own half (then so does its end). */
static inline bool page_va_ok(const struct mmu_tree *tree, mmu_vaddr_t va, enum mmu_level level)
{
	return level && mmu_is_aligned(va, mmu_level_span(level)) && mmu_va_canonical(va, tree->mmu->levels) &&
	       mmu_va_is_kernel(va) == tree->is_kernel;
}

/* PROT is valid and readable: the general path reports the others. */
static inline bool page_prot_ok(unsigned prot)
{
	return prot_check(prot) == MMU_OK && (prot & MMU_PROT_R);
}

/* The entry of a leaf or a hole at LEVEL for VA, when its table is cached;
 * NULL when it is not, or when the entry is a table (the page lies below). */
static inline mmu_pte_t *page_entry(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va)
{
	mmu_pte_t *e = pt_cache_lookup(tree, level, va);
	if (!e)
		return NULL;
	mmu_pte_t v = pte_load(e);
	return mmu_pte_present(v) && !mmu_pte_is_leaf(v, level) ? NULL : e;
}

bool page_map(struct mmu_tree *tree, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot, mmu_err_t *err)
{
	enum mmu_level level = page_level(len);
	if (tree->promote || !page_va_ok(tree, va, level) || !mmu_is_aligned(pa.bits, len) ||
	    (pa.bits >> MMU_PA_MAX_BITS) || !page_prot_ok(prot))
		return false;
	mmu_pte_t leaf = pa.bits | MMU_PTE_P | prot_to_pte(tree->mmu, prot) | (level > MMU_LEVEL_PT ? MMU_PTE_PS : 0);
	tree_lock(tree);
	/* An entry in use, leaf or table, maps something inside the range:
	 * tables are never left empty. */
	mmu_pte_t *e = pt_cache_lookup(tree, level, va);
	if (e) {
		*err = pte_load(e) ? MMU_E_DUPLICATED : MMU_OK;
		if (*err == MMU_OK)
			pt_cache_set_entry(tree, level, e, leaf);
	}
	tree_unlock(tree);
	return e != NULL;
}

bool page_walk(struct mmu_tree *tree, mmu_vaddr_t va, struct mmu_translation *out, mmu_err_t *err)
{
	if (!mmu_va_canonical(va, tree->mmu->levels) || mmu_va_is_kernel(va) != tree->is_kernel)
		return false;
	tree_lock(tree);
	enum mmu_level level = MMU_LEVEL_PT;
	mmu_pte_t *e = page_entry(tree, level, va);
	if (!e)
		e = page_entry(tree, ++level, va);
	mmu_pte_t v = e ? pte_load(e) : 0;
	uint64_t upper = e ? pt_cache(tree, level)->upper : 0;
	tree_unlock(tree);
	if (!e)
		return false;
	*err = mmu_pte_present(v) ? MMU_OK : MMU_E_NOTEXIST;
	if (*err == MMU_OK)
		*out = (struct mmu_translation){
			.pa = mmu_pa((v & mmu_pte_addr_mask(v, level)) | (va & (mmu_level_span(level) - 1))),
			.size = (enum mmu_size)level,
			.prot = prot_of_bits(tree->mmu, upper & v, (upper | v) & MMU_PTE_XD),
			.leaf = v,
		};
	return true;
}

/* Invalidate the old leaf V at VA: into the caller's batch, or now. A tree
 * no CPU runs owes nothing (tree_idle) unless PCIDs keep its entries on a
 * lazy CPU or the leaf is global. */
static __attribute__((noinline)) void page_invalidate_now(struct mmu_tree *tree, struct mmu_tlb_batch *given,
							     mmu_vaddr_t va, enum mmu_level level, bool global)
{
	struct mmu_tlb_batch local;
	struct mmu_tlb_batch *b = begin_batch(tree, given, &local);
	mmu_tlb_batch_add(b, va, mmu_level_shift(level), 1, global);
	end_batch(b, &local);
}

static inline void page_invalidate(struct mmu_tree *tree, struct mmu_tlb_batch *given, mmu_vaddr_t va,
				   enum mmu_level level, mmu_pte_t v, bool idle)
{
	bool global = (v & MMU_PTE_G) != 0;
	if (given || !idle || global || tree->mmu->pcid)
		page_invalidate_now(tree, given, va, level, global);
}

/* The leaf for [VA, VA+LEN) under the lock, or false. */
static bool page_change(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, bool unmap, uint64_t perm_bits,
			struct mmu_tlb_batch *given, mmu_err_t *err)
{
	enum mmu_level level = page_level(len);
	if (!page_va_ok(tree, va, level) || (!unmap && tree->promote))
		return false;
	tree_lock(tree);
	mmu_pte_t *e = page_entry(tree, level, va);
	mmu_pte_t v = e ? pte_load(e) : 0;
	/* An unmap that empties the table leaves it to the walker, which frees it. */
	if (!e || (unmap && v && port_meta(tree->mmu, pt_cache(tree, level)->table)->live == 1)) {
		tree_unlock(tree);
		return false;
	}
	*err = mmu_pte_present(v) ? MMU_OK : MMU_E_NOTEXIST;
	mmu_pte_t nv = unmap ? 0 : (v & ~MMU_PTE_PERM_MASK) | perm_bits;
	if (*err == MMU_OK && nv != v) {
		bool idle = tree_idle(tree);
		if (unmap)
			pt_cache_set_entry(tree, level, e, 0);
		else
			pte_rewrite_bits(e, MMU_PTE_PERM_MASK, perm_bits, idle);
		page_invalidate(tree, given, va, level, v, idle);
	}
	tree_unlock(tree);
	return true;
}

bool page_unmap(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch, mmu_err_t *err)
{
	return page_change(tree, va, len, true, 0, batch, err);
}

bool page_protect(struct mmu_tree *tree, mmu_vaddr_t va, uint64_t len, unsigned prot, struct mmu_tlb_batch *batch,
		  mmu_err_t *err)
{
	return page_prot_ok(prot) && page_change(tree, va, len, false, prot_to_pte(tree->mmu, prot), batch, err);
}
