/* SPDX-License-Identifier: MIT */
/* The page-fault handler of process spaces: decode the error code, then
 * decide in the order of the contract (include/mmu64/vm.h): spurious,
 * demand-zero, copy-on-write, stack growth, refused. The kernel's copies
 * to and from user memory, which hand their faults here, are in
 * src/uaccess.c. */
#include "vm_internal.h"

struct mmu_vm_fault mmu_vm_fault_decode(uint32_t error_code, mmu_vaddr_t cr2, enum mmu_vm_fault_path path)
{
	return (struct mmu_vm_fault){
		.va = cr2,
		.present = (error_code & MMU_PF_P) != 0,
		.write = (error_code & MMU_PF_W) != 0,
		.user = (error_code & MMU_PF_U) != 0,
		.rsvd = (error_code & MMU_PF_RSVD) != 0,
		.fetch = (error_code & MMU_PF_ID) != 0,
		.pk = (error_code & MMU_PF_PK) != 0,
		.shadow_stack = (error_code & MMU_PF_SS) != 0,
		.path = path,
	};
}

#define RFLAGS_AC (1ull << 18) /* EFLAGS.AC: SMAP lets supervisor accesses reach user pages */

enum mmu_vm_fault_path mmu_vm_kernel_fault_path(bool in_window, bool smap, uint64_t rflags)
{
	bool user_reachable = !smap || (rflags & RFLAGS_AC) != 0;
	return in_window && user_reachable ? MMU_VM_FAULT_COPY_USER : MMU_VM_FAULT_ACCESS;
}

/* ---- what the tables and the regions allow ---- */

static bool tables_allow(const struct mmu_translation *t, const struct mmu_vm_fault *f)
{
	if (f->user && !(t->prot & MMU_PROT_U))
		return false;
	if (f->write && !(t->prot & MMU_PROT_W))
		return false;
	return !(f->fetch && !(t->prot & MMU_PROT_X));
}

/* Every access needs R (a guard region has none); a write W, a fetch X. */
static bool region_allows(const struct mmu_vm_region *r, const struct mmu_vm_fault *f)
{
	return (r->prot & MMU_PROT_R) && !(f->write && !(r->prot & MMU_PROT_W)) &&
	       !(f->fetch && !(r->prot & MMU_PROT_X));
}

/* ---- the changes a fault makes ---- */

/* Map a zeroed frame at PAGE with R's permissions (as `map` would, plus U). */
static mmu_err_t map_zeroed(struct mmu_vm_space *sp, mmu_vaddr_t page, const struct mmu_vm_region *r)
{
	struct mmu *mmu = sp->tree.mmu;
	mmu_pa_t pa;
	mmu_err_t err = frame_alloc_data(mmu, &pa);
	if (err != MMU_OK)
		return MMU_E_NOMEM;
	port_meta(mmu, pa)->refcount = 1;
	/* No options: one 4K page, the single-page map a fault handler wants
	 * (the table cache answers a run of faults in one page table). */
	err = mmu_map(&sp->tree, page, pa, MMU_PAGE_SIZE, r->prot | MMU_PROT_U, NULL, NULL);
	if (err == MMU_OK)
		vm_kpti_sync(sp, page);
	if (err != MMU_OK) {
		port_meta(mmu, pa)->refcount = 0;
		frame_free_data(mmu, pa);
		MMU_ASSERT(mmu, err == MMU_E_NOMEM, "fault: map of %lx returned %u", (unsigned long)page,
			   (unsigned)err);
	}
	return err;
}

/* With huge pages on (mmu_vm_space_set_huge): a zeroed 2M frame for the
 * 2M block around PAGE when the anon region R holds the whole block and
 * nothing is mapped in it (its PD entry empty or not reached). False when
 * not tried, or when no 2M frame or no table was there: the caller maps a
 * 4K page, so the try never makes a fault NOMEM. */
static bool map_zeroed_huge(struct mmu_vm_space *sp, mmu_vaddr_t page, const struct mmu_vm_region *r)
{
	struct mmu *mmu = sp->tree.mmu;
	const uint64_t size = mmu_size_bytes(MMU_SIZE_2M);
	mmu_vaddr_t block = page & ~(size - 1);
	if (!sp->huge || r->kind != MMU_VM_ANON || block < r->start || block + (size - 1) > region_last(r))
		return false;
	mmu_pte_t pd;
	mmu_err_t err = mmu_entry(&sp->tree, block, MMU_LEVEL_PD, &pd);
	mmu_pa_t pa;
	if (!(err == MMU_E_NOTEXIST || (err == MMU_OK && pd == 0)) || frame_alloc_data_2m(mmu, &pa) != MMU_OK)
		return false;
	port_meta(mmu, pa)->refcount = 1;
	if (pt_map_2m(&sp->tree, block, pa, r->prot | MMU_PROT_U) != MMU_OK) {
		port_meta(mmu, pa)->refcount = 0;
		frame_free_data(mmu, pa);
		return false;
	}
	vm_kpti_sync(sp, block);
	return true;
}

mmu_err_t vm_populate(struct mmu_vm_space *sp, const struct mmu_vm_region *r)
{
	mmu_vaddr_t last = region_last(r);
	for (mmu_vaddr_t page = r->start; page < last; page += MMU_PAGE_SIZE) {
		mmu_err_t err = map_zeroed(sp, page, r);
		if (err != MMU_OK) {
			/* 4K leaves only: no split, so the zap cannot fail. */
			mmu_err_t zerr = page > r->start ? vm_zap(sp, r->start, page - 1) : MMU_OK;
			MMU_ASSERT(sp->tree.mmu, zerr == MMU_OK, "populate: undo of %lx returned %u",
				   (unsigned long)r->start, (unsigned)zerr);
			return err;
		}
	}
	return MMU_OK;
}

/* Rewrite the leaf at a page: clear CLEAR, set SET (A/D kept); with
 * SPLIT, a 2M leaf there is split first and the page's 4K leaf rewritten. */
struct leaf_op {
	uint64_t clear, set;
	bool invalidate;
	bool split;
};

static enum pt_step leaf_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
			       mmu_vaddr_t last)
{
	(void)last;
	struct leaf_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	MMU_ASSERT(w->mmu, mmu_pte_present(v), "fault: leaf at %lx vanished under the space lock", (unsigned long)va);
	if (!mmu_pte_is_leaf(v, level))
		return PT_DESCEND;
	if (op->split && level > MMU_LEVEL_PT) {
		vm_split_huge(w, level, e, va);
		return PT_DESCEND;
	}
	entry_rewrite_leaf(w, level, e, va, op->clear, op->set, op->invalidate);
	return PT_STOP;
}

static const struct pt_visitor leaf_visitor = {.entry = leaf_entry};

/* Rewrite the leaf at PAGE; with OP->invalidate, flush before returning.
 * SP is alive: its space lock is held and its tree dies only with it.
 * NOMEM only with OP->split (no table): nothing changed. */
static mmu_err_t leaf_rewrite(struct mmu_vm_space *sp, mmu_vaddr_t page, struct leaf_op *op)
{
	mmu_vaddr_t last = page + (MMU_PAGE_SIZE - 1);
	mmu_err_t err = op->split ? pt_change_splitting(&sp->tree, &leaf_visitor, op, page, last)
				  : pt_change(&sp->tree, &leaf_visitor, op, page, last);
	MMU_ASSERT(sp->tree.mmu, err == MMU_OK || (op->split && err == MMU_E_NOMEM),
		   "fault: leaf rewrite at %lx of a dead space (%u)", (unsigned long)page, (unsigned)err);
	return err;
}

/* A write to the shared 2M leaf at PAGE (frame OLD): a copy of the whole
 * frame when a 2M frame is free. False: none was (break_cow splits the
 * leaf and copies the one page). */
static bool copy_huge(struct mmu_vm_space *sp, mmu_vaddr_t page, mmu_pa_t old)
{
	struct mmu *mmu = sp->tree.mmu;
	mmu_pa_t copy;
	if (frame_alloc_data_2m(mmu, &copy) != MMU_OK)
		return false;
	port_meta(mmu, copy)->refcount = 1;
	for (uint64_t off = 0; off < mmu_size_bytes(MMU_SIZE_2M); off += MMU_PAGE_SIZE)
		frame_copy(mmu, mmu_pa_add(copy, off), mmu_pa_add(old, off));
	struct leaf_op swap = {.clear = MMU_PTE_ADDR_MASK, .set = copy.bits | MMU_PTE_RW, .invalidate = true};
	leaf_rewrite(sp, page, &swap);
	if (vm_frame_put(mmu, old))
		frame_free_data(mmu, old);
	return true;
}

/* Write fault on the read-only leaf T at PAGE of a writable region: take
 * the frame over when this leaf is its only reference (a 2M leaf whole),
 * else copy it: a shared 2M leaf whole when a 2M frame is free, else it
 * is split and the page copied. The old leaf is invalidated (flushed)
 * before its reference is dropped. */
static mmu_err_t break_cow(struct mmu_vm_space *sp, mmu_vaddr_t page, const struct mmu_translation *t)
{
	struct mmu *mmu = sp->tree.mmu;
	mmu_pa_t old = mmu_pa(t->pa.bits & ~(MMU_PAGE_SIZE - 1));
	if (vm_frame_refs(mmu, old) == 1) {
		/* An upgrade: a stale read-only entry elsewhere only causes a
		 * spurious fault, so no invalidation. */
		struct leaf_op take = {.clear = 0, .set = MMU_PTE_RW, .invalidate = false};
		leaf_rewrite(sp, page, &take);
		return MMU_OK;
	}
	bool huge = t->size == MMU_SIZE_2M;
	if (huge && copy_huge(sp, page, frame_data_head(mmu, old)))
		return MMU_OK;
	mmu_pa_t copy;
	if (frame_alloc_data(mmu, &copy) != MMU_OK)
		return MMU_E_NOMEM;
	port_meta(mmu, copy)->refcount = 1;
	frame_copy(mmu, copy, old);
	struct leaf_op swap = {.clear = MMU_PTE_ADDR_MASK, .set = copy.bits | MMU_PTE_RW, .invalidate = true, .split = huge};
	if (leaf_rewrite(sp, page, &swap) != MMU_OK) {
		port_meta(mmu, copy)->refcount = 0;
		frame_free_data(mmu, copy);
		return MMU_E_NOMEM;
	}
	if (vm_frame_put(mmu, old))
		frame_free_data(mmu, old);
	return MMU_OK;
}

/* Write fault on the read-only leaf at PAGE of a shared region that allows
 * W (protect took W away, then gave it back): the object's page itself
 * becomes writable, never a copy. An upgrade: no invalidation. */
static mmu_err_t shared_write(struct mmu_vm_space *sp, mmu_vaddr_t page)
{
	struct leaf_op rw = {.clear = 0, .set = MMU_PTE_RW, .invalidate = false};
	leaf_rewrite(sp, page, &rw);
	return MMU_OK;
}

/* ---- stack growth ---- */

/* VECTORS.md: X >= end - max, X at or above the space's min address,
 * and X - (end of the region below) >= the guard gap, whatever that
 * region is (a guard region too). PAGE is below the stack at index I and
 * in no region. */
static bool stack_may_grow(const struct mmu_vm_space *sp, unsigned i, mmu_vaddr_t page)
{
	const struct mmu_vm_region *s = &sp->region[i];
	mmu_vaddr_t end = s->start + s->len;
	if (s->kind != MMU_VM_STACK || page < sp->min_addr || (end > s->max && page < end - s->max))
		return false;
	if (i == 0)
		return true;
	const struct mmu_vm_region *below = &sp->region[i - 1];
	return page - (below->start + below->len) >= MMU_VM_GUARD_GAP;
}

static mmu_err_t grow_stack(struct mmu_vm_space *sp, unsigned i, mmu_vaddr_t page)
{
	struct mmu_vm_region *s = &sp->region[i];
	mmu_err_t err = map_zeroed(sp, page, s);
	if (err == MMU_OK) {
		s->len += s->start - page;
		s->start = page;
	}
	return err;
}

/* ---- the decision ---- */

/* The outcome O of a change that returned ERR: NOMEM when it failed. */
static enum mmu_vm_outcome changed(mmu_err_t err, enum mmu_vm_outcome o)
{
	return err == MMU_OK ? o : MMU_VM_NOMEM;
}

/* An object's page: DEMAND, NOMEM, or REFUSED (the pager has no such page). */
static enum mmu_vm_outcome object_fault(struct mmu_vm_space *sp, mmu_vaddr_t page, const struct mmu_vm_region *r,
					enum mmu_vm_outcome refused)
{
	mmu_err_t err = vm_object_fault(sp, page, r);
	return err == MMU_E_NOTEXIST ? refused : changed(err, MMU_VM_DEMAND);
}

/* A page in swap: DEMAND, NOMEM, or REFUSED (the store could not read it). */
static enum mmu_vm_outcome swap_in(struct mmu_vm_space *sp, mmu_vaddr_t page, const struct mmu_vm_region *r,
				   enum mmu_vm_outcome refused)
{
	mmu_err_t err = vm_swap_in(sp, page, r);
	return err == MMU_E_INVALID ? refused : changed(err, MMU_VM_DEMAND);
}

static enum mmu_vm_outcome decide(struct mmu_vm_space *sp, const struct mmu_vm_fault *f)
{
	mmu_vaddr_t page = f->va & ~(MMU_PAGE_SIZE - 1);
	enum mmu_vm_outcome refused = f->user ? MMU_VM_SEGV : MMU_VM_REFUSED;
	if (!mmu_va_canonical(f->va, sp->tree.mmu->levels) || mmu_va_is_kernel(f->va) || f->pk || f->shadow_stack)
		return refused;
	/* The kernel never runs user code (SMEP exists to catch it): a
	 * supervisor fetch is refused even in a user-access window. Below the
	 * space's min address there is no region, and no stack may grow. */
	if ((!f->user && f->fetch) || page < sp->min_addr)
		return refused;
	struct mmu_translation t;
	bool present = mmu_walk(&sp->tree, page, &t) == MMU_OK;
	int ri = vm_region_find(sp, page);
	const struct mmu_vm_region *r = ri >= 0 ? &sp->region[ri] : NULL;
	if (present && tables_allow(&t, f))
		return MMU_VM_SPURIOUS;
	if (!present && r && region_allows(r, f) && sp->swapped && vm_swapped(sp, page))
		return swap_in(sp, page, r, refused);
	if (!present && r && region_allows(r, f) && r->obj)
		return object_fault(sp, page, r, refused);
	if (!present && r && region_allows(r, f))
		return changed(map_zeroed_huge(sp, page, r) ? MMU_OK : map_zeroed(sp, page, r), MMU_VM_DEMAND);
	if (present && r && f->write && !f->fetch && (r->prot & MMU_PROT_W) && !(t.prot & MMU_PROT_W))
		return r->kind == MMU_VM_SHARED ? changed(shared_write(sp, page), MMU_VM_DEMAND)
						: changed(break_cow(sp, page, &t), MMU_VM_COW);
	if (!present && !r) {
		unsigned si = vm_region_lower(sp, page); /* PAGE is in no region: the first above it */
		if (si < sp->nregions && region_allows(&sp->region[si], f) && stack_may_grow(sp, si, page))
			return changed(grow_stack(sp, si, page), MMU_VM_STACK_GROWN);
	}
	return refused;
}

static void count(struct mmu_vm_counters *c, enum mmu_vm_outcome o)
{
	switch (o) {
	case MMU_VM_SPURIOUS: c->spurious++; break;
	case MMU_VM_DEMAND: c->demand++; break;
	case MMU_VM_COW: c->cow++; break;
	case MMU_VM_STACK_GROWN: c->stack++; break;
	case MMU_VM_SEGV: c->segv++; break;
	default: break;
	}
}

enum mmu_vm_outcome mmu_vm_handle_fault(struct mmu_vm_space *sp, const struct mmu_vm_fault *f)
{
	if (f->rsvd)
		return MMU_VM_CORRUPT;
	if (!f->user && f->path != MMU_VM_FAULT_COPY_USER)
		return MMU_VM_KERNEL_BUG;
	vm_lock(sp);
	enum mmu_vm_outcome o = sp->tree.dead ? MMU_VM_DEAD : decide(sp, f);
	count(&sp->counters, o);
	vm_unlock(sp);
	return o;
}
