/* SPDX-License-Identifier: MIT */
/* The faults of the process-space model (vmmodel.h): demand-zero (a 2M
 * page where huge pages allow it), an object's page (filled from zeroes
 * or the store), copy-on-write with take-over (a 2M leaf copied whole), a
 * shared region's page made writable again, stack growth, refusals. */
#include "vmmodel.h"

#include <stdio.h>
#include <stdlib.h>

/* Every access needs R (a guard has none), a write W, a fetch X. */
static bool region_allows(const struct mmu_vm_region *r, unsigned kind)
{
	return (r->prot & MMU_PROT_R) && !(kind == 1 && !(r->prot & MMU_PROT_W)) &&
	       !(kind == 2 && !(r->prot & MMU_PROT_X));
}

/* The stack right above PAGE (in no region) may grow down to it: within
 * its limit (end - max) and at least the guard gap above the region below. */
static int stack_grows_to(const struct vm_mspace *s, mmu_vaddr_t page, unsigned kind)
{
	int above = -1;
	for (unsigned i = 0; i < s->nregions && above < 0; i++)
		if (s->region[i].start > page)
			above = (int)i;
	if (above < 0)
		return -1;
	const struct mmu_vm_region *st = &s->region[above];
	mmu_vaddr_t end = st->start + st->len;
	if (st->kind != MMU_VM_STACK || !region_allows(st, kind) || (end > st->max && page < end - st->max))
		return -1;
	if (above > 0 && page - (s->region[above - 1].start + s->region[above - 1].len) < MMU_VM_GUARD_GAP)
		return -1;
	return above;
}

static uint32_t fault_code(unsigned kind, bool present)
{
	return (present ? 1u : 0u) | (kind == 1 ? 2u : 0u) | 4u | (kind == 2 ? 0x10u : 0u);
}

/* The store's page I, with the pager's reference: -1 for the page it
 * does not have. */
static int32_t store_page(struct vm_model *m, uint64_t i)
{
	if (i == VM_STORE_MISSING) {
		m->stats.store_refused++;
		return -1;
	}
	if (m->store[i] < 0) {
		uint8_t bytes[VM_NBYTES];
		for (unsigned b = 0; b < VM_NBYTES; b++)
			bytes[b] = vm_store_byte(i, vm_byte_offset(b));
		m->store[i] = vmm_frame_new(m, bytes);
	}
	return m->store[i];
}

/* The object's page at PAGE of R mapped (read-only in a private region),
 * filled first when absent; false when the store has no such page. */
static bool object_demand(struct vm_model *m, struct vm_mpage *pg, const struct mmu_vm_region *r, mmu_vaddr_t page)
{
	struct vm_mobject *o = vmm_object_of(m, r->obj);
	if (!o) {
		fprintf(stderr, "vmmodel: a region maps an object that is not live\n");
		exit(1);
	}
	uint64_t i = r->first_page + (page - r->start) / VM_PAGE;
	if (o->page[i] < 0 && o->slot1[i]) { /* back from the swap store */
		o->page[i] = vmm_frame_new(m, m->slot[o->slot1[i] - 1].byte);
		vmm_slot_put(m, o->slot1[i] - 1);
		o->slot1[i] = 0;
		m->stats.object_swap_in++;
	}
	if (o->page[i] < 0) {
		int32_t f = o->pager ? store_page(m, i) : vmm_frame_new(m, NULL);
		if (f < 0)
			return false;
		if (o->pager)
			vmm_frame_get(m, f); /* the object's; the store keeps its own */
		o->page[i] = f;
		m->stats.filled++;
	}
	vmm_frame_get(m, o->page[i]);
	*pg = (struct vm_mpage){.frame = o->page[i], .wr = r->kind == MMU_VM_SHARED && (r->prot & MMU_PROT_W)};
	return true;
}

/* Huge pages on, an anon region holding PAGE's whole 2M block, nothing
 * mapped in it: one 2M leaf. */
static bool huge_demand(struct vm_model *m, struct vm_mspace *s, const struct mmu_vm_region *r, mmu_vaddr_t page)
{
	mmu_vaddr_t block = page & ~(VM_HUGE - 1);
	if (!s->huge || r->kind != MMU_VM_ANON || block < r->start || block + (VM_HUGE - 1) > r->start + (r->len - 1))
		return false;
	struct vm_mpage *pg = vmm_page(s, block);
	for (unsigned i = 0; i < VM_HUGE_PAGES; i++)
		if (pg[i].frame >= 0 || pg[i].slot1) /* a swap entry keeps its table */
			return false;
	int32_t head = vmm_frame_new_2m(m, -1);
	for (unsigned i = 0; i < VM_HUGE_PAGES; i++)
		pg[i] = (struct vm_mpage){.frame = head + (int32_t)i, .wr = (r->prot & MMU_PROT_W) != 0, .huge = true};
	m->stats.huge_demand++;
	return true;
}

static bool demand(struct vm_model *m, struct vm_mspace *s, struct vm_mpage *pg, const struct mmu_vm_region *r,
		   mmu_vaddr_t page)
{
	if (r->obj)
		return object_demand(m, pg, r, page);
	if (!huge_demand(m, s, r, page))
		*pg = (struct vm_mpage){.frame = vmm_frame_new(m, NULL), .wr = (r->prot & MMU_PROT_W) != 0};
	return true;
}

/* A write to the read-only leaf at PG: its frame taken over when the leaf
 * is its only reference, else copied (a 2M leaf whole). */
static void cow(struct vm_model *m, struct vm_mspace *s, struct vm_mpage *pg, mmu_vaddr_t page)
{
	struct vm_mpage *leaf = pg->huge ? vmm_page(s, page & ~(VM_HUGE - 1)) : pg;
	unsigned n = pg->huge ? VM_HUGE_PAGES : 1;
	int32_t old = leaf->frame, copy = -1;
	if (vmm_frame_refs(m, old) > 1) {
		copy = pg->huge ? vmm_frame_new_2m(m, old) : vmm_frame_new(m, m->frame[old].byte);
		vmm_frame_put(m, old);
	}
	m->stats.huge_copy += pg->huge && copy >= 0;
	m->stats.huge_take += pg->huge && copy < 0;
	for (unsigned i = 0; i < n; i++) {
		leaf[i].wr = true;
		if (copy >= 0)
			leaf[i].frame = copy + (int32_t)i;
	}
}

/* One fault, resolved as the contract says; false when refused. */
static bool resolve(struct vm_model *m, struct vm_mspace *s, unsigned kind, mmu_vaddr_t page)
{
	struct vm_mpage *pg = vmm_page(s, page);
	int ri = vmm_region_at(s, page);
	const struct mmu_vm_region *r = ri >= 0 ? &s->region[ri] : NULL;
	if (pg->frame < 0 && r) {
		if (!region_allows(r, kind))
			return false;
		if (pg->slot1) {
			vmm_swap_in(m, s, pg, r);
			return true;
		}
		if (!demand(m, s, pg, r, page))
			return false;
		s->want.demand++;
		return true;
	}
	if (pg->frame < 0) {
		int si = stack_grows_to(s, page, kind);
		if (si < 0)
			return false;
		struct mmu_vm_region *st = &s->region[si];
		st->len += st->start - page;
		st->start = page;
		*pg = (struct vm_mpage){.frame = vmm_frame_new(m, NULL), .wr = (st->prot & MMU_PROT_W) != 0};
		s->want.stack++;
		return true;
	}
	if (kind != 1 || !r || !(r->prot & MMU_PROT_W) || pg->wr)
		return false;
	if (r->kind == MMU_VM_SHARED) {
		pg->wr = true; /* the object's page itself, writable again */
		m->stats.shared_write++;
		s->want.demand++;
	} else {
		m->stats.private_copy += r->kind == MMU_VM_PRIVATE;
		cow(m, s, pg, page);
		s->want.cow++;
	}
	return true;
}

static bool allowed(const struct vm_mspace *s, const struct vm_mpage *pg, unsigned kind, mmu_vaddr_t page)
{
	if (pg->frame < 0)
		return false;
	if (kind == 1)
		return pg->wr;
	if (kind == 2) {
		int ri = vmm_region_at(s, page);
		return ri >= 0 && (s->region[ri].prot & MMU_PROT_X);
	}
	return true;
}

struct vm_moutcome vmm_access(struct vm_model *m, struct vm_mspace *s, unsigned kind, mmu_vaddr_t va, uint8_t byte)
{
	mmu_vaddr_t page = va & ~(VM_PAGE - 1);
	struct vm_mpage *pg = vmm_page(s, page);
	struct vm_moutcome o = {0};
	if (!pg) {
		fprintf(stderr, "vmmodel: access outside the window at 0x%llx\n", (unsigned long long)va);
		exit(1);
	}
	while (!allowed(s, pg, kind, page)) {
		bool present = pg->frame >= 0;
		if (!resolve(m, s, kind, page)) {
			s->want.segv++;
			o.code = fault_code(kind, present);
			return o;
		}
	}
	o.ok = true;
	unsigned off = (unsigned)(va & (VM_PAGE - 1));
	struct vm_mframe *f = &m->frame[pg->frame];
	if (off % 257 == 0 && off / 257 < VM_NBYTES) {
		if (kind == 1)
			f->byte[off / 257] = byte;
		o.byte = f->byte[off / 257];
	}
	return o;
}
