/* SPDX-License-Identifier: MIT */
/* A space's region array: sorted by start, never overlapping, in the
 * inline slots or in an array the caller gave (no limit but its size).
 * Lookups are binary searches; changes shift the array in place, so no
 * call needs a copy of it on its stack. Every function here but the two
 * public lookups runs under the space lock. */
#include "vm_internal.h"

/* ---- lookups ---- */

/* The first region whose START (BY_START) or last byte is at or above V;
 * nregions when none. Both keys grow along the array. */
static unsigned first_at_or_above(const struct mmu_vm_space *sp, mmu_vaddr_t v, bool by_start)
{
	unsigned lo = 0, hi = sp->nregions;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct mmu_vm_region *r = &sp->region[mid];
		mmu_vaddr_t key = by_start ? r->start : r->start + (r->len - 1);
		if (key < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

unsigned vm_region_lower(const struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	return first_at_or_above(sp, va, false);
}

unsigned vm_region_upper(const struct mmu_vm_space *sp, mmu_vaddr_t last)
{
	return first_at_or_above(sp, last + 1, true);
}

int vm_region_find(const struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	unsigned i = vm_region_lower(sp, va);
	return i < sp->nregions && sp->region[i].start <= va ? (int)i : -1;
}

/* No lock: vm.h says who may call it. */
const struct mmu_vm_region *mmu_vm_region_at(const struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	int i = vm_region_find(sp, va);
	return i < 0 ? NULL : &sp->region[i];
}

bool mmu_vm_region_get(struct mmu_vm_space *sp, mmu_vaddr_t va, struct mmu_vm_region *out)
{
	vm_lock(sp);
	int i = vm_region_find(sp, va);
	if (i >= 0)
		*out = sp->region[i];
	vm_unlock(sp);
	return i >= 0;
}

/* ---- changes in place ---- */

void vm_regions_move(struct mmu_vm_region *dst, const struct mmu_vm_region *src, unsigned n)
{
	if (dst < src) {
		for (unsigned i = 0; i < n; i++)
			dst[i] = src[i];
	} else if (dst > src) {
		for (unsigned i = n; i > 0; i--)
			dst[i - 1] = src[i - 1];
	}
}

void vm_regions_splice(struct mmu_vm_space *sp, unsigned lo, unsigned hi, const struct mmu_vm_region *piece,
		       unsigned k)
{
	unsigned n = sp->nregions - (hi - lo) + k;
	MMU_ASSERT(sp->tree.mmu, lo <= hi && hi <= sp->nregions && n <= sp->region_cap,
		   "regions: splice [%u, %u) + %u of %u in %u slots", lo, hi, k, sp->nregions, sp->region_cap);
	/* Objects count the new pieces before they lose the old regions, so a
	 * count never passes through 0 while a region still maps its object. */
	for (unsigned i = 0; i < k; i++)
		vm_region_hold(sp, &piece[i]);
	vm_regions_drop(sp, &sp->region[lo], hi - lo);
	vm_regions_move(&sp->region[lo + k], &sp->region[hi], sp->nregions - hi);
	for (unsigned i = 0; i < k; i++)
		sp->region[lo + i] = piece[i];
	sp->nregions = n;
}

/* ---- storage ---- */

void vm_regions_use_inline(struct mmu_vm_space *sp)
{
	sp->region = sp->inline_region;
	sp->region_cap = MMU_VM_INLINE_REGIONS;
}

bool vm_storage_args_ok(const struct mmu_vm_region *slots, unsigned capacity)
{
	return (slots == NULL) == (capacity == 0);
}

/* As addresses: no pointer arithmetic on SLOTS, which may be NULL. */
bool vm_storage_overlaps(const struct mmu_vm_region *slots, unsigned capacity, const struct mmu_vm_space *sp)
{
	uintptr_t a = (uintptr_t)slots, a_end = a + (uintptr_t)capacity * sizeof *slots;
	uintptr_t b = (uintptr_t)sp->region, b_end = b + (uintptr_t)sp->region_cap * sizeof *slots;
	return slots && a < b_end && b < a_end;
}

void vm_regions_adopt(struct mmu_vm_space *sp, struct mmu_vm_region *slots, unsigned capacity)
{
	if (!slots) {
		slots = sp->inline_region;
		capacity = MMU_VM_INLINE_REGIONS;
	}
	vm_regions_move(slots, sp->region, sp->nregions);
	sp->region = slots;
	sp->region_cap = capacity;
}

mmu_err_t mmu_vm_space_set_region_storage(struct mmu_vm_space *sp, struct mmu_vm_region *slots, unsigned capacity)
{
	if (!vm_storage_args_ok(slots, capacity))
		return MMU_E_INVALID;
	vm_lock(sp);
	unsigned cap = slots ? capacity : MMU_VM_INLINE_REGIONS;
	mmu_err_t err = sp->tree.dead ? MMU_E_INVALID : sp->nregions > cap ? MMU_E_NOSPACE : MMU_OK;
	if (err == MMU_OK)
		vm_regions_adopt(sp, slots, capacity);
	vm_unlock(sp);
	return err;
}
