/* SPDX-License-Identifier: MIT */
/* Memory objects (include/mmu64/vm.h, "memory objects"): pages that
 * regions of many spaces map, anonymous or from a pager; the object's
 * slots, its references on their frames, the count of regions mapping it,
 * and the fault that maps one of its pages. */
#include "vm_internal.h"

#define OBJECT_MAX_PAGES (1ull << 36) /* the pages of a 48-bit user half, and then some */

void mmu_vm_frame_ref(struct mmu *mmu, mmu_pa_t pa) { vm_frame_get(mmu, pa); }

bool mmu_vm_frame_unref(struct mmu *mmu, mmu_pa_t pa) { return vm_frame_put(mmu, pa); }

uint32_t mmu_vm_frame_refs(struct mmu *mmu, mmu_pa_t pa) { return vm_frame_refs(mmu, pa); }

static uint64_t object_live_mark(const struct mmu_vm_object *o)
{
	return (uint64_t)(uintptr_t)o ^ 0x6d6d7536346f626aull;
}

bool vm_object_live(const struct mmu_vm_object *o) { return o && o->live == object_live_mark(o); }

/* ---- life ---- */

static mmu_err_t object_init(struct mmu *mmu, struct mmu_vm_object *obj, mmu_pa_t *slots, uint64_t npages,
			     const struct mmu_vm_pager_ops *ops, void *ctx)
{
	if (!mmu || !obj || !slots || npages == 0 || npages > OBJECT_MAX_PAGES)
		return MMU_E_INVALID;
	__builtin_memset(obj, 0, sizeof *obj);
	__builtin_memset(slots, 0, npages * sizeof *slots);
	obj->mmu = mmu;
	atomic_init(&obj->lock, false);
	obj->npages = npages;
	obj->slot = slots;
	obj->pager = ops;
	obj->pager_ctx = ctx;
	obj->live = object_live_mark(obj);
	return MMU_OK;
}

mmu_err_t mmu_vm_object_init_anon(struct mmu *mmu, struct mmu_vm_object *obj, mmu_pa_t *slots, uint64_t npages)
{
	return object_init(mmu, obj, slots, npages, NULL, NULL);
}

mmu_err_t mmu_vm_object_init_pager(struct mmu *mmu, struct mmu_vm_object *obj, mmu_pa_t *slots, uint64_t npages,
				   const struct mmu_vm_pager_ops *ops, void *ctx)
{
	if (!ops || !ops->get_page)
		return MMU_E_INVALID;
	return object_init(mmu, obj, slots, npages, ops, ctx);
}

/* An anonymous frame goes with its last reference; a pager's never may
 * (the pager keeps one). */
void vm_object_drop_page(struct mmu_vm_object *o, uint64_t i)
{
	mmu_pa_t pa = vm_slot_pa(o, i);
	o->slot[i].bits = 0;
	bool last = vm_frame_put(o->mmu, pa);
	MMU_ASSERT(o->mmu, !last || !o->pager, "object: the pager's frame %lx had no reference of the pager's",
		   (unsigned long)pa.bits);
	if (last)
		frame_free_data(o->mmu, pa);
}

void vm_object_swap_page(struct mmu_vm_object *o, uint64_t i, uint64_t slot)
{
	mmu_pa_t pa = vm_slot_pa(o, i);
	bool last = vm_frame_put(o->mmu, pa);
	MMU_ASSERT(o->mmu, last && !o->pager, "object: page %lu went to the store with frame %lx still referenced",
		   (unsigned long)i, (unsigned long)pa.bits);
	frame_free_data(o->mmu, pa);
	o->slot[i].bits = (slot << MMU_PAGE_SHIFT) | VM_SLOT_SWAPPED;
	o->swapped++;
}

static uint64_t slot_swap_slot(const struct mmu_vm_object *o, uint64_t i) { return o->slot[i].bits >> MMU_PAGE_SHIFT; }

/* Give the store's SLOT back (object lock held). */
static void object_store_free(struct mmu_vm_object *o, uint64_t slot)
{
	o->swap->free(o->swap_ctx, slot);
	o->swapped--;
}

mmu_err_t mmu_vm_object_set_swap(struct mmu_vm_object *obj, const struct mmu_vm_swap_ops *ops, void *ctx)
{
	if (!ops)
		ctx = NULL;
	bool complete = !ops || (ops->write && ops->read && ops->dup && ops->free);
	if (!vm_object_live(obj) || !complete || obj->pager)
		return MMU_E_INVALID;
	vm_object_lock(obj);
	mmu_err_t err = obj->swapped && (ops != obj->swap || ctx != obj->swap_ctx) ? MMU_E_BUSY : MMU_OK;
	if (err == MMU_OK) {
		obj->swap = ops;
		obj->swap_ctx = ctx;
	}
	vm_object_unlock(obj);
	return err;
}

/* No region maps the object (mappings 0, read under its lock, where a
 * region add takes its first hold), so no leaf does: each reference
 * dropped here is the object's, and each slot in the store its own. */
mmu_err_t mmu_vm_object_release(struct mmu_vm_object *obj)
{
	if (!vm_object_live(obj))
		return MMU_E_INVALID;
	vm_object_lock(obj);
	mmu_err_t err = __atomic_load_n(&obj->mappings, __ATOMIC_ACQUIRE) ? MMU_E_BUSY : MMU_OK;
	if (err == MMU_OK) {
		for (uint64_t i = 0; i < obj->npages; i++) {
			if (vm_slot_resident(obj, i))
				vm_object_drop_page(obj, i);
			else if (obj->slot[i].bits & VM_SLOT_SWAPPED) {
				object_store_free(obj, slot_swap_slot(obj, i));
				obj->slot[i].bits = 0;
			}
		}
		obj->live = 0;
	}
	vm_object_unlock(obj);
	return err;
}

mmu_err_t mmu_vm_object_page(struct mmu_vm_object *obj, uint64_t index, mmu_pa_t *out)
{
	if (!vm_object_live(obj) || index >= obj->npages)
		return MMU_E_INVALID;
	vm_object_lock(obj);
	bool resident = vm_slot_resident(obj, index);
	if (resident)
		*out = vm_slot_pa(obj, index);
	vm_object_unlock(obj);
	return resident ? MMU_OK : MMU_E_NOTEXIST;
}

/* ---- the regions mapping an object ---- */

/* The first hold of a region being added: under the object's lock, where
 * release looks, so an object is never released with a region on it.
 * The added region counts itself (vm_regions_claim); this hold goes
 * when the add returns. */
static bool object_hold_live(struct mmu_vm_object *o)
{
	vm_object_lock(o);
	bool live = vm_object_live(o);
	if (live)
		__atomic_fetch_add(&o->mappings, 1, __ATOMIC_RELAXED);
	vm_object_unlock(o);
	return live;
}

static void object_unhold(struct mmu_vm_object *o)
{
	uint64_t before = __atomic_fetch_sub(&o->mappings, 1, __ATOMIC_RELEASE);
	MMU_ASSERT(o->mmu, before > 0, "object: a hold dropped that was not counted");
}

/* INVALID for an object region's own arguments: the share, the object,
 * the pages [FIRST, FIRST + LEN's pages) inside it. */
static bool object_args_ok(const struct mmu_vm_space *sp, uint64_t len, enum mmu_vm_kind share,
			   const struct mmu_vm_object *obj, uint64_t first)
{
	uint64_t pages = (len >> MMU_PAGE_SHIFT) + ((len & (MMU_PAGE_SIZE - 1)) != 0);
	return (share == MMU_VM_SHARED || share == MMU_VM_PRIVATE) && vm_object_live(obj) &&
	       obj->mmu == sp->tree.mmu && first <= obj->npages && pages <= obj->npages - first;
}

mmu_err_t mmu_vm_region_add_object(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot,
				   enum mmu_vm_kind share, struct mmu_vm_object *obj, uint64_t first_page)
{
	if (!object_args_ok(sp, len, share, obj, first_page) || !object_hold_live(obj))
		return MMU_E_INVALID;
	mmu_err_t err = vm_region_add_held(sp, va, len, prot, share, obj, first_page);
	object_unhold(obj); /* the added region holds its own */
	return err;
}

bool vm_region_may_write(const struct mmu_vm_region *r)
{
	return !(r->kind == MMU_VM_SHARED && r->obj && r->obj->pager && !r->obj->pager->shared_writable);
}

bool vm_object_fits(const struct mmu_vm_region *r, uint64_t new_len)
{
	return !r->obj || (new_len >> MMU_PAGE_SHIFT) <= r->obj->npages - r->first_page;
}

/* ---- faults ---- */

/* Make page I resident: a zeroed frame, the store's copy, or the pager's;
 * the object takes its reference. NOMEM, or NOTEXIST when the pager (or
 * the store) has no such page. Object lock held. */
static mmu_err_t object_fill(struct mmu_vm_object *o, uint64_t i)
{
	mmu_pa_t pa;
	mmu_err_t err;
	if (o->slot[i].bits & VM_SLOT_SWAPPED) {
		/* The store's copy; the slot stays the store's until the page is mapped. */
		err = vm_swap_read(o->mmu, o->swap, o->swap_ctx, slot_swap_slot(o, i), &pa);
		if (err != MMU_OK)
			return err;
	} else if (o->pager) {
		err = o->pager->get_page(o->pager_ctx, i, &pa);
		if (err != MMU_OK)
			return err == MMU_E_NOMEM ? MMU_E_NOMEM : MMU_E_NOTEXIST;
		vm_frame_get(o->mmu, pa);
	} else {
		if (frame_alloc_data(o->mmu, &pa) != MMU_OK)
			return MMU_E_NOMEM;
		port_meta(o->mmu, pa)->refcount = 1;
	}
	o->slot[i].bits = pa.bits | VM_SLOT_RESIDENT;
	return MMU_OK;
}

/* Map the object's page at PAGE of R, filling it first, all under the
 * object's lock: a racing fault of another space waits, then finds it
 * resident. A private region maps it read-only (its first write copies).
 * On NOMEM from the map, a page this fault filled is emptied again, so
 * nothing changed. */
mmu_err_t vm_object_fault(struct mmu_vm_space *sp, mmu_vaddr_t page, const struct mmu_vm_region *r)
{
	struct mmu_vm_object *o = r->obj;
	uint64_t i = r->first_page + ((page - r->start) >> MMU_PAGE_SHIFT);
	unsigned prot = r->kind == MMU_VM_PRIVATE ? r->prot & ~MMU_PROT_W : r->prot;
	vm_object_lock(o);
	uint64_t before = o->slot[i].bits; /* a page in the store: its slot */
	bool filled = !vm_slot_resident(o, i);
	mmu_err_t err = filled ? object_fill(o, i) : MMU_OK;
	if (err == MMU_OK) {
		mmu_pa_t pa = vm_slot_pa(o, i);
		vm_frame_get(o->mmu, pa); /* the leaf's */
		err = mmu_map(&sp->tree, page, pa, MMU_PAGE_SIZE, prot | MMU_PROT_U, NULL, NULL);
		if (err == MMU_OK)
			vm_kpti_sync(sp, page);
		else
			(void)vm_frame_put(o->mmu, pa); /* never the last: the object has one */
		if (err != MMU_OK && filled) {
			vm_object_drop_page(o, i);
			o->slot[i].bits = before;
		}
	}
	if (err == MMU_OK && (before & VM_SLOT_SWAPPED))
		object_store_free(o, before >> MMU_PAGE_SHIFT);
	vm_object_unlock(o);
	return err;
}
