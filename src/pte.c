/* SPDX-License-Identifier: MIT */
/* Entry accessors. The rules: a non-present entry holds no frame; huge
 * leaves keep PAT in bit 12 and their address above their size. */
#include "internal.h"

mmu_err_t mmu_pte_addr(mmu_pte_t e, enum mmu_level level, mmu_pa_t *out)
{
	if (!mmu_pte_present(e))
		return MMU_E_NOTEXIST;
	*out = mmu_pa(e & mmu_pte_addr_mask(e, level));
	return MMU_OK;
}

mmu_err_t mmu_pte_set_addr(mmu_pte_t *e, enum mmu_level level, mmu_pa_t pa)
{
	uint64_t mask = mmu_pte_addr_mask(*e, level);
	if (pa.bits & ~MMU_PTE_ADDR_MASK & (MMU_PAGE_SIZE - 1))
		return MMU_E_UNALIGNED;
	if (pa.bits & ~MMU_PTE_ADDR_MASK)
		return MMU_E_INVALID;
	if (pa.bits & ~mask)
		return MMU_E_UNALIGNED;
	*e = (*e & ~mask) | pa.bits | MMU_PTE_P;
	return MMU_OK;
}

mmu_err_t mmu_pte_set_flags(mmu_pte_t *e, enum mmu_level level, uint64_t flags)
{
	/* The mask must be computed from the new flags: PS decides where the
	 * address ends. */
	uint64_t new_mask = mmu_pte_addr_mask(flags, level);
	if (flags & new_mask)
		return MMU_E_INVALID;
	*e = (*e & mmu_pte_addr_mask(*e, level) & new_mask) | flags;
	return MMU_OK;
}

mmu_err_t mmu_pte_clear(mmu_pte_t *e, enum mmu_level level, mmu_pa_t *old)
{
	mmu_pa_t pa;
	mmu_err_t err = mmu_pte_addr(*e, level, &pa);
	*e = 0;
	if (err == MMU_OK && old)
		*old = pa;
	return err;
}

mmu_err_t mmu_pte_next_table(mmu_pte_t e, enum mmu_level level, mmu_pa_t *out)
{
	if (!mmu_pte_present(e) || mmu_pte_is_leaf(e, level))
		return MMU_E_NOTEXIST;
	*out = mmu_pa(e & MMU_PTE_ADDR_MASK);
	return MMU_OK;
}
