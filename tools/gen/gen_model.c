/* SPDX-License-Identifier: MIT */
/* The generator's model of mappings (spans) and regions: lists of
 * ranges that can be added, cut and picked from. See gen.h. */
#include "tools/gen/gen.h"

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int gen_spans_overlap(const struct gen_tree *t, uint64_t va, uint64_t len)
{
	int worst = 0;
	for (unsigned i = 0; i < t->nspans; i++) {
		const struct gen_span *s = &t->span[i];
		if (overlaps(s->va, s->len, va, len))
			worst = s->doubtful ? (worst > 1 ? worst : 1) : 2;
	}
	return worst;
}

void gen_spans_add(struct gen_tree *t, uint64_t va, uint64_t len, int frame, uint64_t off, bool doubtful)
{
	if (t->nspans == GEN_SPANS) {
		t->chaos = true; /* no longer known: never an exec target again */
		return;
	}
	t->span[t->nspans++] = (struct gen_span){.va = va, .len = len, .off = off, .frame = frame, .doubtful = doubtful};
}

/* Remove [VA, VA+LEN) from every span: whatever the unmap's outcome, the
 * range is empty afterwards (a refused unmap found nothing there). */
void gen_spans_cut(struct gen_tree *t, uint64_t va, uint64_t len)
{
	uint64_t end = va + len;
	for (unsigned i = 0; i < t->nspans;) {
		struct gen_span s = t->span[i];
		uint64_t send = s.va + s.len;
		if (!overlaps(s.va, s.len, va, len)) {
			i++;
			continue;
		}
		t->span[i] = t->span[--t->nspans];
		if (s.va < va)
			gen_spans_add(t, s.va, va - s.va, s.frame, s.off, s.doubtful);
		if (send > end)
			gen_spans_add(t, end, send - end, s.frame, s.off + (end - s.va), s.doubtful);
	}
}

const struct gen_span *gen_spans_pick(struct gen *g, const struct gen_tree *t)
{
	return t->nspans ? &t->span[gen_below(g, t->nspans)] : NULL;
}

int gen_regions_overlap(const struct gen_proc *p, uint64_t va, uint64_t len)
{
	int worst = 0;
	for (unsigned i = 0; i < p->nregions; i++) {
		const struct gen_region *r = &p->region[i];
		/* A stack may have grown down to 8M (the default max) below it. */
		uint64_t lo = r->kind == GEN_STACK ? (r->va > (8ull << 20) ? r->va - (8ull << 20) : 0) : r->va;
		uint64_t rlen = r->va + r->len - lo;
		if (overlaps(r->va, r->len, va, len) && !r->doubtful)
			worst = 2;
		else if (overlaps(lo, rlen, va, len) && worst < 1)
			worst = 1;
	}
	for (unsigned i = 0; i < p->noregions; i++)
		if (overlaps(p->oregion[i].va, p->oregion[i].len, va, len) && worst < 1)
			worst = 1;
	return worst;
}

void gen_regions_add(struct gen_proc *p, uint64_t va, uint64_t len, enum gen_kind kind, unsigned perm, bool doubtful)
{
	if (p->nregions == GEN_REGIONS) {
		p->chaos = true;
		return;
	}
	p->region[p->nregions++] =
		(struct gen_region){.va = va, .len = len, .kind = kind, .perm = perm, .doubtful = doubtful};
}

/* A region remove that may or may not happen: what it covers is doubtful. */
void gen_regions_doubt(struct gen_proc *p, uint64_t va, uint64_t len)
{
	for (unsigned i = 0; i < p->nregions; i++)
		if (overlaps(p->region[i].va, p->region[i].len, va, len))
			p->region[i].doubtful = true;
}

void gen_regions_cut(struct gen_proc *p, uint64_t va, uint64_t len)
{
	uint64_t end = va + len;
	for (unsigned i = 0; i < p->nregions;) {
		struct gen_region r = p->region[i];
		uint64_t rend = r.va + r.len;
		if (!overlaps(r.va, r.len, va, len)) {
			i++;
			continue;
		}
		p->region[i] = p->region[--p->nregions];
		if (r.va < va)
			gen_regions_add(p, r.va, va - r.va, r.kind, r.perm, r.doubtful);
		if (rend > end)
			gen_regions_add(p, end, rend - end, r.kind, r.perm, r.doubtful);
	}
	/* An object region cut in two keeps both parts in one entry: it
	 * only occupies, so a range too wide does no harm. */
	for (unsigned i = 0; i < p->noregions;) {
		const struct gen_oregion *o = &p->oregion[i];
		if (va <= o->va && end >= o->va + o->len)
			p->oregion[i] = p->oregion[--p->noregions];
		else
			i++;
	}
}

const struct gen_region *gen_regions_pick(struct gen *g, const struct gen_proc *p)
{
	return p->nregions ? &p->region[gen_below(g, p->nregions)] : NULL;
}
