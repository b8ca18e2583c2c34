/* SPDX-License-Identifier: MIT */
/* Entry decoders (read-only: every store to an entry of a tree is the
 * entry writer's, src/entry.h). The rules: a non-present entry holds no frame; huge
 * leaves keep PAT in bit 12 and their address above their size. */
#include "internal.h"

mmu_err_t mmu_pte_addr(mmu_pte_t e, enum mmu_level level, mmu_pa_t *out)
{
	if (!mmu_pte_present(e))
		return MMU_E_NOTEXIST;
	*out = mmu_pa(e & mmu_pte_addr_mask(e, level));
	return MMU_OK;
}

mmu_err_t mmu_pte_next_table(mmu_pte_t e, enum mmu_level level, mmu_pa_t *out)
{
	if (!mmu_pte_present(e) || mmu_pte_is_leaf(e, level))
		return MMU_E_NOTEXIST;
	*out = mmu_pa(e & MMU_PTE_ADDR_MASK);
	return MMU_OK;
}
