/* SPDX-License-Identifier: MIT */
/* Swap in the process-space model (vmmodel.h), from the contract of
 * mmu_vm_page_out and mmu_vm_space_set_swap: page-out of a page the space
 * owns alone into the store's lowest free slot, page-in on the next
 * access, slots shared by fork and dropped by remove, shrink and exit. */
#include "vmmodel.h"

#include <string.h>

/* Whether PG, in the private region R at VA, maps the object's own page. */
static bool object_own_page(struct vm_model *m, const struct mmu_vm_region *r, mmu_vaddr_t va,
			    const struct vm_mpage *pg)
{
	const struct vm_mobject *o = r->obj ? vmm_object_of(m, r->obj) : NULL;
	return o && o->page[r->first_page + (va - r->start) / VM_PAGE] == pg->frame;
}

/* The store's lowest free slot below its limit, -1 when full. */
static int free_slot(const struct vm_model *m)
{
	for (unsigned i = 0; i < m->slot_limit; i++)
		if (m->slot[i].refs == 0)
			return (int)i;
	return -1;
}

/* The mappers of the 4K frame F at VA that a page-out may take (the
 * reverse map: COW shares a frame at one VA only), 0 when one may not be
 * taken: a 2M leaf, a writable leaf, no store, a region page-out refuses,
 * the object's own page. */
static uint32_t mappers(struct vm_model *m, struct vm_mspace *const *all, const bool *live, unsigned n,
			mmu_vaddr_t va, int32_t f)
{
	uint32_t k = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!live[i])
			continue;
		struct vm_mpage *pg = vmm_page(all[i], va);
		if (pg->frame != f)
			continue;
		int ri = vmm_region_at(all[i], va);
		const struct mmu_vm_region *r = ri >= 0 ? &all[i]->region[ri] : NULL;
		if (pg->huge || pg->wr || !all[i]->swap || !r || r->kind == MMU_VM_GUARD || r->kind == MMU_VM_SHARED ||
		    object_own_page(m, r, va, pg))
			return 0;
		k++;
	}
	return k;
}

mmu_err_t vmm_page_out(struct vm_model *m, struct vm_mspace *const *all, const bool *live, unsigned n,
		       struct vm_mspace *s, mmu_vaddr_t va)
{
	int ri = vmm_region_at(s, va);
	if (!s->swap || ri < 0 || s->region[ri].kind == MMU_VM_GUARD || s->region[ri].kind == MMU_VM_SHARED)
		return MMU_E_INVALID;
	if (va & (VM_PAGE - 1))
		return MMU_E_UNALIGNED;
	struct vm_mpage *pg = vmm_page(s, va);
	if (pg->frame < 0)
		return MMU_E_NOTEXIST;
	if (pg->huge)
		return MMU_E_INVALID;
	int32_t f = pg->frame;
	uint32_t refs = vmm_frame_refs(m, f), k = 1;
	if (refs != 1) {
		if (object_own_page(m, &s->region[ri], va, pg))
			return MMU_E_INVALID;
		k = m->frame[f].head == f ? mappers(m, all, live, n, va, f) : 0;
		if (k != refs) {
			m->stats.pageout_busy++;
			return MMU_E_BUSY;
		}
	}
	int slot = free_slot(m);
	if (slot < 0) {
		m->stats.pageout_full++;
		return MMU_E_NOMEM;
	}
	m->slot[slot].refs = k;
	memcpy(m->slot[slot].byte, m->frame[f].byte, VM_NBYTES);
	m->slots_used++;
	for (unsigned i = 0; i < n; i++) {
		struct vm_mpage *q = live[i] ? vmm_page(all[i], va) : NULL;
		if (!q || q->frame != f)
			continue;
		vmm_frame_put(m, f);
		*q = (struct vm_mpage){.frame = -1, .slot1 = (uint32_t)slot + 1};
		all[i]->swapped++;
	}
	m->stats.page_out++;
	return MMU_OK;
}

mmu_err_t vmm_set_swap(struct vm_mspace *s, bool on)
{
	if (!on && s->swapped)
		return MMU_E_BUSY;
	s->swap = on;
	return MMU_OK;
}

int vmm_slot_take(struct vm_model *m, const uint8_t *bytes)
{
	int slot = free_slot(m);
	if (slot < 0)
		return -1;
	m->slot[slot].refs = 1;
	memcpy(m->slot[slot].byte, bytes, VM_NBYTES);
	m->slots_used++;
	return slot;
}

void vmm_slot_put(struct vm_model *m, unsigned slot)
{
	if (--m->slot[slot].refs == 0)
		m->slots_used--;
}

static void slot_put(struct vm_model *m, struct vm_mspace *s, struct vm_mpage *pg)
{
	vmm_slot_put(m, pg->slot1 - 1);
	s->swapped--;
	*pg = (struct vm_mpage){.frame = -1};
}

void vmm_swap_in(struct vm_model *m, struct vm_mspace *s, struct vm_mpage *pg, const struct mmu_vm_region *r)
{
	int32_t f = vmm_frame_new(m, m->slot[pg->slot1 - 1].byte);
	slot_put(m, s, pg);
	*pg = (struct vm_mpage){.frame = f, .wr = (r->prot & MMU_PROT_W) != 0};
	s->want.demand++;
	s->want.swapin++;
	m->stats.page_in++;
}

void vmm_swap_forget(struct vm_model *m, struct vm_mspace *s, struct vm_mpage *pg) { slot_put(m, s, pg); }
