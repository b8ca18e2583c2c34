/* SPDX-License-Identifier: MIT */
/* The process-space model of test_property_vm.c: frames, regions, fork,
 * exit and objects (the faults are in vmmodel_fault.c); see vmmodel.h. */
#include "vmmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vmm_init(struct vm_model *m)
{
	*m = (struct vm_model){0};
	for (unsigned i = 0; i < VM_MOBJ_PAGES; i++)
		m->store[i] = -1;
}

void vmm_fini(struct vm_model *m)
{
	free(m->frame);
	*m = (struct vm_model){0};
}

void vmm_space_init(struct vm_mspace *s)
{
	memset(s, 0, sizeof(*s));
	s->cap = MMU_VM_INLINE_REGIONS;
	for (unsigned i = 0; i < VM_WIN_PAGES; i++)
		s->page[i].frame = -1;
}

/* ---- frames ---- */

static int32_t frames_take(struct vm_model *m, uint32_t n)
{
	while (m->nframes + n > m->cap) {
		m->cap = m->cap ? 2 * m->cap : 4096;
		m->frame = realloc(m->frame, m->cap * sizeof(*m->frame));
		if (!m->frame) {
			fprintf(stderr, "vmmodel: out of memory\n");
			exit(1);
		}
	}
	int32_t first = (int32_t)m->nframes;
	m->nframes += n;
	for (uint32_t i = 0; i < n; i++)
		m->frame[first + (int32_t)i] = (struct vm_mframe){.head = first};
	m->frame[first].refs = 1;
	m->live++;
	return first;
}

int32_t vmm_frame_new(struct vm_model *m, const uint8_t *bytes)
{
	uint8_t copy[VM_NBYTES] = {0};
	if (bytes) /* before the array may move: BYTES may be in it */
		memcpy(copy, bytes, VM_NBYTES);
	int32_t id = frames_take(m, 1);
	memcpy(m->frame[id].byte, copy, VM_NBYTES);
	return id;
}

int32_t vmm_frame_new_2m(struct vm_model *m, int32_t src_head)
{
	int32_t head = frames_take(m, VM_HUGE_PAGES);
	m->frame[head].big = true;
	for (unsigned i = 0; src_head >= 0 && i < VM_HUGE_PAGES; i++)
		memcpy(m->frame[head + (int32_t)i].byte, m->frame[src_head + (int32_t)i].byte, VM_NBYTES);
	return head;
}

void vmm_frame_get(struct vm_model *m, int32_t id) { m->frame[m->frame[id].head].refs++; }

void vmm_frame_put(struct vm_model *m, int32_t id)
{
	if (--m->frame[m->frame[id].head].refs == 0)
		m->live--;
}

uint32_t vmm_frame_refs(const struct vm_model *m, int32_t id) { return m->frame[m->frame[id].head].refs; }

/* ---- lookups ---- */

struct vm_mpage *vmm_page(struct vm_mspace *s, mmu_vaddr_t va)
{
	if (va - VM_WIN >= VM_WIN_LEN)
		return NULL;
	return &s->page[(va - VM_WIN) / VM_PAGE];
}

static mmu_vaddr_t last_of(const struct mmu_vm_region *r) { return r->start + (r->len - 1); }

static bool overlaps(const struct mmu_vm_region *r, mmu_vaddr_t va, mmu_vaddr_t last)
{
	return va <= last_of(r) && r->start <= last;
}

int vmm_region_at(const struct vm_mspace *s, mmu_vaddr_t va)
{
	for (unsigned i = 0; i < s->nregions; i++)
		if (overlaps(&s->region[i], va, va))
			return (int)i;
	return -1;
}

bool vmm_touches_stack(const struct vm_mspace *s, mmu_vaddr_t va, uint64_t len)
{
	for (unsigned i = 0; i < s->nregions; i++)
		if (s->region[i].kind == MMU_VM_STACK && overlaps(&s->region[i], va, va + (len - 1)))
			return true;
	return false;
}

/* Insert keeping the list sorted by start. */
static void insert(struct vm_mspace *s, const struct mmu_vm_region *r)
{
	unsigned i = s->nregions++;
	for (; i > 0 && s->region[i - 1].start > r->start; i--)
		s->region[i] = s->region[i - 1];
	s->region[i] = *r;
}

/* ---- 2M leaves ---- */

/* The 2M leaf at BLOCK becomes 512 4K leaves: each a reference. */
static void split_block(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t block)
{
	struct vm_mpage *pg = vmm_page(s, block);
	if (!pg || !pg->huge)
		return;
	for (unsigned i = 0; i < VM_HUGE_PAGES; i++)
		pg[i].huge = false;
	m->frame[m->frame[pg->frame].head].refs += VM_HUGE_PAGES - 1;
	m->stats.splits++;
}

/* Split the 2M leaves that [VA, LAST] covers in part (only its two end
 * blocks can be). */
static void split_cut(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, mmu_vaddr_t last)
{
	mmu_vaddr_t ends[2] = {va & ~(VM_HUGE - 1), last & ~(VM_HUGE - 1)};
	for (unsigned i = 0; i < 2; i++)
		if (ends[i] < va || ends[i] + (VM_HUGE - 1) > last)
			split_block(m, s, ends[i]);
}

static void drop_pages(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, mmu_vaddr_t last)
{
	split_cut(m, s, va, last);
	for (mmu_vaddr_t p = va; p <= last && p >= va; p += VM_PAGE) {
		struct vm_mpage *pg = vmm_page(s, p);
		if (pg && pg->slot1)
			vmm_swap_forget(m, s, pg);
		if (!pg || pg->frame < 0)
			continue;
		vmm_frame_put(m, pg->frame);
		unsigned n = pg->huge ? VM_HUGE_PAGES : 1; /* a 2M leaf here is whole in the range */
		for (unsigned i = 0; i < n; i++)
			pg[i] = (struct vm_mpage){.frame = -1};
		p += (n - 1) * VM_PAGE;
	}
}

/* ---- regions ---- */

mmu_err_t vmm_add(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, uint64_t len, unsigned prot,
		  enum mmu_vm_kind kind, uint64_t max)
{
	for (unsigned i = 0; i < s->nregions; i++)
		if (overlaps(&s->region[i], va, va + (len - 1)))
			return MMU_E_DUPLICATED;
	if (s->nregions == s->cap)
		return MMU_E_NOSPACE;
	struct mmu_vm_region r = {.start = va, .len = len, .prot = prot & 7u, .kind = kind,
				  .max = kind == MMU_VM_STACK && max == 0 ? MMU_VM_STACK_MAX_DEFAULT : max};
	insert(s, &r);
	if (kind == MMU_VM_EAGER)
		for (mmu_vaddr_t p = va; p < va + len; p += VM_PAGE)
			*vmm_page(s, p) = (struct vm_mpage){.frame = vmm_frame_new(m, NULL), .wr = (prot & MMU_PROT_W) != 0};
	return MMU_OK;
}

mmu_err_t vmm_add_object(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, uint64_t len, unsigned prot,
			 enum mmu_vm_kind share, struct mmu_vm_object *obj, uint64_t first_page)
{
	const struct vm_mobject *o = vmm_object_of(m, obj);
	if (!o || first_page > o->npages || len / VM_PAGE > o->npages - first_page)
		return MMU_E_INVALID;
	mmu_err_t err = vmm_add(m, s, va, len, prot, MMU_VM_ANON, 0);
	if (err == MMU_OK) {
		struct mmu_vm_region *r = &s->region[vmm_region_at(s, va)];
		r->kind = share;
		r->obj = obj;
		r->first_page = first_page;
	}
	return err;
}

/* The part [LO, HI] of R: an object's pages keep their place. */
static struct mmu_vm_region piece(const struct mmu_vm_region *r, mmu_vaddr_t lo, mmu_vaddr_t hi)
{
	struct mmu_vm_region p = *r;
	p.start = lo;
	p.len = hi - lo + 1;
	if (p.obj)
		p.first_page += (lo - r->start) / VM_PAGE;
	return p;
}

mmu_err_t vmm_remove(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, uint64_t len)
{
	mmu_vaddr_t last = va + (len - 1);
	struct mmu_vm_region out[2 * VM_MREGIONS];
	unsigned n = 0, touched = 0;
	for (unsigned i = 0; i < s->nregions; i++) {
		struct mmu_vm_region r = s->region[i];
		if (!overlaps(&r, va, last)) {
			out[n++] = r;
			continue;
		}
		touched++;
		if (r.start < va)
			out[n++] = piece(&r, r.start, va - 1);
		if (last_of(&r) > last)
			out[n++] = piece(&r, last + 1, last_of(&r));
	}
	if (touched == 0)
		return MMU_E_NOTEXIST;
	if (n > s->cap)
		return MMU_E_NOSPACE;
	drop_pages(m, s, va, last);
	s->nregions = 0;
	for (unsigned i = 0; i < n; i++)
		insert(s, &out[i]);
	return MMU_OK;
}

/* One region would say what A and B say, B right above A (an object's
 * pages following on in the same object). */
static bool mergeable(const struct mmu_vm_region *a, const struct mmu_vm_region *b)
{
	return a->start + a->len == b->start && a->kind == b->kind && a->prot == b->prot && a->obj == b->obj &&
	       (!a->obj || a->first_page + a->len / VM_PAGE == b->first_page);
}

/* Pieces with PROT inside [VA, LAST], the old prot outside; neighbours
 * that agree and meet inside the range or at its edges become one. A
 * guard region in the range refuses it. Stacks never come here. 2M
 * leaves the range cuts are split. */
mmu_err_t vmm_protect(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, uint64_t len, unsigned prot)
{
	mmu_vaddr_t last = va + (len - 1);
	struct mmu_vm_region out[VM_MREGIONS + 2];
	unsigned n = 0, touched = 0;
	prot &= 7u;
	for (unsigned i = 0; i < s->nregions; i++)
		if (s->region[i].kind == MMU_VM_GUARD && overlaps(&s->region[i], va, last))
			return MMU_E_INVALID_PERMISSION;
	for (unsigned i = 0; i < s->nregions; i++) {
		struct mmu_vm_region r = s->region[i];
		if (!overlaps(&r, va, last)) {
			out[n++] = r;
			continue;
		}
		touched++;
		mmu_vaddr_t lo = r.start > va ? r.start : va, hi = last_of(&r) < last ? last_of(&r) : last;
		if (r.start < lo)
			out[n++] = piece(&r, r.start, lo - 1);
		out[n] = piece(&r, lo, hi);
		out[n++].prot = prot;
		if (last_of(&r) > hi)
			out[n++] = piece(&r, hi + 1, last_of(&r));
	}
	if (touched == 0)
		return MMU_E_NOTEXIST;
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		bool at_range = out[i].start >= va && out[i].start <= last + 1;
		if (k && at_range && mergeable(&out[k - 1], &out[i]))
			out[k - 1].len += out[i].len;
		else
			out[k++] = out[i];
	}
	if (k > s->cap)
		return MMU_E_NOSPACE;
	for (unsigned i = 0; i < VM_MREGIONS; i++)
		s->region[i] = i < k ? out[i] : (struct mmu_vm_region){0};
	s->nregions = k;
	split_cut(m, s, va, last);
	if (!(prot & MMU_PROT_W))
		for (mmu_vaddr_t p = va; p <= last && p >= va; p += VM_PAGE) {
			struct vm_mpage *pg = vmm_page(s, p);
			if (pg)
				pg->wr = false;
		}
	return MMU_OK;
}

/* Brk: the region starting at START gets NEW_LEN. An object region stays
 * inside its object; growth stops at the next region, and the guard gap
 * below it when it is a stack; a shrink drops the pages cut off; a stack
 * (the driver reaches one only by the start of the region below plus a
 * page) keeps its growth limit. */
mmu_err_t vmm_resize(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t start, uint64_t new_len)
{
	int i = vmm_region_at(s, start);
	if (i < 0 || s->region[i].start != start)
		return MMU_E_NOTEXIST;
	struct mmu_vm_region *r = &s->region[i];
	const struct vm_mobject *o = r->obj ? vmm_object_of(m, r->obj) : NULL;
	if (o && new_len / VM_PAGE > o->npages - r->first_page)
		return MMU_E_INVALID;
	mmu_vaddr_t new_end = start + new_len;
	if ((unsigned)i + 1 < s->nregions) {
		const struct mmu_vm_region *next = &s->region[i + 1];
		uint64_t gap = next->kind == MMU_VM_STACK ? MMU_VM_GUARD_GAP : 0;
		if (new_len > r->len && new_end + gap > next->start)
			return MMU_E_DUPLICATED;
	}
	if (new_len < r->len)
		drop_pages(m, s, new_end, r->start + r->len - 1);
	if (r->kind == MMU_VM_STACK) /* the growth limit (end - max) stays */
		r->max = r->max + new_len - r->len;
	r->len = new_len;
	return MMU_OK;
}

mmu_err_t vmm_set_cap(struct vm_mspace *s, unsigned cap)
{
	if (s->nregions > cap)
		return MMU_E_NOSPACE;
	s->cap = cap;
	return MMU_OK;
}

/* Every leaf shared, read-only in both but in a shared region; a 2M leaf
 * is one reference more, as a 4K leaf is. */
mmu_err_t vmm_fork(struct vm_model *m, const struct vm_mspace *parent, struct vm_mspace *child, unsigned child_cap)
{
	struct vm_mspace *p = (struct vm_mspace *)parent; /* its leaves lose W too */
	if (p->nregions > child_cap)
		return MMU_E_NOSPACE;
	vmm_space_init(child);
	child->cap = child_cap;
	child->huge = p->huge;
	child->swap = p->swap;
	child->nregions = p->nregions;
	memcpy(child->region, p->region, sizeof(p->region));
	static bool shared[VM_WIN_PAGES];
	memset(shared, 0, sizeof(shared));
	for (unsigned i = 0; i < p->nregions; i++)
		for (mmu_vaddr_t a = p->region[i].start; p->region[i].kind == MMU_VM_SHARED && a <= last_of(&p->region[i]);
		     a += VM_PAGE)
			shared[(a - VM_WIN) / VM_PAGE] = true;
	for (unsigned i = 0; i < VM_WIN_PAGES; i++) {
		if (p->page[i].slot1) { /* the entry copied, its slot dup'd */
			child->page[i] = p->page[i];
			child->swapped++;
			m->slot[p->page[i].slot1 - 1].refs++;
		}
		if (p->page[i].frame < 0)
			continue;
		p->page[i].wr &= shared[i];
		child->page[i] = p->page[i];
		if (!p->page[i].huge || i % VM_HUGE_PAGES == 0)
			vmm_frame_get(m, p->page[i].frame);
	}
	return MMU_OK;
}

void vmm_exit(struct vm_model *m, struct vm_mspace *s)
{
	drop_pages(m, s, VM_WIN, VM_WIN + VM_WIN_LEN - 1);
	s->nregions = 0;
}

/* ---- objects ---- */

void vmm_object_init(struct vm_model *m, unsigned k, struct mmu_vm_object *obj, bool pager, uint32_t npages)
{
	struct vm_mobject *o = &m->object[k];
	*o = (struct vm_mobject){.obj = obj, .live = true, .pager = pager, .npages = npages};
	for (unsigned i = 0; i < VM_MOBJ_PAGES; i++)
		o->page[i] = -1;
}

struct vm_mobject *vmm_object_of(struct vm_model *m, const struct mmu_vm_object *obj)
{
	for (unsigned k = 0; k < VM_MOBJECTS; k++)
		if (m->object[k].live && m->object[k].obj == obj)
			return &m->object[k];
	return NULL;
}

uint64_t vmm_mappings(struct vm_mspace *const *s, unsigned n, const struct mmu_vm_object *obj)
{
	uint64_t count = 0;
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < s[i]->nregions; j++)
			count += s[i]->region[j].obj == obj;
	return count;
}

mmu_err_t vmm_object_release(struct vm_model *m, unsigned k, uint64_t mappings)
{
	struct vm_mobject *o = &m->object[k];
	if (!o->live)
		return MMU_E_INVALID;
	if (mappings)
		return MMU_E_BUSY;
	for (unsigned i = 0; i < o->npages; i++) {
		if (o->page[i] >= 0)
			vmm_frame_put(m, o->page[i]);
		else if (o->slot1[i])
			vmm_slot_put(m, o->slot1[i] - 1);
	}
	o->live = false;
	return MMU_OK;
}

/* Visit the leaves of frame F at page I of object O in the N spaces ALL
 * (LIVE[s]): count them, and with TAKE remove them (their references). */
static uint32_t object_leaves(struct vm_model *m, struct vm_mspace *const *all, const bool *live, unsigned n,
			      const struct vm_mobject *o, uint64_t i, int32_t f, bool take)
{
	uint32_t leaves = 0;
	/* The leaves at the page's place in each region over the object (the
	 * store's frame may be another object's page too: those stay). */
	for (unsigned s = 0; s < n; s++)
		for (unsigned j = 0; live[s] && j < all[s]->nregions; j++) {
			const struct mmu_vm_region *r = &all[s]->region[j];
			if (r->obj != o->obj || i < r->first_page || i - r->first_page >= r->len / VM_PAGE)
				continue;
			struct vm_mpage *pg = vmm_page(all[s], r->start + (i - r->first_page) * VM_PAGE);
			if (pg->frame != f)
				continue;
			leaves++;
			if (!take)
				continue;
			*pg = (struct vm_mpage){.frame = -1};
			vmm_frame_put(m, f);
			m->stats.object_leaves_out++;
		}
	return leaves;
}

mmu_err_t vmm_object_page_out(struct vm_model *m, struct vm_mspace *const *all, const bool *live, unsigned n,
			      unsigned k, uint64_t i)
{
	struct vm_mobject *o = &m->object[k];
	if ((!o->pager && !o->swap) || i >= o->npages)
		return MMU_E_INVALID;
	int32_t f = o->page[i];
	if (f < 0)
		return MMU_E_NOTEXIST;
	int slot = -1;
	if (!o->pager) {
		if (vmm_frame_refs(m, f) != object_leaves(m, all, live, n, o, i, f, false) + 1)
			return MMU_E_BUSY;
		slot = vmm_slot_take(m, m->frame[f].byte);
		if (slot < 0)
			return MMU_E_NOMEM;
		o->slot1[i] = (uint32_t)slot + 1;
		m->stats.object_swap_out++;
	}
	(void)object_leaves(m, all, live, n, o, i, f, true);
	o->page[i] = -1;
	vmm_frame_put(m, f);
	m->stats.object_page_out++;
	return MMU_OK;
}
