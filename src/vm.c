/* SPDX-License-Identifier: MIT */
/* Process spaces: creation, exit, and the regions that say what a fault may
 * map. Pages come and go in fault.c and fork.c. */
#include "vm_internal.h"

void vm_lock(struct mmu_vm_space *sp)
{
	lock_spin(sp->tree.mmu, &sp->lock);
}

void vm_unlock(struct mmu_vm_space *sp) { atomic_store_explicit(&sp->lock, false, memory_order_release); }

bool vm_frame_put(struct mmu *mmu, mmu_pa_t pa)
{
	struct mmu_frame_meta *meta = port_meta(mmu, pa);
	uint32_t before = __atomic_fetch_sub(&meta->refcount, 1, __ATOMIC_ACQ_REL);
	MMU_ASSERT(mmu, before > 0, "vm_frame_put: frame %lx has no reference", (unsigned long)pa.bits);
	return before == 1;
}

mmu_err_t mmu_vm_space_create(struct mmu *mmu, struct mmu_vm_space *sp)
{
	__builtin_memset(sp, 0, sizeof *sp); /* no 1.7 KiB temporary at -O0 */
	atomic_init(&sp->lock, false);
	mmu_err_t err = mmu_tree_create(mmu, &sp->tree);
	if (err == MMU_OK)
	{
		sp->tree.process = true;
		sp->live = vm_live_mark(sp);
	}
	return err;
}

/* The BUSY check, the zap and the release of the tables are one change
 * under one hold of the tree lock (vm_zap_exit), which mmu_tree_load
 * takes to join the tree: a load either came first (BUSY, nothing
 * released) or finds the tree dead and panics (a space loaded while it
 * exits is the caller's race). */
mmu_err_t mmu_vm_space_exit(struct mmu_vm_space *sp)
{
	vm_lock(sp);
	mmu_err_t err = vm_zap_exit(sp);
	if (err == MMU_OK) {
		vm_kpti_detach(sp);
		sp->nregions = 0;
		sp->live = 0;
	}
	vm_unlock(sp);
	return err;
}

/* ---- regions ---- */

int vm_region_find(const struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	for (unsigned i = 0; i < sp->nregions; i++) {
		const struct mmu_vm_region *r = &sp->region[i];
		if (va >= r->start && va - r->start < r->len)
			return (int)i;
	}
	return -1;
}

const struct mmu_vm_region *mmu_vm_region_at(const struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	int i = vm_region_find(sp, va);
	return i < 0 ? NULL : &sp->region[i];
}

/* INVALID / UNALIGNED for a range of a space: page 0, the kernel half,
 * non-canonical, empty or wrapping. */
static mmu_err_t region_range_check(const struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len)
{
	mmu_err_t err = range_check(&sp->tree, va, len);
	if (err == MMU_OK && va < MMU_PAGE_SIZE)
		err = MMU_E_INVALID;
	if (err == MMU_OK && !mmu_is_aligned(va | len, MMU_PAGE_SIZE))
		err = MMU_E_UNALIGNED;
	return err;
}

static mmu_err_t region_args_check(const struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot,
				   enum mmu_vm_kind kind, uint64_t max)
{
	bool kind_ok = kind == MMU_VM_ANON || kind == MMU_VM_STACK || kind == MMU_VM_EAGER;
	bool max_ok = kind == MMU_VM_STACK ? (max == 0 || max >= len) : max == 0;
	mmu_err_t err = MMU_OK;
	if (!kind_ok || !max_ok || len == 0 || prot_check(prot) != MMU_OK)
		err = MMU_E_INVALID;
	if (err == MMU_OK)
		err = region_range_check(sp, va, len);
	if (err == MMU_OK && !mmu_is_aligned(max, MMU_PAGE_SIZE))
		err = MMU_E_UNALIGNED;
	if (err == MMU_OK && !(prot & MMU_PROT_R))
		err = MMU_E_INVALID_PERMISSION;
	return err;
}

/* Insert R keeping the array sorted by start (a free slot exists). */
static void region_insert(struct mmu_vm_space *sp, const struct mmu_vm_region *r)
{
	unsigned i = sp->nregions;
	while (i > 0 && sp->region[i - 1].start > r->start) {
		sp->region[i] = sp->region[i - 1];
		i--;
	}
	sp->region[i] = *r;
	sp->nregions++;
}

mmu_err_t mmu_vm_region_add(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot,
			    enum mmu_vm_kind kind, uint64_t max)
{
	mmu_err_t err = region_args_check(sp, va, len, prot, kind, max);
	if (err != MMU_OK)
		return err;
	struct mmu_vm_region r = {
		.start = va, .len = len, .prot = (prot & (MMU_PROT_R | MMU_PROT_W | MMU_PROT_X)), .kind = kind,
		.max = kind == MMU_VM_STACK && max == 0 ? MMU_VM_STACK_MAX_DEFAULT : max,
	};
	vm_lock(sp);
	for (unsigned i = 0; i < sp->nregions && err == MMU_OK; i++)
		if (region_overlaps(&sp->region[i], va, va + (len - 1)))
			err = MMU_E_DUPLICATED;
	if (err == MMU_OK && sp->nregions == MMU_VM_MAX_REGIONS)
		err = MMU_E_NOMEM;
	if (err == MMU_OK && kind == MMU_VM_EAGER)
		err = vm_populate(sp, &r);
	if (err == MMU_OK)
		region_insert(sp, &r);
	vm_unlock(sp);
	return err;
}

/* Regions REMOVE leaves behind: 0 (inside it), 1, or 2 (cut in the middle). */
static unsigned pieces_left(const struct mmu_vm_region *r, mmu_vaddr_t va, mmu_vaddr_t last)
{
	mmu_vaddr_t r_last = r->start + (r->len - 1);
	return (r->start < va ? 1u : 0u) + (r_last > last ? 1u : 0u);
}

/* Rebuild the region array without [VA, LAST]; it has room (checked). A
 * stack's pieces keep its growth limit (end - max) as region protect's
 * do: the lower piece ends lower, so its max shrinks by as much, and
 * removing the top of a stack never lets it grow further down. */
static void regions_cut(struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_vaddr_t last)
{
	struct mmu_vm_region old[MMU_VM_MAX_REGIONS];
	unsigned n = sp->nregions;
	for (unsigned i = 0; i < n; i++)
		old[i] = sp->region[i];
	sp->nregions = 0;
	for (unsigned i = 0; i < n; i++) {
		struct mmu_vm_region r = old[i];
		mmu_vaddr_t r_last = r.start + (r.len - 1);
		if (!region_overlaps(&r, va, last)) {
			region_insert(sp, &r);
			continue;
		}
		if (r.start < va) {
			struct mmu_vm_region low = r;
			low.len = va - r.start;
			if (low.kind == MMU_VM_STACK)
				low.max -= r_last + 1 - va;
			region_insert(sp, &low);
		}
		if (r_last > last) {
			struct mmu_vm_region high = r;
			high.start = last + 1;
			high.len = r_last - last;
			region_insert(sp, &high);
		}
	}
}

mmu_err_t mmu_vm_region_remove(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len)
{
	mmu_err_t err = len == 0 ? MMU_E_INVALID : region_range_check(sp, va, len);
	if (err != MMU_OK)
		return err;
	mmu_vaddr_t last = va + (len - 1);
	unsigned touched = 0, after = 0;
	vm_lock(sp);
	for (unsigned i = 0; i < sp->nregions; i++) {
		bool hit = region_overlaps(&sp->region[i], va, last);
		touched += hit;
		after += hit ? pieces_left(&sp->region[i], va, last) : 1u;
	}
	if (touched == 0)
		err = MMU_E_NOTEXIST;
	else if (after > MMU_VM_MAX_REGIONS)
		err = MMU_E_NOMEM;
	if (err == MMU_OK) {
		vm_zap(sp, va, last);
		regions_cut(sp, va, last);
	}
	vm_unlock(sp);
	return err;
}

struct mmu_vm_counters mmu_vm_counters_take(struct mmu_vm_space *sp)
{
	vm_lock(sp);
	struct mmu_vm_counters c = sp->counters;
	sp->counters = (struct mmu_vm_counters){0};
	vm_unlock(sp);
	return c;
}
