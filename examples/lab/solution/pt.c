/* SPDX-License-Identifier: MIT */
/* The page-table lab: the reference solution (kept out of the skeleton,
 * ../pt.c). The grader's self-test (make check) also builds it with one of
 * three seeded bugs, LAB_BUG=1..3, each of which a check must catch. */
#include <stddef.h>

#include "lab.h"

#ifndef LAB_BUG
#define LAB_BUG 0
#endif

/* Bits of an entry that points at a table: the widest rights, so that the
 * leaf alone decides (x86 ANDs RW and US and ORs XD over the levels). */
#if LAB_BUG == 3
#define TABLE_BITS (PTE_P | PTE_W) /* seeded bug 3: no US above the leaf */
#else
#define TABLE_BITS (PTE_P | PTE_W | PTE_U)
#endif

pte_t *lab_walk(uint64_t root, uint64_t va, bool alloc)
{
	pte_t *table = lab_p2v(root);
	for (int level = 4; level > 1; level--) {
		pte_t *e = &table[PX(level, va)];
		if (!(*e & PTE_P)) {
			uint64_t pa = alloc ? lab_table_alloc() : 0;
			if (!pa)
				return NULL;
			*e = pa | TABLE_BITS;
		}
		table = lab_p2v(*e & PTE_ADDR);
	}
	return &table[PX(1, va)];
}

int lab_map(uint64_t root, uint64_t va, uint64_t pa, unsigned perm)
{
	pte_t *pte = lab_walk(root, va, true);
	if (!pte || (*pte & PTE_P))
		return -1;
	*pte = (pa & PTE_ADDR) | PTE_P | (perm & PERM_W ? PTE_W : 0) | (perm & PERM_U ? PTE_U : 0) |
	       (perm & PERM_X ? 0 : PTE_XD);
	return 0;
}

int lab_unmap(uint64_t root, uint64_t va, bool free)
{
	pte_t *pte = lab_walk(root, va, false);
	if (!pte || !(*pte & PTE_P))
		return -1;
	uint64_t pa = *pte & PTE_ADDR;
	*pte = 0;
#if LAB_BUG == 2
	if (free) /* seeded bug 2: the frame goes back before the shootdown */
		lab_frame_free(pa);
#endif
#if LAB_BUG != 1 /* seeded bug 1: no INVLPG on this CPU */
	lab_invlpg(va);
#endif
	lab_shootdown(root, va);
#if LAB_BUG != 2
	if (free)
		lab_frame_free(pa);
#endif
	return 0;
}
