/* SPDX-License-Identifier: MIT */
/* The region operations of the process-space property test (vmprop.h):
 * add (anon, big anon where 2M pages fit, stack, eager, guard), remove,
 * protect, resize, storage moves
 * and ranges every call refuses, each checked against the model's
 * answer, which then follows. */
#include <stdio.h>

#include "vmprop.h"

struct run R; /* here, not in the test: every unit test links this file */

void expect_err(mmu_err_t got, mmu_err_t want)
{
	if (got != want)
		FAIL("returned %s, expected %s", mmu_err_name(got), mmu_err_name(want));
}

void as_any_cpu(void) { sim_set_cpu(R.sim, (unsigned)rnd(R.ncpus)); }

mmu_vaddr_t pick_user_va(int s)
{
	const struct vm_mspace *m = R.ms[s];
	mmu_vaddr_t page;
	if (m->nregions && chance(95)) {
		const struct mmu_vm_region *r = &m->region[rnd(m->nregions)];
		uint64_t pages = r->len / VM_PAGE;
		/* mostly inside, else just below (stack growth, guard gap) or above */
		page = r->start + rnd(pages + (chance(10) ? 2 : 0)) * VM_PAGE - (chance(12) ? (1 + rnd(24)) * VM_PAGE : 0);
		if (page - VM_WIN >= VM_WIN_LEN)
			page = r->start;
	} else {
		page = VM_WIN + rnd(VM_WIN_PAGES) * VM_PAGE;
	}
	return page + vm_byte_offset((unsigned)rnd(VM_NBYTES));
}

/* The call returned GOT where the model says WANT; count it under OK (a
 * success), N_NOSPACE or N_REFUSED. */
static void agree(mmu_err_t got, mmu_err_t want, unsigned ok)
{
	expect_err(got, want);
	R.counts[want == MMU_OK ? ok : want == MMU_E_NOSPACE ? N_NOSPACE : N_REFUSED]++;
}

/* An anon region of 2M to 4M at the start of a big slot (on a 2M
 * boundary, or a few pages off), where huge pages fit. */
static void big_region(mmu_vaddr_t *va, uint64_t *len)
{
	*va = VM_WIN + (VM_NSLOTS + rnd(VM_BIG_SLOTS)) * VM_SLOT + (chance(30) ? rnd(16) * VM_PAGE : 0);
	*len = (VM_HUGE_PAGES + rnd(VM_HUGE_PAGES)) * VM_PAGE;
	if (*va + *len > VM_WIN + VM_WIN_LEN) /* the model follows the window only */
		*len = VM_WIN + VM_WIN_LEN - *va;
}

void do_region_add(int s)
{
	mmu_vaddr_t slot = VM_WIN + rnd(VM_NSLOTS) * VM_SLOT;
	unsigned k = (unsigned)rnd(12);
	enum mmu_vm_kind kind = k < 7 ? MMU_VM_ANON : k < 9 ? MMU_VM_STACK : k < 11 ? MMU_VM_EAGER : MMU_VM_GUARD;
	mmu_vaddr_t va = slot + (1ull << 20) + rnd(512) * VM_PAGE;
	uint64_t len = (1 + rnd(kind == MMU_VM_EAGER ? 4 : 12)) * VM_PAGE;
	if (k == 6)
		big_region(&va, &len);
	uint64_t max = kind == MMU_VM_STACK ? len + rnd(48) * VM_PAGE : 0;
	unsigned prot = MMU_PROT_R | (chance(70) ? MMU_PROT_W : 0) | (chance(20) ? MMU_PROT_X : 0);
	if (kind == MMU_VM_GUARD)
		prot = chance(50) ? MMU_PROT_U : 0;
	snprintf(R.desc, sizeof(R.desc), "region add space %d va 0x%" PRIx64 " len 0x%" PRIx64 " prot %u kind %u max 0x%" PRIx64,
		 s, va, len, prot, kind, max);
	as_any_cpu();
	mmu_err_t want = vmm_add(&R.model, R.ms[s], va, len, prot, kind, max);
	agree(mmu_vm_region_add(&R.sp[s], va, len, prot, kind, max), want, N_ADD);
}

/* A range around a region of S (never cutting a stack), or in the hole. */
static bool pick_range(int s, bool whole_stacks_only, mmu_vaddr_t *va, uint64_t *len)
{
	const struct vm_mspace *m = R.ms[s];
	if (!m->nregions || chance(5)) {
		*va = VM_WIN + rnd(VM_WIN_PAGES / 2) * VM_PAGE;
		*len = (1 + rnd(8)) * VM_PAGE;
	} else {
		const struct mmu_vm_region *r = &m->region[rnd(m->nregions)];
		if (r->kind == MMU_VM_STACK && !whole_stacks_only)
			return false;
		*va = r->start;
		*len = r->len;
		if (r->kind != MMU_VM_STACK && r->len >= VM_HUGE && chance(30)) {
			/* one or two whole 2M blocks, or one and a page */
			*va = ((r->start + VM_HUGE - 1) & ~(VM_HUGE - 1)) + (chance(20) ? VM_PAGE : 0);
			*len = (chance(70) ? 1 : 2) * VM_HUGE;
		} else if (r->kind != MMU_VM_STACK && chance(75)) {
			*va = r->start + rnd(r->len / VM_PAGE + 2) * VM_PAGE - (chance(30) ? rnd(8) * VM_PAGE : 0);
			*len = (1 + rnd(chance(80) ? 8 : 1024)) * VM_PAGE;
		}
	}
	if (vmm_touches_stack(m, *va, *len)) {
		if (!whole_stacks_only)
			return false;
		int i = vmm_region_at(m, *va);
		if (i < 0 || m->region[i].kind != MMU_VM_STACK || m->region[i].start != *va || m->region[i].len != *len)
			return false;
	}
	return true;
}

void do_region_remove(int s)
{
	mmu_vaddr_t va;
	uint64_t len;
	if (!pick_range(s, true, &va, &len))
		return;
	snprintf(R.desc, sizeof(R.desc), "region remove space %d va 0x%" PRIx64 " len 0x%" PRIx64, s, va, len);
	as_any_cpu();
	mmu_err_t want = vmm_remove(&R.model, R.ms[s], va, len);
	agree(mmu_vm_region_remove(&R.sp[s], va, len), want, N_REMOVE);
}

void do_region_protect(int s)
{
	mmu_vaddr_t va;
	uint64_t len;
	if (!pick_range(s, false, &va, &len))
		return;
	unsigned prot = MMU_PROT_R | (chance(50) ? MMU_PROT_W : 0) | (chance(20) ? MMU_PROT_X : 0);
	if (!may_write_store(s, va, len))
		prot &= ~(unsigned)MMU_PROT_W;
	snprintf(R.desc, sizeof(R.desc), "region protect space %d va 0x%" PRIx64 " len 0x%" PRIx64 " prot %u", s, va,
		 len, prot);
	as_any_cpu();
	mmu_err_t want = vmm_protect(&R.model, R.ms[s], va, len, prot);
	agree(mmu_vm_region_protect(&R.sp[s], va, len, prot), want, N_PROTECT);
}

/* Brk on a region that is not a stack (the model never cuts stacks):
 * shrink, grow (into the next region or a stack's gap too), or an
 * address where no region starts. */
void do_region_resize(int s)
{
	const struct vm_mspace *m = R.ms[s];
	if (!m->nregions)
		return;
	const struct mmu_vm_region *r = &m->region[rnd(m->nregions)];
	if (r->kind == MMU_VM_STACK)
		return;
	mmu_vaddr_t start = chance(90) ? r->start : r->start + VM_PAGE;
	uint64_t len = (1 + rnd(r->len / VM_PAGE + (chance(50) ? 16 : 300))) * VM_PAGE;
	if (start + len > VM_WIN + VM_WIN_LEN) /* the model follows the window only */
		len = VM_WIN + VM_WIN_LEN - start;
	snprintf(R.desc, sizeof(R.desc), "region resize space %d start 0x%" PRIx64 " len 0x%" PRIx64, s, start, len);
	as_any_cpu();
	mmu_err_t want = vmm_resize(&R.model, R.ms[s], start, len);
	agree(mmu_vm_region_resize(&R.sp[s], start, len), want, N_RESIZE);
}

void do_region_storage(int s)
{
	struct mmu_vm_space *sp = &R.sp[s];
	unsigned cap = chance(25) ? 0 : 8 + (unsigned)rnd(VM_MREGIONS - 7);
	struct mmu_vm_region *slots = R.slots[s][sp->region == R.slots[s][0] ? !chance(20) : chance(20)];
	snprintf(R.desc, sizeof(R.desc), "region storage space %d: %s, %u slots", s, cap ? "an array" : "inline", cap);
	as_any_cpu();
	mmu_err_t want = vmm_set_cap(R.ms[s], cap ? cap : MMU_VM_INLINE_REGIONS);
	agree(mmu_vm_space_set_region_storage(sp, cap ? slots : NULL, cap), want, N_STORAGE);
	if (want == MMU_OK && sp->region != (cap ? slots : sp->inline_region))
		FAIL("the regions are not where they were moved");
}

void fork_storage(int c, struct mmu_vm_region **slots, unsigned *cap)
{
	*cap = chance(40) ? 0 : 8 + (unsigned)rnd(VM_MREGIONS - 7);
	*slots = *cap ? R.slots[c][rnd(2)] : NULL;
}

void do_region_invalid(int s)
{
	uint64_t half = 1ull << (mmu_va_bits(R.mmu->levels) - 1);
	mmu_vaddr_t kernel = mmu_va_canonicalize(half, R.mmu->levels);
	static const char *what[] = {"page 0", "kernel half", "last byte in the kernel half", "non-canonical",
				     "zero length", "unaligned"};
	struct {
		mmu_vaddr_t va;
		uint64_t len;
		mmu_err_t want;
	} c[] = {
		{0, VM_PAGE, MMU_E_INVALID},
		{kernel, VM_PAGE, MMU_E_INVALID},
		{half - VM_PAGE, kernel - (half - VM_PAGE) + VM_PAGE, MMU_E_INVALID},
		{half, VM_PAGE, MMU_E_INVALID},
		{VM_WIN, 0, MMU_E_INVALID},
		{VM_WIN + 8, VM_PAGE, MMU_E_UNALIGNED},
	};
	unsigned i = (unsigned)rnd(6), call = (unsigned)rnd(4);
	snprintf(R.desc, sizeof(R.desc), "region call %u with %s: va 0x%" PRIx64 " len 0x%" PRIx64, call, what[i],
		 c[i].va, c[i].len);
	as_any_cpu();
	mmu_err_t got = call == 0   ? mmu_vm_region_add(&R.sp[s], c[i].va, c[i].len, MMU_PROT_R, MMU_VM_ANON, 0)
			: call == 1 ? mmu_vm_region_remove(&R.sp[s], c[i].va, c[i].len)
			: call == 2 ? mmu_vm_region_resize(&R.sp[s], c[i].va, c[i].len)
				    : mmu_vm_region_protect(&R.sp[s], c[i].va, c[i].len, MMU_PROT_R);
	expect_err(got, c[i].want);
	R.counts[N_REFUSED]++;
}
