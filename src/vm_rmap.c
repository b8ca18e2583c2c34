/* SPDX-License-Identifier: MIT */
/* The reverse map of memory objects (include/mmu64/vm.h, "reclaim of
 * object pages"): one record per space with regions over an object, in
 * the caller's array, kept by every call that changes regions; and from
 * the records, the page-out of an object page from every space that maps
 * it, and the test of its Accessed bits, each with one shootdown. */
#include "vm_internal.h"

/* ---- the records (object lock held) ---- */

/* The record of SP in O, or -1. */
static int mapper_find(const struct mmu_vm_object *o, const struct mmu_vm_space *sp)
{
	for (unsigned i = 0; i < o->nmappers; i++)
		if (o->mapper[i].space == sp)
			return (int)i;
	return -1;
}

/* Count one more region of SP over O in its record, made when SP has
 * none. False when every record is taken: nothing counted. */
static bool mapper_claim(struct mmu_vm_object *o, struct mmu_vm_space *sp, bool forking)
{
	int i = mapper_find(o, sp);
	if (i < 0 && o->nmappers == o->mapper_cap)
		return false;
	if (i < 0) {
		i = (int)o->nmappers++;
		o->mapper[i] = (struct mmu_vm_object_mapper){.space = sp, .regions = 0, .forking = forking};
	}
	o->mapper[i].regions++;
	return true;
}

/* One region of SP over O fewer; the record goes with the last (the
 * array's last record takes its place). */
static void mapper_release(struct mmu_vm_object *o, const struct mmu_vm_space *sp)
{
	int i = mapper_find(o, sp);
	MMU_ASSERT(o->mmu, i >= 0 && o->mapper[i].regions > 0, "rmap: space %lx has no region over the object",
		   (unsigned long)(uintptr_t)sp);
	if (--o->mapper[i].regions == 0)
		o->mapper[i] = o->mapper[--o->nmappers];
}

/* ---- region calls (space lock held) ---- */

/* Objects without records count the region in `mappings` only. */
static bool region_claim(struct mmu_vm_space *sp, const struct mmu_vm_region *r, bool forking)
{
	struct mmu_vm_object *o = r->obj;
	vm_object_lock(o);
	bool ok = !o->mapper || mapper_claim(o, sp, forking);
	if (ok)
		__atomic_fetch_add(&o->mappings, 1, __ATOMIC_RELAXED);
	vm_object_unlock(o);
	return ok;
}

void vm_regions_drop(struct mmu_vm_space *sp, const struct mmu_vm_region *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct mmu_vm_object *o = r[i].obj;
		if (!o)
			continue;
		vm_object_lock(o);
		if (o->mapper)
			mapper_release(o, sp);
		uint64_t before = __atomic_fetch_sub(&o->mappings, 1, __ATOMIC_RELEASE);
		vm_object_unlock(o);
		MMU_ASSERT(sp->tree.mmu, before > 0, "object: a region dropped that was not counted");
	}
}

mmu_err_t vm_regions_claim(struct mmu_vm_space *sp, const struct mmu_vm_region *r, unsigned n, bool forking)
{
	for (unsigned i = 0; i < n; i++) {
		if (r[i].obj && !region_claim(sp, &r[i], forking)) {
			vm_regions_drop(sp, r, i);
			return MMU_E_NOSPACE;
		}
	}
	return MMU_OK;
}

void vm_region_hold(struct mmu_vm_space *sp, const struct mmu_vm_region *r)
{
	mmu_err_t err = vm_regions_claim(sp, r, 1, false);
	MMU_ASSERT(sp->tree.mmu, err == MMU_OK, "rmap: a piece of a region at %lx found no record",
		   (unsigned long)r->start);
}

void vm_regions_forked(struct mmu_vm_space *sp)
{
	for (unsigned i = 0; i < sp->nregions; i++) {
		struct mmu_vm_object *o = sp->region[i].obj;
		if (!o || !o->mapper)
			continue;
		vm_object_lock(o);
		int m = mapper_find(o, sp);
		MMU_ASSERT(o->mmu, m >= 0, "rmap: fork's child has no record in an object it maps");
		o->mapper[m].forking = false;
		vm_object_unlock(o);
	}
}

/* ---- storage ---- */

static void mappers_move(struct mmu_vm_object *o, struct mmu_vm_object_mapper *records, unsigned capacity)
{
	if (records != o->mapper)
		for (unsigned i = 0; i < o->nmappers; i++)
			records[i] = o->mapper[i];
	o->mapper = records;
	o->mapper_cap = capacity;
}

mmu_err_t mmu_vm_object_set_mapper_storage(struct mmu_vm_object *obj, struct mmu_vm_object_mapper *records,
					   unsigned capacity)
{
	if (!vm_object_live(obj) || (records == NULL) != (capacity == 0))
		return MMU_E_INVALID;
	vm_object_lock(obj);
	mmu_err_t err = MMU_OK;
	bool mapped = __atomic_load_n(&obj->mappings, __ATOMIC_ACQUIRE) != 0;
	if ((!obj->mapper && mapped) || (!records && obj->nmappers))
		err = MMU_E_BUSY;
	else if (capacity < obj->nmappers)
		err = MMU_E_NOSPACE;
	if (err == MMU_OK)
		mappers_move(obj, records, capacity);
	vm_object_unlock(obj);
	return err;
}

/* ---- the mappers of one page (object lock held) ----
 * A leaf of an object page lies in a region over the object, at the VA
 * the region gives the page (a fault maps it there, fork copies it to
 * the same VA of a space with the same regions, and remove, resize and
 * exit take a region's leaves with it), in a space of the records. With
 * those space locks held no leaf comes or goes but ours. */

/* Try every mapper's space lock; BUSY (none held) when one is taken, or
 * when fork is still building a mapper. */
static mmu_err_t mappers_trylock(struct mmu_vm_object *o)
{
	for (unsigned i = 0; i < o->nmappers; i++) {
		if (o->mapper[i].forking || !vm_trylock(o->mapper[i].space)) {
			while (i-- > 0)
				vm_unlock(o->mapper[i].space);
			return MMU_E_BUSY;
		}
	}
	return MMU_OK;
}

static void mappers_unlock(struct mmu_vm_object *o)
{
	for (unsigned i = 0; i < o->nmappers; i++)
		vm_unlock(o->mapper[i].space);
}

/* The 4K page table entry at PAGE of SP (present or not), else 0. */
static mmu_pte_t entry_at(struct mmu_vm_space *sp, mmu_vaddr_t page)
{
	mmu_pte_t v;
	return mmu_entry(&sp->tree, page, MMU_LEVEL_PT, &v) == MMU_OK ? v : 0;
}

/* What a visit of the leaves of one object page does to each. */
enum rmap_step {
	RMAP_READ,    /* count them, OR their bits */
	RMAP_YOUNG,   /* take A (mmu_harvest's visitor) */
	RMAP_TAKE,    /* remove them, their final bits kept */
	RMAP_PEND,    /* make them pending entries (an anonymous page's swap-out) */
	RMAP_UNPEND,  /* the pending entries cleared: the page is in the store */
	RMAP_RESTORE, /* the pending entries back to the leaves they were */
};

struct rmap_op {
	enum rmap_step step;
	mmu_pa_t frame;
	uint32_t leaves;        /* the leaves (or pending entries) visited */
	mmu_pte_t bits;         /* their bits OR-ed, as read or taken */
	struct pt_multi *multi; /* the one batch of the changing steps */
};

/* A pending entry (entry_leaf_to_swap keeping PENDING_KEEPS): not
 * present (the CPU ignores the rest, and a fault there waits for the
 * space lock we hold), the swap mark and the library's pending slot where
 * the frame was, the leaf's other bits kept so that it can come back as
 * it was. */
#define PENDING_KEEPS (~(MMU_PTE_ADDR_MASK | MMU_PTE_P | MMU_VM_SWAP_MARK))

static bool is_pending(mmu_pte_t v) { return mmu_vm_pte_is_swap(v) && mmu_vm_swap_slot(v) == VM_SWAP_PENDING; }

static mmu_pte_t leaf_of(mmu_pte_t pending, mmu_pa_t frame)
{
	return (pending & ~(MMU_PTE_ADDR_MASK | MMU_VM_SWAP_MARK)) | MMU_PTE_P | frame.bits;
}

/* Whether entry V at a page is one step OP visits. */
static bool rmap_match(const struct rmap_op *op, mmu_pte_t v)
{
	if (op->step == RMAP_UNPEND || op->step == RMAP_RESTORE)
		return is_pending(v);
	return mmu_pte_present(v) && (v & MMU_PTE_ADDR_MASK) == op->frame.bits;
}

/* The change of one entry, as one of the pt_multi batch. TAKE's
 * exchange catches a D the hardware sets up to that moment. */
static enum pt_step rmap_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
			       mmu_vaddr_t last)
{
	(void)last;
	struct rmap_op *op = w->op;
	if (level > MMU_LEVEL_PT)
		return PT_DESCEND; /* a table: entry_at found the entry below */
	mmu_pte_t v = pte_load(e);
	MMU_ASSERT(w->mmu, rmap_match(op, v), "rmap: entry %lx at %lx is not frame %lx's (step %u)", (unsigned long)v,
		   (unsigned long)va, (unsigned long)op->frame.bits, (unsigned)op->step);
	if (op->step == RMAP_TAKE) {
		op->bits |= entry_clear_leaf(w, level, e, va);
	} else if (op->step == RMAP_PEND) {
		op->bits |= entry_leaf_to_swap(w, level, e, va, mmu_vm_swap_entry(VM_SWAP_PENDING), PENDING_KEEPS);
	} else {
		entry_rewrite_swap(w, level, e, op->step == RMAP_RESTORE ? leaf_of(v, op->frame) : 0);
	}
	return PT_STOP;
}

static const struct pt_visitor rmap_visitor = {.entry = rmap_entry};

/* Entry V at PAGE of SP is one OP visits: read it, or change it. */
static void visit_entry(struct rmap_op *op, struct mmu_vm_space *sp, mmu_vaddr_t page, mmu_pte_t v)
{
	op->leaves++;
	mmu_err_t err = MMU_OK;
	if (op->step == RMAP_READ)
		op->bits |= v;
	else if (op->step == RMAP_YOUNG)
		op->bits |= pt_multi_harvest(op->multi, &sp->tree, page, op->frame, MMU_PTE_A);
	else
		err = pt_multi_change(op->multi, &sp->tree, &rmap_visitor, op, page, page + (MMU_PAGE_SIZE - 1));
	MMU_ASSERT(sp->tree.mmu, err == MMU_OK, "rmap: tree of a live space refused (%u)", (unsigned)err);
}

/* Visit each entry of page INDEX of O that OP's step takes in SP. */
static void visit_space(struct mmu_vm_object *o, uint64_t index, struct mmu_vm_space *sp, struct rmap_op *op)
{
	for (unsigned i = 0; i < sp->nregions; i++) {
		const struct mmu_vm_region *r = &sp->region[i];
		if (r->obj != o || index < r->first_page || index - r->first_page >= r->len >> MMU_PAGE_SHIFT)
			continue;
		mmu_vaddr_t page = r->start + ((index - r->first_page) << MMU_PAGE_SHIFT);
		mmu_pte_t v = entry_at(sp, page);
		if (v && rmap_match(op, v))
			visit_entry(op, sp, page, v);
	}
}

static void visit_mappers(struct mmu_vm_object *o, uint64_t index, struct rmap_op *op)
{
	for (unsigned m = 0; m < o->nmappers; m++)
		visit_space(o, index, o->mapper[m].space, op);
}

/* The checks under the object's lock, in the contract's order; then the
 * mappers' locks (BUSY). NEED_HOME: the page must have somewhere to go
 * (a pager, or a store for an anonymous object). */
static mmu_err_t rmap_begin(struct mmu_vm_object *o, uint64_t index, bool need_home)
{
	if (!o->mapper || (need_home && !o->pager && !o->swap))
		return MMU_E_INVALID;
	if (!vm_slot_resident(o, index))
		return MMU_E_NOTEXIST;
	return mappers_trylock(o);
}

/* One changing STEP over the entries of page INDEX (frame FRAME) in
 * every mapper, one batch, one flush. */
static struct rmap_op rmap_change(struct mmu_vm_object *o, uint64_t index, enum rmap_step step, mmu_pa_t frame)
{
	struct rmap_op op = {.step = step, .frame = frame};
	if (o->nmappers == 0)
		return op;
	struct pt_multi multi;
	op.multi = &multi;
	pt_multi_begin(&multi, &o->mapper[0].space->tree);
	visit_mappers(o, index, &op);
	pt_multi_flush(&multi);
	op.multi = NULL;
	return op;
}

/* The references of N leaves gone from every TLB; never the last (the
 * object holds one). */
static void leaves_put(struct mmu_vm_object *o, mmu_pa_t frame, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		MMU_ASSERT(o->mmu, !vm_frame_put(o->mmu, frame), "rmap: frame %lx lost its last reference",
			   (unsigned long)frame.bits);
}

/* A pager's page: every leaf goes with one shootdown, then its
 * reference, then the object's slot; whether one had D. Every lock
 * held. */
static bool pageout_commit(struct mmu_vm_object *o, uint64_t index)
{
	struct mmu *mmu = o->mmu;
	struct rmap_op count = {.step = RMAP_READ, .frame = vm_slot_pa(o, index)};
	visit_mappers(o, index, &count); /* first: the references it will drop */
	MMU_ASSERT(mmu, vm_frame_refs(mmu, count.frame) > count.leaves + 1,
		   "rmap: frame %lx has %u references for %u leaves, the object's and the pager's",
		   (unsigned long)count.frame.bits, vm_frame_refs(mmu, count.frame), count.leaves);
	struct rmap_op take = rmap_change(o, index, RMAP_TAKE, count.frame);
	MMU_ASSERT(mmu, take.leaves == count.leaves, "rmap: %u leaves counted, %u taken", count.leaves, take.leaves);
	leaves_put(o, take.frame, take.leaves);
	vm_object_drop_page(o, index);
	return (take.bits & MMU_PTE_D) != 0;
}

/* An anonymous page into the object's store: its leaves become pending
 * entries (one shootdown: nobody writes the frame any more), the store
 * copies the frame, then the entries are cleared, the references
 * dropped, the frame freed and the slot kept in the object's. NOMEM (the
 * store is full): the leaves back as they were (an upgrade from not
 * present: nothing owed). BUSY when the leaves do not account for the
 * frame's references. Every lock held. */
static mmu_err_t swapout_commit(struct mmu_vm_object *o, uint64_t index, bool *dirty)
{
	struct mmu *mmu = o->mmu;
	struct rmap_op count = {.step = RMAP_READ, .frame = vm_slot_pa(o, index)};
	visit_mappers(o, index, &count);
	if (vm_frame_refs(mmu, count.frame) != count.leaves + 1)
		return MMU_E_BUSY;
	struct rmap_op pend = rmap_change(o, index, RMAP_PEND, count.frame);
	uint64_t slot = 0;
	mmu_err_t err = vm_swap_write(o->swap, o->swap_ctx, count.frame, &slot);
	struct rmap_op end = rmap_change(o, index, err == MMU_OK ? RMAP_UNPEND : RMAP_RESTORE, count.frame);
	MMU_ASSERT(mmu, pend.leaves == count.leaves && end.leaves == count.leaves,
		   "rmap: %u leaves counted, %u made pending, %u finished", count.leaves, pend.leaves, end.leaves);
	if (err != MMU_OK)
		return err;
	leaves_put(o, count.frame, count.leaves);
	vm_object_swap_page(o, index, slot);
	*dirty = (pend.bits & MMU_PTE_D) != 0;
	return MMU_OK;
}

mmu_err_t mmu_vm_object_page_out(struct mmu_vm_object *obj, uint64_t index, bool *dirty)
{
	if (!vm_object_live(obj) || index >= obj->npages)
		return MMU_E_INVALID;
	vm_object_lock(obj);
	mmu_err_t err = rmap_begin(obj, index, true);
	if (err == MMU_OK) {
		bool was_dirty = false;
		if (obj->pager)
			was_dirty = pageout_commit(obj, index);
		else
			err = swapout_commit(obj, index, &was_dirty);
		if (err == MMU_OK && dirty)
			*dirty = was_dirty;
		mappers_unlock(obj);
	}
	vm_object_unlock(obj);
	return err;
}

/* Test (and with HOW CLEAR take) A of every leaf of page INDEX. Every
 * lock held. */
static bool referenced_visit(struct mmu_vm_object *o, uint64_t index, enum mmu_vm_accessed how)
{
	struct rmap_op op = {.step = RMAP_READ, .frame = vm_slot_pa(o, index)};
	if (how == MMU_VM_ACCESSED_CLEAR)
		op = rmap_change(o, index, RMAP_YOUNG, op.frame);
	else
		visit_mappers(o, index, &op);
	return (op.bits & MMU_PTE_A) != 0;
}

mmu_err_t mmu_vm_object_page_referenced(struct mmu_vm_object *obj, uint64_t index, enum mmu_vm_accessed how,
					bool *referenced)
{
	if (!vm_object_live(obj) || index >= obj->npages || (how != MMU_VM_ACCESSED_KEEP && how != MMU_VM_ACCESSED_CLEAR))
		return MMU_E_INVALID;
	vm_object_lock(obj);
	mmu_err_t err = rmap_begin(obj, index, false);
	if (err == MMU_OK) {
		bool had = referenced_visit(obj, index, how);
		if (referenced)
			*referenced = had;
		mappers_unlock(obj);
	}
	vm_object_unlock(obj);
	return err;
}
