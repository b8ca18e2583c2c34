/* SPDX-License-Identifier: MIT */
/* Process spaces: creation, exit, and the regions that say what a fault may
 * map. Pages come and go in fault.c and fork.c. */
#include "vm_internal.h"

void vm_lock(struct mmu_vm_space *sp)
{
	lock_spin(sp->tree.mmu, &sp->lock);
}

void vm_unlock(struct mmu_vm_space *sp) { atomic_store_explicit(&sp->lock, false, memory_order_release); }

bool vm_trylock(struct mmu_vm_space *sp)
{
	return !atomic_load_explicit(&sp->lock, memory_order_relaxed) &&
	       !atomic_exchange_explicit(&sp->lock, true, memory_order_acquire);
}

void vm_family_lock(struct mmu *mmu) { lock_spin(mmu, &mmu->vm_family_lock); }

void vm_family_unlock(struct mmu *mmu) { atomic_store_explicit(&mmu->vm_family_lock, false, memory_order_release); }

void vm_family_link(struct mmu_vm_space *parent, struct mmu_vm_space *child)
{
	child->family_prev = parent;
	child->family_next = parent->family_next;
	parent->family_next->family_prev = child;
	parent->family_next = child;
}

/* Family lock held. */
static void vm_family_unlink(struct mmu_vm_space *sp)
{
	sp->family_prev->family_next = sp->family_next;
	sp->family_next->family_prev = sp->family_prev;
	sp->family_prev = sp->family_next = sp;
}

bool vm_frame_put(struct mmu *mmu, mmu_pa_t pa)
{
	struct mmu_frame_meta *meta = port_meta(mmu, frame_data_head(mmu, pa));
	uint32_t before = __atomic_fetch_sub(&meta->refcount, 1, __ATOMIC_ACQ_REL);
	MMU_ASSERT(mmu, before > 0, "vm_frame_put: frame %lx has no reference", (unsigned long)pa.bits);
	return before == 1;
}

mmu_err_t mmu_vm_space_create(struct mmu *mmu, struct mmu_vm_space *sp)
{
	/* A live space stays: its root, and its neighbours' family links. */
	if (vm_space_live(sp))
		return MMU_E_INVALID;
	__builtin_memset(sp, 0, sizeof *sp); /* no 1.7 KiB temporary at -O0 */
	atomic_init(&sp->lock, false);
	vm_regions_use_inline(sp);
	sp->min_addr = MMU_VM_MIN_ADDR_DEFAULT;
	mmu_err_t err = mmu_tree_create(mmu, &sp->tree);
	if (err == MMU_OK)
	{
		sp->tree.process = true;
		sp->live = vm_live_mark(sp);
		sp->family_prev = sp->family_next = sp;
	}
	return err;
}

/* The BUSY check, the zap and the release of the tables are one change
 * under one hold of the tree lock (vm_zap_exit), which mmu_tree_load
 * takes to join the tree: a load either came first (BUSY, nothing
 * released) or finds the tree dead and panics (a space loaded while it
 * exits is the caller's race). */
/* The family lock is held from before the space lock until SP is out of
 * its family: a page-out of a shared frame walks the family under it, so
 * once exit returns no list points at SP's storage; an exit refused
 * (BUSY) leaves SP in its family. */
mmu_err_t mmu_vm_space_exit(struct mmu_vm_space *sp)
{
	struct mmu *mmu = sp->tree.mmu;
	vm_family_lock(mmu);
	vm_lock(sp);
	mmu_err_t err = vm_zap_exit(sp);
	if (err == MMU_OK) {
		vm_kpti_detach(sp);
		vm_regions_drop(sp, sp->region, sp->nregions);
		sp->nregions = 0;
		vm_regions_use_inline(sp); /* the caller's array is its own again */
		sp->live = 0;
		vm_family_unlink(sp);
	}
	vm_unlock(sp);
	vm_family_unlock(mmu);
	return err;
}

mmu_err_t mmu_vm_space_set_min_addr(struct mmu_vm_space *sp, mmu_vaddr_t addr)
{
	vm_lock(sp);
	mmu_err_t err = MMU_OK;
	if (sp->tree.dead || addr > mmu_user_last(sp->tree.mmu))
		err = MMU_E_INVALID;
	else if (!mmu_is_aligned(addr, MMU_PAGE_SIZE))
		err = MMU_E_UNALIGNED;
	else if (sp->nregions > 0 && sp->region[0].start < addr)
		err = MMU_E_DUPLICATED;
	if (err == MMU_OK)
		sp->min_addr = addr;
	vm_unlock(sp);
	return err;
}

mmu_err_t mmu_vm_space_set_huge(struct mmu_vm_space *sp, bool on)
{
	vm_lock(sp);
	mmu_err_t err = sp->tree.dead ? MMU_E_INVALID : MMU_OK;
	if (err == MMU_OK)
		sp->huge = on;
	vm_unlock(sp);
	return err;
}

void vm_split_huge(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va)
{
	mmu_pte_t v = pte_load(e);
	MMU_ASSERT(w->mmu, level == MMU_LEVEL_PD, "vm_split_huge: level %u leaf %lx at %lx in a process space", level,
		   (unsigned long)v, (unsigned long)va);
	entry_split_leaf(w, level, e, va);
	if (!w->dry)
		vm_frame_get_n(w->mmu, mmu_pa(v & mmu_pte_addr_mask(v, level)), MMU_ENTRIES_PER_TABLE - 1);
}

bool vm_split_if_cut(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_vaddr_t last)
{
	if (pt_entry_covered(level, va, last))
		return false;
	vm_split_huge(w, level, e, va);
	return true;
}

/* ---- regions ---- */

/* INVALID / UNALIGNED for a range of a space: below its min address, the
 * kernel half, non-canonical, empty or wrapping. Space lock held (the
 * min address). */
static mmu_err_t region_range_check(const struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len)
{
	mmu_err_t err = range_check(&sp->tree, va, len);
	if (err == MMU_OK && va < sp->min_addr)
		err = MMU_E_INVALID;
	if (err == MMU_OK && !mmu_is_aligned(va | len, MMU_PAGE_SIZE))
		err = MMU_E_UNALIGNED;
	return err;
}

/* A guard region has no permission at all; every other kind needs R. */
static bool region_prot_ok(unsigned prot, enum mmu_vm_kind kind)
{
	unsigned rwx = prot & (MMU_PROT_R | MMU_PROT_W | MMU_PROT_X);
	return kind == MMU_VM_GUARD ? rwx == 0 : (rwx & MMU_PROT_R) != 0;
}

static mmu_err_t region_args_check(const struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot,
				   enum mmu_vm_kind kind, uint64_t max)
{
	bool kind_ok = kind == MMU_VM_ANON || kind == MMU_VM_STACK || kind == MMU_VM_EAGER || kind == MMU_VM_GUARD;
	bool max_ok = kind == MMU_VM_STACK ? (max == 0 || max >= len) : max == 0;
	mmu_err_t err = MMU_OK;
	if (!kind_ok || !max_ok || len == 0 || prot_check(prot) != MMU_OK)
		err = MMU_E_INVALID;
	if (err == MMU_OK)
		err = region_range_check(sp, va, len);
	if (err == MMU_OK && !mmu_is_aligned(max, MMU_PAGE_SIZE))
		err = MMU_E_UNALIGNED;
	if (err == MMU_OK && !region_prot_ok(prot, kind))
		err = MMU_E_INVALID_PERMISSION;
	return err;
}

/* Add R, whose arguments PROT and MAX are checked as those of a region of
 * CHECK_KIND. Every check under the space lock: the min address and the
 * regions are read as the change will find them. */
static mmu_err_t region_add(struct mmu_vm_space *sp, const struct mmu_vm_region *r, unsigned prot,
			    enum mmu_vm_kind check_kind, uint64_t max)
{
	vm_lock(sp);
	mmu_err_t err = region_args_check(sp, r->start, r->len, prot, check_kind, max);
	if (err == MMU_OK && (prot & MMU_PROT_W) && !vm_region_may_write(r))
		err = MMU_E_INVALID_PERMISSION;
	unsigned i = err == MMU_OK ? vm_region_lower(sp, r->start) : 0;
	if (err == MMU_OK && i < sp->nregions && sp->region[i].start <= region_last(r))
		err = MMU_E_DUPLICATED;
	if (err == MMU_OK && sp->nregions == sp->region_cap)
		err = MMU_E_NOSPACE;
	/* An object region's record in its object first (NOSPACE there
	 * too); the splice counts the region, then this claim goes. */
	if (err == MMU_OK)
		err = vm_regions_claim(sp, r, 1, false);
	bool claimed = err == MMU_OK;
	if (err == MMU_OK && r->kind == MMU_VM_EAGER)
		err = vm_populate(sp, r);
	if (err == MMU_OK)
		vm_regions_splice(sp, i, i, r, 1);
	if (claimed)
		vm_region_drop(sp, r);
	vm_unlock(sp);
	return err;
}

mmu_err_t mmu_vm_region_add(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot,
			    enum mmu_vm_kind kind, uint64_t max)
{
	struct mmu_vm_region r = {
		.start = va, .len = len, .prot = (prot & (MMU_PROT_R | MMU_PROT_W | MMU_PROT_X)), .kind = kind,
		.max = kind == MMU_VM_STACK && max == 0 ? MMU_VM_STACK_MAX_DEFAULT : max,
	};
	return region_add(sp, &r, prot, kind, max);
}

/* An object region's range and permissions follow an anon region's rules. */
mmu_err_t vm_region_add_held(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot,
			     enum mmu_vm_kind share, struct mmu_vm_object *obj, uint64_t first_page)
{
	struct mmu_vm_region r = {
		.start = va, .len = len, .prot = (prot & (MMU_PROT_R | MMU_PROT_W | MMU_PROT_X)), .kind = share,
		.obj = obj, .first_page = first_page,
	};
	return region_add(sp, &r, prot, MMU_VM_ANON, 0);
}

/* Cut [VA, LAST] out of the regions, with the pages mapped there: what is
 * left of the first and last regions it overlaps stays. A stack's lower
 * piece keeps its growth limit (end - max), as region protect's pieces
 * do: it ends lower, so its max shrinks by as much, and removing the top
 * of a stack never lets it grow further down. NOTEXIST when no region
 * overlaps; NOSPACE when a region cut in the middle finds no slot. */
static mmu_err_t regions_remove_range(struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_vaddr_t last)
{
	unsigned lo = vm_region_lower(sp, va), hi = vm_region_upper(sp, last);
	if (lo >= hi)
		return MMU_E_NOTEXIST;
	const struct mmu_vm_region *first = &sp->region[lo], *end = &sp->region[hi - 1];
	struct mmu_vm_region piece[2];
	unsigned k = 0;
	if (first->start < va) {
		piece[k] = *first;
		piece[k].len = va - first->start;
		if (first->kind == MMU_VM_STACK)
			piece[k].max -= region_last(first) + 1 - va;
		k++;
	}
	if (region_last(end) > last) {
		piece[k] = *end;
		piece[k].start = last + 1;
		piece[k].len = region_last(end) - last;
		if (end->obj)
			piece[k].first_page += (last + 1 - end->start) >> MMU_PAGE_SHIFT;
		k++;
	}
	if (sp->nregions - (hi - lo) + k > sp->region_cap)
		return MMU_E_NOSPACE;
	mmu_err_t err = vm_zap(sp, va, last);
	if (err == MMU_OK)
		vm_regions_splice(sp, lo, hi, piece, k);
	return err;
}

mmu_err_t mmu_vm_region_remove(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len)
{
	vm_lock(sp);
	mmu_err_t err = len == 0 ? MMU_E_INVALID : region_range_check(sp, va, len);
	if (err == MMU_OK)
		err = regions_remove_range(sp, va, va + (len - 1));
	vm_unlock(sp);
	return err;
}

/* Whether region I may end at NEW_LAST: below the next region and, when
 * that one is a stack, the guard gap below it (Linux's brk checks
 * vm_start_gap of the next VMA the same way). */
static bool region_may_grow(const struct mmu_vm_space *sp, unsigned i, mmu_vaddr_t new_last)
{
	if (i + 1 == sp->nregions)
		return true;
	const struct mmu_vm_region *next = &sp->region[i + 1];
	if (new_last >= next->start)
		return false;
	return next->kind != MMU_VM_STACK || next->start - (new_last + 1) >= MMU_VM_GUARD_GAP;
}

mmu_err_t mmu_vm_region_resize(struct mmu_vm_space *sp, mmu_vaddr_t start, uint64_t new_len)
{
	vm_lock(sp);
	mmu_err_t err = new_len == 0 ? MMU_E_INVALID : region_range_check(sp, start, new_len);
	int i = err == MMU_OK ? vm_region_find(sp, start) : -1;
	if (err == MMU_OK && (i < 0 || sp->region[i].start != start))
		err = MMU_E_NOTEXIST;
	struct mmu_vm_region *r = err == MMU_OK ? &sp->region[i] : NULL;
	if (r && !vm_object_fits(r, new_len))
		err = MMU_E_INVALID;
	if (err == MMU_OK && new_len > r->len && !region_may_grow(sp, (unsigned)i, start + (new_len - 1)))
		err = MMU_E_DUPLICATED;
	if (err == MMU_OK && new_len > r->len) {
		if (r->kind == MMU_VM_STACK)
			r->max += new_len - r->len; /* the growth limit stays */
		r->len = new_len;
	} else if (err == MMU_OK && new_len < r->len) {
		err = regions_remove_range(sp, start + new_len, region_last(r));
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
