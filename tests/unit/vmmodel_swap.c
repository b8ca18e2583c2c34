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

mmu_err_t vmm_page_out(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va)
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
	if (vmm_frame_refs(m, pg->frame) != 1) {
		if (object_own_page(m, &s->region[ri], va, pg))
			return MMU_E_INVALID;
		m->stats.pageout_busy++;
		return MMU_E_BUSY;
	}
	int slot = free_slot(m);
	if (slot < 0) {
		m->stats.pageout_full++;
		return MMU_E_NOMEM;
	}
	m->slot[slot].refs = 1;
	memcpy(m->slot[slot].byte, m->frame[pg->frame].byte, VM_NBYTES);
	m->slots_used++;
	vmm_frame_put(m, pg->frame);
	*pg = (struct vm_mpage){.frame = -1, .slot1 = (uint32_t)slot + 1};
	s->swapped++;
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

static void slot_put(struct vm_model *m, struct vm_mspace *s, struct vm_mpage *pg)
{
	struct vm_mslot *sl = &m->slot[pg->slot1 - 1];
	if (--sl->refs == 0)
		m->slots_used--;
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
