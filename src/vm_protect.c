/* SPDX-License-Identifier: MIT */
/* mmu_vm_region_protect: new permissions for part of a space's regions, and
 * the pages mapped there rewritten to match (include/mmu64/vm.h). The new
 * regions are counted first, so every error is known before anything
 * changes; the pages go through one visitor of the range walker and one
 * batch; then the regions are rewritten in place. */
#include "vm_internal.h"

/* ---- regions ---- */

/* The part [S, L] of R. A stack piece keeps the growth limit of R (its
 * end minus its max), so only the lowest piece can grow, and no further
 * than R could. */
static struct mmu_vm_region piece(const struct mmu_vm_region *r, mmu_vaddr_t s, mmu_vaddr_t l)
{
	struct mmu_vm_region p = *r;
	p.start = s;
	p.len = l - s + 1;
	if (p.kind == MMU_VM_STACK)
		p.max = r->max - (region_last(r) - l);
	if (p.obj)
		p.first_page += (s - r->start) >> MMU_PAGE_SHIFT;
	return p;
}

/* A directly below B, and one region would say the same as both (for an
 * object's pages: B's pages follow A's in the same object). */
static bool mergeable(const struct mmu_vm_region *a, const struct mmu_vm_region *b)
{
	return a->start + a->len == b->start && a->kind == b->kind && a->prot == b->prot &&
	       (a->kind != MMU_VM_STACK || a->max + b->len == b->max) && a->obj == b->obj &&
	       (!a->obj || a->first_page + (a->len >> MMU_PAGE_SHIFT) == b->first_page);
}

/* The rewrite of a window of SP's array, [first, end): the regions the
 * range [VA, LAST] overlaps and one neighbour on each side, which may
 * merge with them. Each old region gives its pieces in order (the part
 * below the range, the part inside with PROT, the part above); a piece
 * that starts inside the range or right after it merges into the one
 * before when they agree, so protecting a range back to what it was
 * undoes the cuts. The pieces are written back in place: the last one
 * is held in `held` until the next one shows it cannot merge, and the
 * old entry after the one being cut is read before it (`ahead`). A split
 * writes at most one entry beyond the one being read, so with that
 * look-ahead no old entry is overwritten unread (asserted). With WRITE
 * false nothing is written: the run only counts. */
struct rewrite {
	struct mmu_vm_space *sp;
	mmu_vaddr_t va, last;
	unsigned prot;
	bool write;
	unsigned out;    /* the slot `held` goes to */
	unsigned unread; /* the first old entry not read yet */
	unsigned end;
	bool holding;
	struct mmu_vm_region held;
};

static void put_held(struct rewrite *w)
{
	if (w->write) {
		MMU_ASSERT(w->sp->tree.mmu, w->out < w->unread || w->out >= w->end,
			   "region protect: slot %u overwritten before it was read", w->out);
		w->sp->region[w->out] = w->held;
	}
	w->out++;
}

static void emit(struct rewrite *w, const struct mmu_vm_region *p)
{
	bool near_range = p->start >= w->va && p->start - 1 <= w->last;
	if (w->holding && near_range && mergeable(&w->held, p)) {
		w->held.len += p->len;
		w->held.max = p->max;
		return;
	}
	if (w->holding)
		put_held(w);
	w->held = *p;
	w->holding = true;
	if (w->write)
		vm_region_hold(w->sp, p); /* a new region; what merges into it is counted in it */
}

static void emit_pieces(struct rewrite *w, const struct mmu_vm_region *r)
{
	if (!region_overlaps(r, w->va, w->last)) {
		emit(w, r);
		return;
	}
	mmu_vaddr_t lo = r->start > w->va ? r->start : w->va;
	mmu_vaddr_t hi = region_last(r) < w->last ? region_last(r) : w->last;
	if (r->start < lo) {
		struct mmu_vm_region below = piece(r, r->start, lo - 1);
		emit(w, &below);
	}
	struct mmu_vm_region inside = piece(r, lo, hi);
	inside.prot = w->prot;
	emit(w, &inside);
	if (region_last(r) > hi) {
		struct mmu_vm_region above = piece(r, hi + 1, region_last(r));
		emit(w, &above);
	}
}

/* Run W over the window [FIRST, END); returns the count of the result. */
static unsigned rewrite_window(struct rewrite *w, unsigned first, unsigned end)
{
	const struct mmu_vm_region *old = w->sp->region;
	w->out = first;
	w->unread = first;
	w->end = end;
	w->holding = false;
	struct mmu_vm_region cur = old[first], ahead = cur;
	for (unsigned j = first; j < end; j++) {
		w->unread = j + 1;
		if (j + 1 < end) {
			ahead = old[j + 1];
			w->unread = j + 2;
		}
		emit_pieces(w, &cur);
		if (w->write)
			vm_region_drop(w->sp, &cur); /* after its pieces were counted */
		cur = ahead;
	}
	put_held(w);
	return w->out - first;
}

struct protect_plan {
	unsigned lo, hi;         /* the regions the range overlaps */
	unsigned first, end;     /* the window: one more on each side */
	unsigned count;          /* what the window becomes */
};

/* NOTEXIST, INVALID_PERMISSION (a guard region in the range, or W for a
 * region that may not write) or NOSPACE for protecting [VA, LAST] of SP;
 * else the plan. Nothing written. */
static mmu_err_t protect_plan(struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_vaddr_t last, unsigned prot,
			      struct protect_plan *p)
{
	p->lo = vm_region_lower(sp, va);
	p->hi = vm_region_upper(sp, last);
	for (unsigned i = p->lo; i < p->hi; i++)
		if (sp->region[i].kind == MMU_VM_GUARD || ((prot & MMU_PROT_W) && !vm_region_may_write(&sp->region[i])))
			return MMU_E_INVALID_PERMISSION;
	if (p->lo >= p->hi)
		return MMU_E_NOTEXIST;
	p->first = p->lo > 0 ? p->lo - 1 : p->lo;
	p->end = p->hi < sp->nregions ? p->hi + 1 : p->hi;
	struct rewrite count = {.sp = sp, .va = va, .last = last, .prot = prot, .write = false};
	p->count = rewrite_window(&count, p->first, p->end);
	if (sp->nregions - (p->end - p->first) + p->count > sp->region_cap)
		return MMU_E_NOSPACE;
	return MMU_OK;
}

/* The regions after the plan: the tail moved out of the window's way
 * first when the window grows, back after it when it shrinks. */
static void protect_apply(struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_vaddr_t last, unsigned prot,
			  const struct protect_plan *p)
{
	unsigned n = sp->nregions, tail = n - p->end, window = p->end - p->first;
	struct mmu_vm_region *r = sp->region;
	if (p->count > window)
		vm_regions_move(&r[p->first + p->count], &r[p->end], tail);
	struct rewrite w = {.sp = sp, .va = va, .last = last, .prot = prot, .write = true};
	unsigned got = rewrite_window(&w, p->first, p->end);
	MMU_ASSERT(sp->tree.mmu, got == p->count, "region protect: %u regions, planned %u", got, p->count);
	if (p->count < window)
		vm_regions_move(&r[p->first + p->count], &r[p->end], tail);
	sp->nregions = n - window + p->count;
}

/* ---- pages ---- */

struct protect_op {
	uint64_t clear, set; /* PTE bits */
	const struct mmu_vm_region *region; /* SP's regions, ascending */
	unsigned n;
	unsigned next; /* the first region that may still end at or above the walk */
	unsigned first; /* where NEXT starts, again for the commit after the prepare run */
};

/* Whether [VA, LAST] overlaps one of OP's regions. The walk goes up the
 * addresses, so a region that ends below VA is behind it for good. */
static bool in_regions(struct protect_op *op, mmu_vaddr_t va, mmu_vaddr_t last)
{
	const struct mmu_vm_region *r = op->region;
	while (op->next < op->n && region_last(&r[op->next]) < va)
		op->next++;
	return op->next < op->n && r[op->next].start <= last;
}

/* Rewrite each leaf of the regions; only a downgrade (RW cleared, XD set)
 * is invalidated: a stale entry that allows less than the tables is a
 * spurious fault. */
static enum pt_step protect_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				  mmu_vaddr_t last)
{
	struct protect_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v) || !in_regions(op, va, last))
		return PT_NEXT;
	/* A 2M leaf lies in one old region; the range may cut it. */
	if (!mmu_pte_is_leaf(v, level) || vm_split_if_cut(w, level, e, va, last))
		return PT_DESCEND;
	mmu_pte_t nv = (v & ~op->clear) | op->set;
	if (nv == v)
		return PT_NEXT;
	bool downgrade = ((v & MMU_PTE_RW) && !(nv & MMU_PTE_RW)) || (!(v & MMU_PTE_XD) && (nv & MMU_PTE_XD));
	entry_rewrite_leaf(w, level, e, va, op->clear, op->set, downgrade);
	return PT_NEXT;
}

/* The prepare run (which counts the splits' tables) moved the cursor. */
static mmu_err_t protect_prepared(const struct pt_walk *w)
{
	struct protect_op *op = w->op;
	op->next = op->first;
	return MMU_OK;
}

static const struct pt_visitor protect_visitor = {.entry = protect_entry, .prepared = protect_prepared};

/* The leaves of [VA, LAST] inside SP's regions (still the old regions),
 * one change, one flush. W removed clears RW; W added sets nothing (a
 * write fault takes the page over or copies it, so a frame shared after
 * fork stays COW); X decides XD. Frames and their references stay. The
 * KPTI shadow shares every table below the root and no root entry
 * changes, so it is in step without a sync. */
static mmu_err_t pages_protect(struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_vaddr_t last, unsigned prot)
{
	struct mmu *mmu = sp->tree.mmu;
	uint64_t xd = prot_to_pte(mmu, MMU_PROT_R) & MMU_PTE_XD; /* 0 without NX */
	struct protect_op op = {
		.clear = ((prot & MMU_PROT_W) ? 0 : MMU_PTE_RW) | ((prot & MMU_PROT_X) ? xd : 0),
		.set = (prot & MMU_PROT_X) ? 0 : xd,
		.region = sp->region,
		.n = sp->nregions,
		.next = vm_region_lower(sp, va),
	};
	op.first = op.next;
	return pt_change_splitting(&sp->tree, &protect_visitor, &op, va, last);
}

mmu_err_t mmu_vm_region_protect(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot)
{
	vm_lock(sp);
	/* Below the min address (page 0 by default) is never a region's:
	 * INVALID, like every range error. */
	mmu_err_t err = va < sp->min_addr ? MMU_E_INVALID : protect_check(&sp->tree, va, len, prot);
	mmu_vaddr_t last = va + (len - 1);
	prot &= MMU_PROT_R | MMU_PROT_W | MMU_PROT_X;
	struct protect_plan plan;
	if (err == MMU_OK)
		err = protect_plan(sp, va, last, prot, &plan);
	if (err == MMU_OK)
		err = pages_protect(sp, va, last, prot);
	if (err == MMU_OK)
		protect_apply(sp, va, last, prot, &plan);
	vm_unlock(sp);
	return err;
}
