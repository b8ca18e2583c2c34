/* SPDX-License-Identifier: MIT */
/* The page-table lab: your code. Fill in the three functions (lab.h says
 * what each must do; README.md shows the grader). `make grade` runs the
 * grader's checks against this file. */
#include <stddef.h>

#include "lab.h"

pte_t *lab_walk(uint64_t root, uint64_t va, bool alloc)
{
	/* TODO: start at the PML4 (lab_p2v(root)); for levels 4, 3 and 2 take
	 * the entry PX(level, va); follow it when present, else allocate a
	 * table (when ALLOC) and link it with the right bits; return the
	 * address of the level-1 entry. */
	(void)root;
	(void)va;
	(void)alloc;
	return NULL;
}

int lab_map(uint64_t root, uint64_t va, uint64_t pa, unsigned perm)
{
	/* TODO: find the PTE (allocating tables); refuse a present one; write
	 * PA with P and the bits PERM asks for (XD unless PERM_X). */
	(void)root;
	(void)va;
	(void)pa;
	(void)perm;
	return -1;
}

int lab_unmap(uint64_t root, uint64_t va, bool free)
{
	/* TODO: find the PTE (no allocation); refuse a missing one; clear it;
	 * make sure no CPU keeps the old translation; only then free the
	 * frame when asked. */
	(void)root;
	(void)va;
	(void)free;
	return -1;
}
