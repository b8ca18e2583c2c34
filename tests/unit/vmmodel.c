/* SPDX-License-Identifier: MIT */
/* The process-space model of test_property_vm.c: see vmmodel.h. */
#include "vmmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vmm_init(struct vm_model *m) { *m = (struct vm_model){0}; }

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

static int32_t frame_new(struct vm_model *m, const uint8_t *bytes)
{
	if (m->nframes == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 4096;
		m->frame = realloc(m->frame, m->cap * sizeof(*m->frame));
		if (!m->frame) {
			fprintf(stderr, "vmmodel: out of memory\n");
			exit(1);
		}
	}
	struct vm_mframe *f = &m->frame[m->nframes];
	f->refs = 1;
	if (bytes)
		memcpy(f->byte, bytes, VM_NBYTES);
	else
		memset(f->byte, 0, VM_NBYTES);
	m->live++;
	return (int32_t)m->nframes++;
}

static void frame_put(struct vm_model *m, int32_t id)
{
	if (--m->frame[id].refs == 0)
		m->live--;
}

struct vm_mpage *vmm_page(struct vm_mspace *s, mmu_vaddr_t va)
{
	if (va - VM_WIN >= VM_NSLOTS * VM_SLOT)
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

static void drop_pages(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, mmu_vaddr_t last)
{
	for (mmu_vaddr_t p = va; p <= last && p >= va; p += VM_PAGE) {
		struct vm_mpage *pg = vmm_page(s, p);
		if (pg && pg->frame >= 0) {
			frame_put(m, pg->frame);
			*pg = (struct vm_mpage){.frame = -1};
		}
	}
}

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
			*vmm_page(s, p) = (struct vm_mpage){.frame = frame_new(m, NULL), .wr = (prot & MMU_PROT_W) != 0};
	return MMU_OK;
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
		if (r.start < va) {
			struct mmu_vm_region low = r;
			low.len = va - r.start;
			out[n++] = low;
		}
		if (last_of(&r) > last) {
			struct mmu_vm_region high = r;
			high.start = last + 1;
			high.len = last_of(&r) - last;
			out[n++] = high;
		}
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

/* Pieces with PROT inside [VA, LAST], the old prot outside; neighbours of
 * the same kind and prot that meet inside the range or at its edges become
 * one. A guard region in the range refuses it. Stacks never come here. */
mmu_err_t vmm_protect(struct vm_mspace *s, mmu_vaddr_t va, uint64_t len, unsigned prot)
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
			out[n++] = (struct mmu_vm_region){.start = r.start, .len = lo - r.start, .prot = r.prot, .kind = r.kind};
		out[n++] = (struct mmu_vm_region){.start = lo, .len = hi - lo + 1, .prot = prot, .kind = r.kind};
		if (last_of(&r) > hi)
			out[n++] = (struct mmu_vm_region){.start = hi + 1, .len = last_of(&r) - hi, .prot = r.prot, .kind = r.kind};
	}
	if (touched == 0)
		return MMU_E_NOTEXIST;
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		struct mmu_vm_region *prev = k ? &out[k - 1] : NULL;
		bool meets = prev && prev->start + prev->len == out[i].start;
		bool at_range = out[i].start >= va && out[i].start <= last + 1;
		if (meets && at_range && prev->kind == out[i].kind && prev->prot == out[i].prot)
			prev->len += out[i].len;
		else
			out[k++] = out[i];
	}
	if (k > s->cap)
		return MMU_E_NOSPACE;
	for (unsigned i = 0; i < VM_MREGIONS; i++)
		s->region[i] = i < k ? out[i] : (struct mmu_vm_region){0};
	s->nregions = k;
	if (!(prot & MMU_PROT_W))
		for (mmu_vaddr_t p = va; p <= last && p >= va; p += VM_PAGE) {
			struct vm_mpage *pg = vmm_page(s, p);
			if (pg)
				pg->wr = false;
		}
	return MMU_OK;
}

/* Brk: the region starting at START gets NEW_LEN. Growth stops at the
 * next region, and the guard gap below it when it is a stack; a shrink
 * drops the pages cut off. */
mmu_err_t vmm_resize(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t start, uint64_t new_len)
{
	int i = vmm_region_at(s, start);
	if (i < 0 || s->region[i].start != start)
		return MMU_E_NOTEXIST;
	struct mmu_vm_region *r = &s->region[i];
	mmu_vaddr_t new_end = start + new_len;
	if ((unsigned)i + 1 < s->nregions) {
		const struct mmu_vm_region *next = &s->region[i + 1];
		uint64_t gap = next->kind == MMU_VM_STACK ? MMU_VM_GUARD_GAP : 0;
		if (new_len > r->len && new_end + gap > next->start)
			return MMU_E_DUPLICATED;
	}
	if (new_len < r->len)
		drop_pages(m, s, new_end, r->start + r->len - 1);
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

mmu_err_t vmm_fork(struct vm_model *m, const struct vm_mspace *parent, struct vm_mspace *child, unsigned child_cap)
{
	struct vm_mspace *p = (struct vm_mspace *)parent; /* its leaves lose W too */
	if (p->nregions > child_cap)
		return MMU_E_NOSPACE;
	vmm_space_init(child);
	child->cap = child_cap;
	child->nregions = p->nregions;
	memcpy(child->region, p->region, sizeof(p->region));
	for (unsigned i = 0; i < VM_WIN_PAGES; i++) {
		if (p->page[i].frame < 0)
			continue;
		p->page[i].wr = false;
		child->page[i] = p->page[i];
		m->frame[p->page[i].frame].refs++;
	}
	return MMU_OK;
}

void vmm_exit(struct vm_model *m, struct vm_mspace *s)
{
	drop_pages(m, s, VM_WIN, VM_WIN + VM_NSLOTS * VM_SLOT - 1);
	s->nregions = 0;
}

/* ---- faults ---- */

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

/* One fault, resolved as the contract says; false when refused. */
static bool resolve(struct vm_model *m, struct vm_mspace *s, unsigned kind, mmu_vaddr_t page)
{
	struct vm_mpage *pg = vmm_page(s, page);
	int ri = vmm_region_at(s, page);
	const struct mmu_vm_region *r = ri >= 0 ? &s->region[ri] : NULL;
	if (pg->frame < 0 && r) {
		if (!region_allows(r, kind))
			return false;
		*pg = (struct vm_mpage){.frame = frame_new(m, NULL), .wr = (r->prot & MMU_PROT_W) != 0};
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
		*pg = (struct vm_mpage){.frame = frame_new(m, NULL), .wr = (st->prot & MMU_PROT_W) != 0};
		s->want.stack++;
		return true;
	}
	if (kind != 1 || !r || !(r->prot & MMU_PROT_W) || pg->wr)
		return false;
	struct vm_mframe *f = &m->frame[pg->frame];
	if (f->refs > 1) {
		int32_t copy = frame_new(m, m->frame[pg->frame].byte);
		frame_put(m, pg->frame);
		pg->frame = copy;
	}
	pg->wr = true;
	s->want.cow++;
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
