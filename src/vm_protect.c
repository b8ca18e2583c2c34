/* SPDX-License-Identifier: MIT */
/* mmu_vm_region_protect: new permissions for part of a space's regions, and
 * the pages mapped there rewritten to match (include/mmu64/vm.h). The
 * regions are rebuilt in a scratch array first, so every error is known
 * before anything changes; the pages go through one visitor of the range
 * walker and one batch. */
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
		p.max = r->max - ((r->start + (r->len - 1)) - l);
	return p;
}

/* A directly below B, and one region would say the same as both. */
static bool mergeable(const struct mmu_vm_region *a, const struct mmu_vm_region *b)
{
	return a->start + a->len == b->start && a->kind == b->kind && a->prot == b->prot &&
	       (a->kind != MMU_VM_STACK || a->max + b->len == b->max);
}

/* The regions of SP after [VA, LAST] got PROT, into OUT (room for two
 * more than SP has: only the regions holding VA and LAST split). Regions
 * meeting inside the range or at its edges merge when they agree, so
 * protecting a range back to what it was undoes the cuts. Returns the
 * count; *TOUCHED: how many regions overlap the range. */
static unsigned regions_protected(const struct mmu_vm_space *sp, mmu_vaddr_t va, mmu_vaddr_t last, unsigned prot,
				  struct mmu_vm_region *out, unsigned *touched)
{
	unsigned n = 0;
	*touched = 0;
	for (unsigned i = 0; i < sp->nregions; i++) {
		const struct mmu_vm_region *r = &sp->region[i];
		mmu_vaddr_t r_last = r->start + (r->len - 1);
		if (!region_overlaps(r, va, last)) {
			out[n++] = *r;
			continue;
		}
		(*touched)++;
		mmu_vaddr_t lo = r->start > va ? r->start : va, hi = r_last < last ? r_last : last;
		if (r->start < va)
			out[n++] = piece(r, r->start, va - 1);
		out[n] = piece(r, lo, hi);
		out[n++].prot = prot;
		if (r_last > last)
			out[n++] = piece(r, last + 1, r_last);
	}
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++) {
		bool in_range = out[i].start >= va && out[i].start - 1 <= last;
		if (m > 0 && in_range && mergeable(&out[m - 1], &out[i])) {
			out[m - 1].len += out[i].len;
			out[m - 1].max = out[i].max;
		} else {
			out[m++] = out[i];
		}
	}
	return m;
}

/* ---- pages ---- */

struct protect_op {
	uint64_t clear, set; /* PTE bits */
	const struct mmu_vm_region *region; /* SP's regions, ascending */
	unsigned n;
	unsigned next; /* the first region that may still end at or above the walk */
};

/* Whether [VA, LAST] overlaps one of OP's regions. The walk goes up the
 * addresses, so a region that ends below VA is behind it for good. */
static bool in_regions(struct protect_op *op, mmu_vaddr_t va, mmu_vaddr_t last)
{
	const struct mmu_vm_region *r = op->region;
	while (op->next < op->n && r[op->next].start + (r[op->next].len - 1) < va)
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
	if (!mmu_pte_is_leaf(v, level))
		return PT_DESCEND;
	MMU_ASSERT(w->mmu, level == MMU_LEVEL_PT, "protect: level %u leaf %lx at %lx in a process space", level,
		   (unsigned long)v, (unsigned long)va);
	mmu_pte_t nv = (v & ~op->clear) | op->set;
	if (nv == v)
		return PT_NEXT;
	bool downgrade = ((v & MMU_PTE_RW) && !(nv & MMU_PTE_RW)) || (!(v & MMU_PTE_XD) && (nv & MMU_PTE_XD));
	entry_rewrite_leaf(w, level, e, va, op->clear, op->set, downgrade);
	return PT_NEXT;
}

static const struct pt_visitor protect_visitor = {.entry = protect_entry};

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
	};
	return pt_change(&sp->tree, &protect_visitor, &op, va, last);
}

mmu_err_t mmu_vm_region_protect(struct mmu_vm_space *sp, mmu_vaddr_t va, uint64_t len, unsigned prot)
{
	/* Page 0 is never a region's: INVALID, like every range error. */
	mmu_err_t err = va < MMU_PAGE_SIZE ? MMU_E_INVALID : protect_check(&sp->tree, va, len, prot);
	if (err != MMU_OK)
		return err;
	prot &= MMU_PROT_R | MMU_PROT_W | MMU_PROT_X;
	mmu_vaddr_t last = va + (len - 1);
	struct mmu_vm_region next[MMU_VM_MAX_REGIONS + 2];
	unsigned touched;
	vm_lock(sp);
	unsigned n = regions_protected(sp, va, last, prot, next, &touched);
	if (touched == 0)
		err = MMU_E_NOTEXIST;
	else if (n > MMU_VM_MAX_REGIONS)
		err = MMU_E_NOMEM;
	if (err == MMU_OK)
		err = pages_protect(sp, va, last, prot);
	if (err == MMU_OK) {
		for (unsigned i = 0; i < MMU_VM_MAX_REGIONS; i++)
			sp->region[i] = i < n ? next[i] : (struct mmu_vm_region){0};
		sp->nregions = n;
	}
	vm_unlock(sp);
	return err;
}
