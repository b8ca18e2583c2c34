/* SPDX-License-Identifier: MIT */
/* mmu_vm_region_protect on the software machine: every error (nothing
 * changed, NOMEM on region slots included), regions split at the range
 * edges and merged back, stack pieces keeping the growth limit, downgrades
 * seen by every CPU at once (one flush, the exact error code on the other
 * CPU), upgrades after fork keeping COW, X on and off (the stale entry a
 * spurious fault), frames and references untouched, and KPTI (user mode on
 * the shadow). 4 and 5 levels, PCIDs off and on; the TLB sanitizer stays
 * silent. */
#include "vmtest.h"

#define R MMU_PROT_R
#define RW (MMU_PROT_R | MMU_PROT_W)
#define RX (MMU_PROT_R | MMU_PROT_X)

static mmu_pte_t leaf_of(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	mmu_pte_t e = 0;
	CHECK_OK(mmu_entry(&sp->tree, va, MMU_LEVEL_PT, &e));
	return e;
}

/* The raw result of CPU's user access, without the fault handler. */
static uint32_t raw(unsigned cpu, enum sim_access_kind kind, mmu_vaddr_t va)
{
	return st_result(sim_access(vt_sim, cpu, kind, va, true, false, 0x5a));
}

static void test_errors(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space sp;
	struct state before;
	mmu_vaddr_t top = 1ull << (mmu_va_bits(vt_mmu->levels) - 1);
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add(&sp, 0x400000, 0x10000, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&sp, 0x500000, 0x10000, RW, MMU_VM_STACK, 0));
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(uw(&sp, 0, 0x400000, 1), R_OK);
	CHECK_EQ(uw(&sp, 0, 0x404000, 1), R_OK);
	state_take(&sp, &before);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0, PAGE, R), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x800, PAGE, R), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x400000, 0, R), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x400000, ~0ull, R), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&sp, top, PAGE, R), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&sp, top - PAGE, 2 * PAGE, R), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0xffffc80000000000ull, PAGE, R), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x400000, PAGE, R | 0x10), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x400000, PAGE, MMU_PROT_W | 0x10), MMU_E_INVALID); /* before perm */
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x400800, PAGE, R), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x400000, 0x800, R), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x400800, PAGE, MMU_PROT_W), MMU_E_UNALIGNED); /* before perm */
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x400000, PAGE, MMU_PROT_W), MMU_E_INVALID_PERMISSION);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x400000, PAGE, MMU_PROT_W | MMU_PROT_X), MMU_E_INVALID_PERMISSION);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x300000, PAGE, MMU_PROT_X), MMU_E_INVALID_PERMISSION); /* before NOTEXIST */
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x300000, 0x100000, R), MMU_E_NOTEXIST);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x410000, 0xf0000, R), MMU_E_NOTEXIST); /* the hole exactly */
	CHECK(state_same(&sp, &before));
	st_snapshot_free(&before.snap);

	/* Region slots: a full table refuses the cuts that need more, and
	 * takes those that need none (whole regions, or a cut that merges). */
	for (unsigned i = sp.nregions; i < MMU_VM_MAX_REGIONS; i++)
		CHECK_OK(mmu_vm_region_add(&sp, 0x1000000 + i * 0x10000, 2 * PAGE, RW, MMU_VM_ANON, 0));
	state_take(&sp, &before);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x404000, PAGE, R), MMU_E_NOSPACE);   /* two more */
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x400000, PAGE, R), MMU_E_NOSPACE);   /* one more */
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x40f000, 0xf2000, R), MMU_E_NOSPACE); /* one at each edge */
	CHECK_ERR(mmu_vm_region_protect(&sp, 0x504000, PAGE, RW | MMU_PROT_X), MMU_E_NOSPACE);
	CHECK(state_same(&sp, &before));
	CHECK_EQ(uw(&sp, 0, 0x404000, 2), R_OK); /* still writable */
	st_snapshot_free(&before.snap);
	CHECK_OK(mmu_vm_region_protect(&sp, 0x404000, PAGE, RW)); /* the same: no cut left */
	CHECK_EQ(sp.nregions, MMU_VM_MAX_REGIONS);
	CHECK_OK(mmu_vm_region_protect(&sp, 0x400000, 0x10000, R));
	CHECK_EQ(sp.nregions, MMU_VM_MAX_REGIONS);
	CHECK_EQ(uw(&sp, 0, 0x404000, 3), 0x1000 | ST_PF_P | ST_PF_W | ST_PF_U);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
	st_check_sanitizer(vt_sim);
}

/* Splits at the edges, only the covered parts changed, holes ignored,
 * merged back when protected back; a stack's pieces keep its limit. */
static void test_split(void)
{
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add(&sp, 0x400000, 0x10000, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&sp, 0x420000, 0x4000, RX, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_protect(&sp, 0x404000, 0x2000, R));
	CHECK_EQ(sp.nregions, 4);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x403000)->prot, RW);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x403000)->len, 0x4000);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x404000)->prot, R);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x405000)->start, 0x404000);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x405000)->len, 0x2000);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x406000)->prot, RW);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x40f000)->start, 0x406000);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x420000)->prot, RX);
	/* Across the hole: the end of one region, the start of the next. */
	CHECK_OK(mmu_vm_region_protect(&sp, 0x40e000, 0x14000, RW | MMU_PROT_X));
	CHECK_EQ(sp.nregions, 6);
	CHECK(!mmu_vm_region_at(&sp, 0x410000));
	CHECK_EQ(mmu_vm_region_at(&sp, 0x40d000)->prot, RW);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x40e000)->prot, RW | MMU_PROT_X);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x421000)->prot, RW | MMU_PROT_X);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x422000)->prot, RX);
	CHECK_EQ(mmu_vm_region_at(&sp, 0x422000)->start, 0x422000);
	/* Back as they were: the pieces merge again. */
	CHECK_OK(mmu_vm_region_protect(&sp, 0x420000, 0x2000, RX));
	CHECK_OK(mmu_vm_region_protect(&sp, 0x400000, 0x10000, RW));
	CHECK_EQ(sp.nregions, 2);
	CHECK_EQ(sp.region[0].start, 0x400000);
	CHECK_EQ(sp.region[0].len, 0x10000);
	CHECK_EQ(sp.region[1].start, 0x420000);
	CHECK_EQ(sp.region[1].len, 0x4000);
	CHECK_EQ(sp.region[1].prot, RX);
	/* Regions side by side that agree merge too; the one past the end
	 * (RX) does not. */
	CHECK_OK(mmu_vm_region_add(&sp, 0x410000, 0x10000, R, MMU_VM_ANON, 0));
	CHECK_EQ(sp.nregions, 3);
	CHECK_OK(mmu_vm_region_protect(&sp, 0x410000, 0x10000, RW));
	CHECK_EQ(sp.nregions, 2);
	CHECK_EQ(sp.region[0].len, 0x20000);

	/* A stack of max 2M, cut in three: all stacks, the same growth limit
	 * (end - max); only the lowest grows, with its own permissions. */
	st_load(vt_sim, 0, &sp.tree);
	CHECK_OK(mmu_vm_region_add(&sp, 0x40000000, 0x10000, RW, MMU_VM_STACK, 2 * MB));
	CHECK_OK(mmu_vm_region_protect(&sp, 0x40004000, 0x4000, R));
	const struct mmu_vm_region *lo = mmu_vm_region_at(&sp, 0x40000000), *mid = mmu_vm_region_at(&sp, 0x40004000),
				   *hi = mmu_vm_region_at(&sp, 0x40008000);
	CHECK(lo && mid && hi && lo != mid && mid != hi);
	CHECK_EQ(lo->kind, MMU_VM_STACK);
	CHECK_EQ(mid->kind, MMU_VM_STACK);
	CHECK_EQ(hi->kind, MMU_VM_STACK);
	CHECK_EQ(lo->start + lo->len - lo->max, 0x40010000 - 2 * MB);
	CHECK_EQ(mid->start + mid->len - mid->max, 0x40010000 - 2 * MB);
	CHECK_EQ(hi->max, 2 * MB);
	CHECK_EQ(uw(&sp, 0, 0x40005000, 1), 0x1000 | ST_PF_W | ST_PF_U); /* read-only piece: demand refused */
	CHECK_EQ(ur(&sp, 0, 0x40005000), 0);
	CHECK_EQ(uw(&sp, 0, 0x3fe10000, 1), R_OK); /* end - max exactly */
	CHECK_EQ(vt_last, MMU_VM_STACK_GROWN);
	CHECK_EQ(uw(&sp, 0, 0x3fe0f000, 1), 0x1000 | ST_PF_W | ST_PF_U);
	/* The lowest piece read-only: growth maps read-only pages. */
	CHECK_OK(mmu_vm_region_protect(&sp, 0x3fe10000, 0x1f4000, R));
	CHECK_EQ(ur(&sp, 0, 0x3fe10000), 1);
	CHECK_OK(mmu_vm_region_remove(&sp, 0x3fe10000, PAGE));
	CHECK_EQ(uw(&sp, 0, 0x3fe10000, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_EQ(ur(&sp, 0, 0x3fe10000), 0); /* regrows, read-only */
	CHECK_EQ(vt_last, MMU_VM_STACK_GROWN);
	/* Back to one stack region. */
	CHECK_OK(mmu_vm_region_protect(&sp, 0x3fe10000, 0x200000, RW));
	const struct mmu_vm_region *s = mmu_vm_region_at(&sp, 0x40000000);
	CHECK_EQ(s->start, 0x3fe10000);
	CHECK_EQ(s->len, 2 * MB);
	CHECK_EQ(s->max, 2 * MB);
	CHECK_EQ(sp.nregions, 3);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	st_check_sanitizer(vt_sim);
}

/* W and X removed: one flush, every CPU faults at once with the exact
 * error code; frames and references stay; the fault handler refuses. */
static void test_downgrade(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add(&sp, 0x400000, 0x10000, RW | MMU_PROT_X, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &sp.tree);
	st_load(vt_sim, 1, &sp.tree);
	for (mmu_vaddr_t va = 0x400000; va < 0x404000; va += PAGE)
		CHECK_EQ(uw(&sp, 0, va, (uint8_t)(va >> 12)), R_OK);
	for (mmu_vaddr_t va = 0x400000; va < 0x404000; va += PAGE) {
		CHECK_EQ(raw(1, SIM_WRITE, va), ST_OK); /* both CPUs cache it writable */
		CHECK_EQ(raw(1, SIM_EXEC, va), ST_OK);
	}
	mmu_pa_t pa = pa_of(&sp, 0x401000);
	uint64_t frames = sim_frames_in_use(vt_sim);
	(void)mmu_vm_counters_take(&sp);
	(void)mmu_counters_take(vt_mmu);
	CHECK_OK(mmu_vm_region_protect(&sp, 0x400000, 0x10000, RX));
	struct mmu_counters tc = mmu_counters_take(vt_mmu);
	CHECK_EQ(tc.ipis, 1);
	CHECK_EQ(tc.invlpg, 8); /* four pages on two CPUs */
	CHECK_EQ(tc.full, 0);
	for (unsigned cpu = 0; cpu < 2; cpu++) {
		CHECK_EQ(raw(cpu, SIM_WRITE, 0x401000), ST_PF_P | ST_PF_W | ST_PF_U);
		CHECK_EQ(raw(cpu, SIM_EXEC, 0x401000), ST_OK);
	}
	CHECK_EQ(pa_of(&sp, 0x401000).bits, pa.bits);
	CHECK_EQ(refs(&sp, 0x401000), 1);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames);
	CHECK_EQ(uw(&sp, 1, 0x401000, 9), 0x1000 | ST_PF_P | ST_PF_W | ST_PF_U);
	CHECK_EQ(vt_last, MMU_VM_SEGV);
	CHECK_EQ(uw(&sp, 1, 0x408000, 9), 0x1000 | ST_PF_W | ST_PF_U); /* not mapped yet: no demand */
	CHECK_EQ(ur(&sp, 1, 0x401000), 0x5a);
	CHECK(counters_are(&sp, 0, 0, 0, 0, 2));
	/* X removed: the same, for fetches. */
	(void)mmu_counters_take(vt_mmu);
	CHECK_OK(mmu_vm_region_protect(&sp, 0x400000, 0x4000, R));
	tc = mmu_counters_take(vt_mmu);
	CHECK_EQ(tc.ipis, 1);
	CHECK_EQ(tc.invlpg, 8);
	for (unsigned cpu = 0; cpu < 2; cpu++)
		CHECK_EQ(raw(cpu, SIM_EXEC, 0x402000), ST_PF_P | ST_PF_ID | ST_PF_U);
	CHECK_EQ(uaccess(&sp, 1, SIM_EXEC, 0x403000, 0, NULL), 0x1000 | ST_PF_P | ST_PF_ID | ST_PF_U);
	CHECK_EQ(leaf_of(&sp, 0x402000) & (MMU_PTE_RW | MMU_PTE_XD), MMU_PTE_XD);
	/* Nothing to downgrade: no flush at all. */
	(void)mmu_counters_take(vt_mmu);
	CHECK_OK(mmu_vm_region_protect(&sp, 0x400000, 0x4000, R));
	tc = mmu_counters_take(vt_mmu);
	CHECK_EQ(tc.ipis + tc.invlpg + tc.full, 0);
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
	st_check_sanitizer(vt_sim);
}

/* W added: pages stay read-only; a write takes the page over (alone) or
 * copies it (shared after fork), so both processes share until a write. */
static void test_upgrade_cow(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space p, c;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_region_add(&p, 0x400000, 0x4000, RW, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &p.tree);
	CHECK_EQ(uw(&p, 0, 0x400000, 0x11), R_OK);
	CHECK_EQ(uw(&p, 0, 0x401000, 0x22), R_OK);
	mmu_pa_t pa0 = pa_of(&p, 0x400000), pa1 = pa_of(&p, 0x401000);
	/* Alone: read-only, writable again, the write takes the frame over. */
	CHECK_OK(mmu_vm_region_protect(&p, 0x400000, PAGE, R));
	CHECK_OK(mmu_vm_region_protect(&p, 0x400000, PAGE, RW));
	CHECK(!(leaf_of(&p, 0x400000) & MMU_PTE_RW));
	CHECK_EQ(uw(&p, 0, 0x400000, 0x12), R_OK);
	CHECK_EQ(vt_last, MMU_VM_COW);
	CHECK_EQ(pa_of(&p, 0x400000).bits, pa0.bits);
	CHECK(leaf_of(&p, 0x400000) & MMU_PTE_RW);
	CHECK_EQ(p.nregions, 1);

	/* Read-only across a fork; writable again in both: still shared. */
	CHECK_OK(mmu_vm_region_protect(&p, 0x400000, 0x4000, R));
	uint64_t frames = sim_frames_in_use(vt_sim);
	CHECK_OK(mmu_vm_fork(&p, &c));
	CHECK_OK(mmu_vm_region_protect(&p, 0x400000, 0x4000, RW));
	CHECK_OK(mmu_vm_region_protect(&c, 0x400000, 0x4000, RW));
	CHECK_EQ(pa_of(&c, 0x400000).bits, pa0.bits);
	CHECK_EQ(refs(&p, 0x400000), 2);
	CHECK_EQ(refs(&p, 0x401000), 2);
	CHECK(!(leaf_of(&p, 0x400000) & MMU_PTE_RW) && !(leaf_of(&c, 0x400000) & MMU_PTE_RW));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames);
	st_load(vt_sim, 1, &c.tree);
	CHECK_EQ(uw(&c, 1, 0x400000, 0x33), R_OK);
	CHECK_EQ(vt_last, MMU_VM_COW);
	CHECK(pa_of(&c, 0x400000).bits != pa0.bits);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames + 1);
	CHECK_EQ(ur(&p, 0, 0x400000), 0x12);
	CHECK_EQ(ur(&c, 1, 0x400000), 0x33);
	CHECK_EQ(refs(&p, 0x400000), 1);
	CHECK_EQ(uw(&p, 0, 0x400000, 0x44), R_OK); /* alone now: take-over */
	CHECK_EQ(pa_of(&p, 0x400000).bits, pa0.bits);
	/* The other page still shared: the parent's write copies. */
	CHECK_EQ(uw(&p, 0, 0x401000, 0x55), R_OK);
	CHECK(pa_of(&p, 0x401000).bits != pa1.bits);
	CHECK_EQ(ur(&c, 1, 0x401000), 0x22);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames + 2);
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
	st_check_sanitizer(vt_sim);
}

/* X added: XD cleared without a flush; a CPU that cached the old entry
 * faults once, and the handler finds the tables allow it (spurious). */
static void test_exec(void)
{
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add(&sp, 0x400000, 0x4000, RW, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &sp.tree);
	st_load(vt_sim, 1, &sp.tree);
	CHECK_EQ(uw(&sp, 0, 0x400000, 0xc3), R_OK);
	CHECK_EQ(ur(&sp, 1, 0x400000), 0xc3);
	CHECK_EQ(uaccess(&sp, 1, SIM_EXEC, 0x400000, 0, NULL), 0x1000 | ST_PF_P | ST_PF_ID | ST_PF_U);
	(void)mmu_vm_counters_take(&sp);
	CHECK_EQ(ur(&sp, 1, 0x400000), 0xc3); /* cached again on CPU 1 */
	(void)mmu_counters_take(vt_mmu);
	CHECK_OK(mmu_vm_region_protect(&sp, 0x400000, 0x4000, RW | MMU_PROT_X));
	struct mmu_counters tc = mmu_counters_take(vt_mmu);
	CHECK_EQ(tc.ipis + tc.invlpg + tc.full, 0);
	mmu_pte_t e = leaf_of(&sp, 0x400000);
	CHECK(!(e & MMU_PTE_XD) && (e & MMU_PTE_RW)); /* W kept: it was there */
	CHECK_EQ(uaccess(&sp, 1, SIM_EXEC, 0x400000, 0, NULL), R_OK);
	CHECK_EQ(vt_last, MMU_VM_SPURIOUS);
	CHECK_EQ(uaccess(&sp, 0, SIM_EXEC, 0x400000, 0, NULL), R_OK);
	CHECK(counters_are(&sp, 0, 0, 0, 2, 0)); /* both CPUs held the XD entry */
	/* Demand pages in the executable part come without XD. */
	CHECK_EQ(uaccess(&sp, 1, SIM_EXEC, 0x402000, 0, NULL), R_OK);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK(!(leaf_of(&sp, 0x402000) & MMU_PTE_XD));
	/* And X off again. */
	CHECK_OK(mmu_vm_region_protect(&sp, 0x400000, 0x4000, RW));
	CHECK_EQ(raw(1, SIM_EXEC, 0x402000), ST_PF_P | ST_PF_ID | ST_PF_U);
	CHECK_EQ(raw(0, SIM_WRITE, 0x400000), ST_OK);
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&sp));
	st_check_sanitizer(vt_sim);
}

/* KPTI: user mode runs on the shadow, which shares the page tables: a
 * downgrade reaches the CPU running it; the audit stays clean. */
static void test_kpti(void)
{
	struct mmu_kpti t;
	const struct mmu_kpti_range none[1] = {{0, 0}};
	CHECK_OK(mmu_kpti_init(vt_mmu, &t, none, 0));
	struct mmu_vm_space sp, c;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add(&sp, 0x400000, 0x4000, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_kpti_enable(&sp, &t));
	st_load(vt_sim, 0, &sp.tree);
	st_load(vt_sim, 1, &sp.tree);
	sim_write_cr3(vt_sim, 1, mmu_vm_user_cr3(&sp)); /* CPU 1 in user mode */
	CHECK_EQ(uw(&sp, 1, 0x400000, 0x11), R_OK);
	CHECK_EQ(raw(1, SIM_WRITE, 0x400000), ST_OK);
	CHECK_OK(mmu_vm_region_protect(&sp, 0x400000, 0x4000, R));
	CHECK_EQ(raw(1, SIM_WRITE, 0x400000), ST_PF_P | ST_PF_W | ST_PF_U);
	CHECK_EQ(mmu_vm_kpti_audit(&sp, NULL, NULL), 0);
	CHECK_OK(mmu_vm_fork(&sp, &c));
	CHECK_OK(mmu_vm_region_protect(&sp, 0x400000, 0x4000, RW));
	CHECK_EQ(raw(1, SIM_READ, 0x400000), ST_OK);
	CHECK_EQ(uw(&sp, 1, 0x400000, 0x22), R_OK); /* shared with the child: a copy */
	CHECK_EQ(vt_last, MMU_VM_COW);
	CHECK(pa_of(&sp, 0x400000).bits != pa_of(&c, 0x400000).bits);
	CHECK_EQ(mmu_vm_kpti_audit(&sp, NULL, NULL), 0);
	CHECK_EQ(mmu_vm_kpti_audit(&c, NULL, NULL), 0);
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_OK(mmu_vm_space_exit(&c));
	mmu_kpti_fini(&t);
	st_check_sanitizer(vt_sim);
}

static void all_tests(const struct sim_config *cfg)
{
	test_errors();
	test_split();
	test_downgrade();
	test_upgrade_cow();
	test_exec();
	if (!cfg->pcide) /* KPTI is refused with PCIDs */
		test_kpti();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
