/* SPDX-License-Identifier: MIT */
/* Internals shared by the process-space files (vm.c, vm_protect.c,
 * fault.c, fork.c, kpti.c). They reach the page-table layer through
 * src/pt_layer.h only. */
#ifndef MMU64_VM_INTERNAL_H
#define MMU64_VM_INTERNAL_H

#include "pt_layer.h"
#include "mmu64/vm.h"

/* The space lock: regions, faults, fork and exit of one space. Taken
 * before the tree lock, never while holding it. */
void vm_lock(struct mmu_vm_space *sp);
void vm_unlock(struct mmu_vm_space *sp);
/* Take SP's lock if it is free: the reverse map of an object, which holds
 * the object's lock (after the space lock in the order), never waits for
 * a space. */
bool vm_trylock(struct mmu_vm_space *sp);
/* The fork families' lock (struct mmu's vm_family_lock): taken before any
 * space lock, never while holding one. Under it: the family links, and
 * whoever holds several space locks at once (a page-out of a shared
 * frame), so those may be taken in any order. Link: CHILD (fresh from
 * fork) into PARENT's family, family lock held. */
void vm_family_lock(struct mmu *mmu);
void vm_family_unlock(struct mmu *mmu);
void vm_family_link(struct mmu_vm_space *parent, struct mmu_vm_space *child);

/* What mmu_vm_space_create stores in sp->live: tied to the address, so a
 * copy of a space's bytes or leftover garbage is not taken for a live
 * space (a false "live" would need these 64 bits by chance). */
static inline uint64_t vm_live_mark(const struct mmu_vm_space *sp)
{
	return (uint64_t)(uintptr_t)sp ^ 0x6d6d7536345f766dull;
}

static inline bool vm_space_live(const struct mmu_vm_space *sp) { return sp->live == vm_live_mark(sp); }

/* Whether region R overlaps [VA, LAST]. */
static inline bool region_overlaps(const struct mmu_vm_region *r, mmu_vaddr_t va, mmu_vaddr_t last)
{
	return va <= r->start + (r->len - 1) && r->start <= last;
}

/* Frame references: the head's meta->refcount (frame_data_head) counts
 * the leaves mapping any part of a data frame, so a 2M frame counts its
 * 2M leaves and, once split, each 4K leaf of a piece; PA is anywhere in
 * the frame. */
static inline uint32_t vm_frame_refs(struct mmu *mmu, mmu_pa_t pa)
{
	return __atomic_load_n(&port_meta(mmu, frame_data_head(mmu, pa))->refcount, __ATOMIC_ACQUIRE);
}

static inline void vm_frame_get_n(struct mmu *mmu, mmu_pa_t pa, uint32_t n)
{
	__atomic_fetch_add(&port_meta(mmu, frame_data_head(mmu, pa))->refcount, n, __ATOMIC_RELAXED);
}

static inline void vm_frame_get(struct mmu *mmu, mmu_pa_t pa) { vm_frame_get_n(mmu, pa, 1); }

/* Drop one reference; true when it was the last: the caller frees the
 * frame at once. That is safe because every reference is dropped after
 * the flush of the batch that removed its leaf, and a batch that removes
 * or redirects a leaf reaches the tree's lazy CPUs too under PCIDs
 * (src/tlb.c, batch_cpus): by then no TLB of any sharer holds the frame. */
bool vm_frame_put(struct mmu *mmu, mmu_pa_t pa);


/* Split the 2M leaf E (LEVEL PD) of a process tree through the entry
 * writer (in a prepare run: count its table). Its one reference becomes
 * the 512 of the new 4K leaves, all counted at the frame's head. */
void vm_split_huge(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va);
/* The same for the leaf E when a range walk's [VA, LAST] cuts it, which
 * must then go into its 4K leaves: true if it split E. */
bool vm_split_if_cut(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_vaddr_t last);

/* Remove every leaf in [VA, LAST] of SP's tree (alive), dropping its
 * frame's reference (frames left unreferenced are freed after the flush),
 * and free the tables that empties; a 2M leaf the range cuts is split
 * first. NOMEM (no table for a split): nothing changed. Space lock held. */
mmu_err_t vm_zap(struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_vaddr_t last);
/* The same for the whole user half, then destroy SP's tree and its KPTI
 * shadow root, as one change (pt_destroy_after_change): INVALID (dead) or
 * BUSY (loaded) with nothing changed. Space lock held. */
mmu_err_t vm_zap_exit(struct mmu_vm_space *sp);

/* Map a zeroed frame at every page of R (not yet in SP's list): an eager
 * region. NOMEM: whatever was mapped is removed again, nothing changed.
 * Space lock held. */
mmu_err_t vm_populate(struct mmu_vm_space *sp, const struct mmu_vm_region *r);

/* ---- the region array (src/vm_region.c), space lock held ---- */

/* Index of the region containing VA, or -1. */
int vm_region_find(const struct mmu_vm_space *sp, mmu_vaddr_t va);
/* The first region whose last byte is at or above VA (the one holding VA,
 * else the first above it), and the first that starts above LAST: the
 * regions overlapping [VA, LAST] are [lower(VA), upper(LAST)). nregions
 * when none. */
unsigned vm_region_lower(const struct mmu_vm_space *sp, mmu_vaddr_t va);
unsigned vm_region_upper(const struct mmu_vm_space *sp, mmu_vaddr_t last);
/* N regions from SRC to DST, which may overlap (no memmove: the port
 * gives memcpy and memset only). */
void vm_regions_move(struct mmu_vm_region *dst, const struct mmu_vm_region *src, unsigned n);
/* Replace regions [LO, HI) by the K regions at PIECE (not in the array);
 * the result fits (checked by the caller, asserted). */
void vm_regions_splice(struct mmu_vm_space *sp, unsigned lo, unsigned hi, const struct mmu_vm_region *piece,
		       unsigned k);
/* Storage: the inline slots; SLOTS and CAPACITY as
 * mmu_vm_space_set_region_storage takes them (NULL and 0: inline);
 * whether SLOTS overlaps SP's array; move SP's regions into SLOTS (they
 * fit). */
void vm_regions_use_inline(struct mmu_vm_space *sp);
bool vm_storage_args_ok(const struct mmu_vm_region *slots, unsigned capacity);
bool vm_storage_overlaps(const struct mmu_vm_region *slots, unsigned capacity, const struct mmu_vm_space *sp);
void vm_regions_adopt(struct mmu_vm_space *sp, struct mmu_vm_region *slots, unsigned capacity);

/* ---- memory objects (src/vm_object.c) ---- */

/* The slot of a page-out in progress (the last slot value: the
 * library's own), in a not-present entry while the store copies the
 * frame: src/swap.c, and an anonymous object's page (src/vm_rmap.c). */
#define VM_SWAP_PENDING MMU_VM_SWAP_SLOT_MAX

/* The store OPS/CTX's copy of FRAME into a new *SLOT (src/swap.c): NOMEM
 * when it fails or gives a slot a swap entry cannot hold (freed again). */
mmu_err_t vm_swap_write(const struct mmu_vm_swap_ops *ops, void *ctx, mmu_pa_t frame, uint64_t *slot);
/* A new data frame (*PA, one reference) holding the store's copy of
 * SLOT: NOMEM (no frame, or the store says so), NOTEXIST when the store
 * cannot read the slot. The slot stays the store's. */
mmu_err_t vm_swap_read(struct mmu *mmu, const struct mmu_vm_swap_ops *ops, void *ctx, uint64_t slot, mmu_pa_t *pa);

/* The object's lock, its liveness, its slots (src/vm_object.c). */
#define VM_SLOT_RESIDENT 1ull /* in a slot: the PA (4K-aligned) | this bit */
#define VM_SLOT_SWAPPED 2ull  /* an anonymous page in the object's store: its slot << 12 | this bit */
bool vm_object_live(const struct mmu_vm_object *o);
static inline void vm_object_lock(struct mmu_vm_object *o) { lock_spin(o->mmu, &o->lock); }
static inline void vm_object_unlock(struct mmu_vm_object *o)
{
	atomic_store_explicit(&o->lock, false, memory_order_release);
}
static inline bool vm_slot_resident(const struct mmu_vm_object *o, uint64_t i)
{
	return (o->slot[i].bits & VM_SLOT_RESIDENT) != 0;
}
static inline mmu_pa_t vm_slot_pa(const struct mmu_vm_object *o, uint64_t i)
{
	return mmu_pa(o->slot[i].bits & ~VM_SLOT_RESIDENT);
}
/* Drop the object's reference on page I's frame and empty the slot (the
 * frame freed when anonymous and unmapped). Object lock held. */
void vm_object_drop_page(struct mmu_vm_object *o, uint64_t i);
/* Page I, resident and mapped nowhere, is in the store's SLOT now: the
 * frame freed, the slot kept in the object's. Object lock held. */
void vm_object_swap_page(struct mmu_vm_object *o, uint64_t i, uint64_t slot);

/* ---- the reverse map of objects (src/vm_rmap.c), space lock held ---- */

/* Count the N regions at R (pieces of SP's, or about to be) among their
 * objects' mappings and in SP's record of each object, making the record
 * when SP has none (FORKING: SP is a child fork is building, and a
 * page-out waits for vm_regions_forked). NOSPACE when an object's records
 * are all taken: nothing counted. No-ops for regions without an object. */
mmu_err_t vm_regions_claim(struct mmu_vm_space *sp, const struct mmu_vm_region *r, unsigned n, bool forking);
/* The same for one region that SP's record already counts (a piece of a
 * split, or a region claimed before): cannot fail. */
void vm_region_hold(struct mmu_vm_space *sp, const struct mmu_vm_region *r);
/* Stop counting N regions at R (SP's record goes with its last). */
void vm_regions_drop(struct mmu_vm_space *sp, const struct mmu_vm_region *r, unsigned n);
static inline void vm_region_drop(struct mmu_vm_space *sp, const struct mmu_vm_region *r)
{
	vm_regions_drop(sp, r, 1);
}
/* Fork built SP, the child: its records are usable. */
void vm_regions_forked(struct mmu_vm_space *sp);
/* Region add (vm.c) for an object region, OBJ already held once by the
 * caller (so it cannot be released meanwhile). */
mmu_err_t vm_region_add_held(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot,
			     enum mmu_vm_kind share, struct mmu_vm_object *obj, uint64_t first_page);
/* Whether region R may have the length NEW_LEN: inside its object. */
bool vm_object_fits(const struct mmu_vm_region *r, uint64_t new_len);
/* Whether R may have W: not a shared region over a pager that keeps
 * shared mappings read-only (mmu_vm_pager_ops.shared_writable). */
bool vm_region_may_write(const struct mmu_vm_region *r);
/* Map the page at PAGE of object region R (absent in SP's tree). NOMEM;
 * NOTEXIST when the pager has no such page (refused). Space lock held. */
mmu_err_t vm_object_fault(struct mmu_vm_space *sp, mmu_vaddr_t page, const struct mmu_vm_region *r);

/* ---- swap (src/swap.c), space lock held ---- */

/* Whether PAGE of SP holds a swap entry. */
bool vm_swapped(struct mmu_vm_space *sp, mmu_vaddr_t page);
/* Page in the swap entry at PAGE of region R (which allows the access):
 * NOMEM (nothing changed), INVALID when the store could not read the slot
 * (the access is refused, nothing changed). Counted in swapin. */
mmu_err_t vm_swap_in(struct mmu_vm_space *sp, mmu_vaddr_t page, const struct mmu_vm_region *r);
/* Zap's visit of the not-present, non-zero entry E of a page table: a
 * swap entry, cleared and its slot freed (nothing in a prepare run). */
void vm_swap_forget(struct pt_walk *w, struct mmu_vm_space *sp, mmu_pte_t *e);
/* Fork's: the swap entry V at VA copied to the child, its slot dup'd. */
void vm_swap_copy(struct pt_walk *w, const struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_pte_t v);

static inline mmu_vaddr_t region_last(const struct mmu_vm_region *r) { return r->start + (r->len - 1); }

/* KPTI (src/kpti.c). Sync: make the shadow's root entry for VA's slot the
 * tree's (no-op without KPTI); call after a user root entry changed, and
 * before the flush that frees a table it pointed to. Attach: SHADOW (a
 * fresh user table) becomes SP's shadow root, filled. Detach: forget the
 * shadow root, which went with SP's tree (vm_zap_exit). */
void vm_kpti_sync(struct mmu_vm_space *sp, mmu_vaddr_t va);
void vm_kpti_attach(struct mmu_vm_space *sp, struct mmu_kpti *k, mmu_pa_t shadow);
void vm_kpti_detach(struct mmu_vm_space *sp);

#endif
