/* SPDX-License-Identifier: MIT */
/* Swap of anonymous private pages: page-out of a page that one leaf maps,
 * or that the spaces of a fork family map (the reverse map below),
 * page-in on fault, and the slot references that
 * fork, zap and exit owe the kernel's store. The swap entry's encoding is
 * include/mmu64/vm.h's. Every entry change goes through the entry writer
 * (entry_leaf_to_swap, entry_rewrite_swap) inside a runner. */
#include "vm_internal.h"

/* A page-out in progress holds VM_SWAP_PENDING in its entry: the leaf is
 * gone from every TLB before the store copies the frame, so no CPU
 * writes it meanwhile; the entry holds it until the store gave the slot
 * (or failed: the leaf comes back). Seen by nobody else: the space lock
 * is held throughout, and a fault there waits for it. */

mmu_err_t vm_swap_write(const struct mmu_vm_swap_ops *ops, void *ctx, mmu_pa_t frame, uint64_t *slot)
{
	mmu_err_t err = ops->write(ctx, frame, slot);
	if (err == MMU_OK && *slot >= VM_SWAP_PENDING) {
		ops->free(ctx, *slot); /* a slot the entry cannot hold */
		err = MMU_E_NOMEM;
	}
	return err == MMU_OK ? MMU_OK : MMU_E_NOMEM;
}

mmu_err_t vm_swap_read(struct mmu *mmu, const struct mmu_vm_swap_ops *ops, void *ctx, uint64_t slot, mmu_pa_t *pa)
{
	if (frame_alloc_data(mmu, pa) != MMU_OK)
		return MMU_E_NOMEM;
	mmu_err_t err = ops->read(ctx, slot, *pa);
	if (err != MMU_OK) {
		frame_free_data(mmu, *pa);
		return err == MMU_E_NOMEM ? MMU_E_NOMEM : MMU_E_NOTEXIST;
	}
	port_meta(mmu, *pa)->refcount = 1;
	return MMU_OK;
}

mmu_err_t mmu_vm_space_set_swap(struct mmu_vm_space *sp, const struct mmu_vm_swap_ops *ops, void *ctx)
{
	if (!ops)
		ctx = NULL;
	bool complete = !ops || (ops->write && ops->read && ops->dup && ops->free);
	vm_lock(sp);
	mmu_err_t err = !vm_space_live(sp) || !complete ? MMU_E_INVALID : MMU_OK;
	if (err == MMU_OK && sp->swapped && (ops != sp->swap || ctx != sp->swap_ctx))
		err = MMU_E_BUSY;
	if (err == MMU_OK) {
		sp->swap = ops;
		sp->swap_ctx = ctx;
	}
	vm_unlock(sp);
	return err;
}

/* ---- one entry of a 4K page ---- */

/* Page-out's first step: the present 4K leaf at the page, whose frame has
 * no other reference, becomes the pending swap entry (flushed by the
 * runner). ERR says why not: NOTEXIST (nothing there, a swap entry
 * too: the walk skips it and never calls the visitor), INVALID (a 2M
 * leaf), BUSY (a shared frame; OLD is the leaf). */
struct unmap_op {
	mmu_pte_t old;
	mmu_err_t err;
};

static enum pt_step unmap_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t v, mmu_vaddr_t va,
			       mmu_vaddr_t last)
{
	(void)last;
	struct unmap_op *op = w->op;
	op->old = v;
	if (level != MMU_LEVEL_PT)
		op->err = MMU_E_INVALID;
	else if (vm_frame_refs(w->mmu, mmu_pa(v & MMU_PTE_ADDR_MASK)) != 1)
		op->err = MMU_E_BUSY;
	else
		op->err = MMU_OK;
	if (op->err == MMU_OK)
		entry_leaf_to_swap(w, level, e, va, mmu_vm_swap_entry(VM_SWAP_PENDING), 0);
	return PT_STOP;
}

static const struct pt_visitor unmap_visitor = {.leaf = unmap_leaf};

/* Replace the swap entry at the page by *OP: the slot's swap entry, the
 * leaf back, a paged-in leaf. */
static enum pt_step rewrite_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				  mmu_vaddr_t last)
{
	(void)va;
	(void)last;
	mmu_pte_t v = pte_load(e);
	if (level > MMU_LEVEL_PT) {
		MMU_ASSERT(w->mmu, mmu_pte_present(v) && !mmu_pte_is_leaf(v, level),
			   "swap: no table at level %u above a swap entry (%lx)", level, (unsigned long)v);
		return PT_DESCEND;
	}
	entry_rewrite_swap(w, level, e, *(const mmu_pte_t *)w->op);
	return PT_STOP;
}

static const struct pt_visitor rewrite_visitor = {.entry = rewrite_entry};

/* Put VALUE in place of the swap entry at PAGE of SP (space lock held:
 * the tables above it stay). */
static void swap_rewrite(struct mmu_vm_space *sp, mmu_vaddr_t page, mmu_pte_t value)
{
	mmu_err_t err = pt_change(&sp->tree, &rewrite_visitor, &value, page, page + (MMU_PAGE_SIZE - 1));
	MMU_ASSERT(sp->tree.mmu, err == MMU_OK, "swap: rewrite at %lx returned %u", (unsigned long)page,
		   (unsigned)err);
}

/* ---- page-out ---- */

/* Whether the page at VA in R is one page-out may take, as far as the
 * region says: an anonymous page, or a private region's (whose own pages
 * the frame check tells apart). */
static bool region_swappable(const struct mmu_vm_region *r)
{
	return r->kind == MMU_VM_ANON || r->kind == MMU_VM_STACK || r->kind == MMU_VM_EAGER ||
	       r->kind == MMU_VM_PRIVATE;
}

/* Whether the leaf OLD at PAGE of the private region R maps the object's
 * own page (INVALID: never the space's to page out). */
static bool object_page(const struct mmu_vm_region *r, mmu_vaddr_t page, mmu_pte_t old)
{
	mmu_pa_t pa;
	uint64_t index = r->first_page + ((page - r->start) >> MMU_PAGE_SHIFT);
	return r->obj && mmu_vm_object_page(r->obj, index, &pa) == MMU_OK &&
	       pa.bits == (old & MMU_PTE_ADDR_MASK);
}

/* The checks before the walk, in the contract's order. */
static mmu_err_t pageout_check(struct mmu_vm_space *sp, mmu_vaddr_t va, const struct mmu_vm_region **r)
{
	struct mmu *mmu = sp->tree.mmu;
	if (!vm_space_live(sp) || !sp->swap || va > mmu_user_last(mmu))
		return MMU_E_INVALID;
	int i = vm_region_find(sp, va);
	if (i < 0 || !region_swappable(&sp->region[i]))
		return MMU_E_INVALID;
	*r = &sp->region[i];
	return mmu_is_aligned(va, MMU_PAGE_SIZE) ? MMU_OK : MMU_E_UNALIGNED;
}

/* Copy the frame of the leaf OLD, now out of every TLB, into a slot and
 * put its swap entry at PAGE, then free the frame; NOMEM: the leaf back. */
static mmu_err_t pageout_store(struct mmu_vm_space *sp, mmu_vaddr_t page, mmu_pte_t old)
{
	struct mmu *mmu = sp->tree.mmu;
	mmu_pa_t frame = mmu_pa(old & MMU_PTE_ADDR_MASK);
	uint64_t slot = 0;
	if (vm_swap_write(sp->swap, sp->swap_ctx, frame, &slot) != MMU_OK) {
		swap_rewrite(sp, page, old); /* an upgrade from not-present: nothing owed */
		return MMU_E_NOMEM;
	}
	swap_rewrite(sp, page, mmu_vm_swap_entry(slot));
	sp->swapped++;
	bool last = vm_frame_put(mmu, frame);
	MMU_ASSERT(mmu, last, "page-out: frame %lx gained a reference", (unsigned long)frame.bits);
	frame_free_data(mmu, frame);
	return MMU_OK;
}

/* The page-out of one space's page, space lock held: BUSY with *OLD the
 * 4K leaf when its frame has other references. */
static mmu_err_t pageout_try(struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_pte_t *old)
{
	const struct mmu_vm_region *r = NULL;
	mmu_err_t err = pageout_check(sp, va, &r);
	struct unmap_op op = {.old = 0, .err = MMU_E_NOTEXIST};
	if (err == MMU_OK)
		err = pt_change(&sp->tree, &unmap_visitor, &op, va, va + (MMU_PAGE_SIZE - 1));
	if (err == MMU_OK)
		err = op.err;
	if (err == MMU_E_BUSY && object_page(r, va, op.old))
		err = MMU_E_INVALID;
	if (err == MMU_OK)
		err = pageout_store(sp, va, op.old);
	*old = op.old;
	return err;
}

/* ---- page-out of a shared frame: the reverse map ----
 * A private anonymous frame shared by fork is mapped at the same VA in
 * the spaces of one fork family (COW never moves a page), read-only in
 * all (fork cleared RW; a write fault copies or, at one reference,
 * reuses; protect never sets RW). So the frame's mappers are the family
 * members whose leaf at VA maps it: with the family lock and every
 * member's space lock held, the frame proceeds only when they account
 * for all its references (else BUSY: a fork not yet linked, a mapper
 * elsewhere), and none can change meanwhile. Read-only everywhere, its
 * contents are stable: the store copies it first (prepare: a failed write
 * changes nothing), then every leaf becomes the slot's swap entry with
 * one shootdown for all the trees, and the frame goes. */

/* The present 4K leaf at PAGE of SP (space lock held), else 0. */
static mmu_pte_t leaf_at(struct mmu_vm_space *sp, mmu_vaddr_t page)
{
	mmu_pte_t v;
	if (!vm_space_live(sp) || mmu_entry(&sp->tree, page, MMU_LEVEL_PT, &v) != MMU_OK || !mmu_pte_present(v))
		return 0;
	return v;
}

/* Whether member M's leaf V at PAGE is one this page-out of SP may take:
 * read-only, in a region page-out takes, with SP's store (the slot's
 * references go to it: page-in and zap of M free it there). */
static bool member_ok(const struct mmu_vm_space *sp, const struct mmu_vm_space *m, mmu_vaddr_t page, mmu_pte_t v)
{
	int i = vm_region_find(m, page);
	return !(v & MMU_PTE_RW) && i >= 0 && region_swappable(&m->region[i]) &&
	       !object_page(&m->region[i], page, v) && m->swap == sp->swap && m->swap_ctx == sp->swap_ctx;
}

/* The family members of SP mapping FRAME at PAGE, or 0 when one may not
 * be taken. */
static uint32_t family_mappers(struct mmu_vm_space *sp, mmu_vaddr_t page, mmu_pa_t frame)
{
	uint32_t n = 0;
	struct mmu_vm_space *m = sp;
	do {
		mmu_pte_t v = leaf_at(m, page);
		if (v && (v & MMU_PTE_ADDR_MASK) == frame.bits) {
			if (!member_ok(sp, m, page, v))
				return 0;
			n++;
		}
		m = m->family_next;
	} while (m != sp);
	return n;
}

/* The leaf at the page (of FRAME, checked) becomes the swap entry *OP,
 * recorded into the multi-tree batch. */
struct family_unmap_op {
	mmu_pa_t frame;
	mmu_pte_t swap;
};

static enum pt_step family_unmap_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				       mmu_vaddr_t last)
{
	(void)last;
	const struct family_unmap_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	if (level > MMU_LEVEL_PT)
		return PT_DESCEND; /* a table: family_mappers found a 4K leaf below */
	MMU_ASSERT(w->mmu, mmu_pte_present(v) && (v & MMU_PTE_ADDR_MASK) == op->frame.bits,
		   "page-out: leaf %lx at %lx is not frame %lx's", (unsigned long)v, (unsigned long)va,
		   (unsigned long)op->frame.bits);
	entry_leaf_to_swap(w, level, e, va, op->swap, 0);
	return PT_STOP;
}

static const struct pt_visitor family_unmap_visitor = {.entry = family_unmap_entry};

/* The N mappers of the family of SP (every space lock held) write FRAME
 * to one slot; NOMEM (the store) changes nothing. */
static mmu_err_t pageout_family(struct mmu_vm_space *sp, mmu_vaddr_t page, mmu_pa_t frame, uint32_t n)
{
	struct mmu *mmu = sp->tree.mmu;
	uint64_t slot = 0;
	mmu_err_t err = vm_swap_write(sp->swap, sp->swap_ctx, frame, &slot);
	if (err != MMU_OK)
		return err;
	for (uint32_t i = 1; i < n; i++)
		sp->swap->dup(sp->swap_ctx, slot);
	struct family_unmap_op op = {.frame = frame, .swap = mmu_vm_swap_entry(slot)};
	struct pt_multi multi;
	pt_multi_begin(&multi, &sp->tree);
	struct mmu_vm_space *m = sp;
	do {
		mmu_pte_t v = leaf_at(m, page);
		if (v && (v & MMU_PTE_ADDR_MASK) == frame.bits) {
			err = pt_multi_change(&multi, &m->tree, &family_unmap_visitor, &op, page,
					      page + (MMU_PAGE_SIZE - 1));
			MMU_ASSERT(mmu, err == MMU_OK, "page-out: tree of a live space refused (%u)", (unsigned)err);
			m->swapped++;
		}
		m = m->family_next;
	} while (m != sp);
	pt_multi_flush(&multi);
	/* Out of every TLB now: the references go, the last frees it. */
	for (uint32_t i = 1; i < n; i++)
		MMU_ASSERT(mmu, !vm_frame_put(mmu, frame), "page-out: frame %lx lost a reference", (unsigned long)frame.bits);
	MMU_ASSERT(mmu, vm_frame_put(mmu, frame), "page-out: frame %lx gained a reference", (unsigned long)frame.bits);
	frame_free_data(mmu, frame);
	return MMU_OK;
}

/* Take every space lock of SP's family (family lock held: the order does
 * not matter, nobody else holds two), or drop them. */
static void family_lock_all(struct mmu_vm_space *sp)
{
	struct mmu_vm_space *m = sp;
	do {
		vm_lock(m);
		m = m->family_next;
	} while (m != sp);
}

static void family_unlock_all(struct mmu_vm_space *sp)
{
	struct mmu_vm_space *m = sp;
	do {
		struct mmu_vm_space *next = m->family_next;
		vm_unlock(m);
		m = next;
	} while (m != sp);
}

/* The page-out of a page found shared: again under the family's locks
 * (it may be alone now, or gone), then from every mapper. */
static mmu_err_t pageout_shared(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	struct mmu *mmu = sp->tree.mmu;
	vm_family_lock(mmu);
	family_lock_all(sp);
	mmu_pte_t old = 0;
	mmu_err_t err = pageout_try(sp, va, &old);
	mmu_pa_t frame = mmu_pa(old & MMU_PTE_ADDR_MASK);
	/* A piece of a 2M frame counts its references at the head: not this. */
	if (err == MMU_E_BUSY && frame_data_head(mmu, frame).bits == frame.bits) {
		uint32_t n = family_mappers(sp, va, frame);
		if (n > 1 && n == vm_frame_refs(mmu, frame))
			err = pageout_family(sp, va, frame, n);
	}
	family_unlock_all(sp);
	vm_family_unlock(mmu);
	return err;
}

mmu_err_t mmu_vm_page_out(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	vm_lock(sp);
	mmu_pte_t old = 0;
	mmu_err_t err = pageout_try(sp, va, &old);
	vm_unlock(sp);
	/* The family lock comes before the space lock: taken afresh. */
	if (err == MMU_E_BUSY)
		err = pageout_shared(sp, va);
	return err;
}

/* ---- page-in, and the slot references of fork and zap ---- */

bool vm_swapped(struct mmu_vm_space *sp, mmu_vaddr_t page)
{
	mmu_pte_t v;
	return mmu_entry(&sp->tree, page, MMU_LEVEL_PT, &v) == MMU_OK && mmu_vm_pte_is_swap(v);
}

mmu_err_t vm_swap_in(struct mmu_vm_space *sp, mmu_vaddr_t page, const struct mmu_vm_region *r)
{
	struct mmu *mmu = sp->tree.mmu;
	mmu_pte_t v;
	mmu_err_t found = mmu_entry(&sp->tree, page, MMU_LEVEL_PT, &v);
	MMU_ASSERT(mmu, found == MMU_OK && mmu_vm_pte_is_swap(v), "page-in: no swap entry at %lx",
		   (unsigned long)page);
	uint64_t slot = mmu_vm_swap_slot(v);
	mmu_pa_t pa;
	mmu_err_t err = vm_swap_read(mmu, sp->swap, sp->swap_ctx, slot, &pa);
	if (err != MMU_OK)
		return err == MMU_E_NOTEXIST ? MMU_E_INVALID : err;
	/* The region's permissions of now, as a demand fault maps (the
	 * frame is this space's alone: W too where the region has it). */
	swap_rewrite(sp, page, pa.bits | MMU_PTE_P | prot_to_pte(mmu, r->prot | MMU_PROT_U));
	sp->swap->free(sp->swap_ctx, slot);
	sp->swapped--;
	sp->counters.swapin++;
	return MMU_OK;
}

void vm_swap_forget(struct pt_walk *w, struct mmu_vm_space *sp, mmu_pte_t *e)
{
	mmu_pte_t v = pte_load(e);
	MMU_ASSERT(w->mmu, mmu_vm_pte_is_swap(v) && sp->swap && sp->swapped,
		   "zap: entry %lx is neither a leaf nor a swap entry", (unsigned long)v);
	if (w->dry)
		return;
	entry_rewrite_swap(w, MMU_LEVEL_PT, e, 0);
	sp->swap->free(sp->swap_ctx, mmu_vm_swap_slot(v));
	sp->swapped--;
}

void vm_swap_copy(struct pt_walk *w, const struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_pte_t v)
{
	MMU_ASSERT(w->mmu, mmu_vm_pte_is_swap(v) && sp->swap,
		   "fork: entry %lx at %lx is neither a leaf nor a swap entry", (unsigned long)v, (unsigned long)va);
	sp->swap->dup(sp->swap_ctx, mmu_vm_swap_slot(v));
	entry_copy_leaf(w, MMU_LEVEL_PT, va, v);
}
