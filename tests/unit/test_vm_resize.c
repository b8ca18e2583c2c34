/* SPDX-License-Identifier: MIT */
/* mmu_vm_region_resize (brk) on the software machine: every error in its
 * order with nothing changed, growth up to the next region and to the
 * guard gap below a stack, shrinking that frees the pages and tables cut
 * off with one flush seen by every CPU, a stack keeping its growth limit,
 * frames shared after fork. 4 and 5 levels, PCIDs off and on; frames and
 * tables back to their starting figures, the TLB sanitizer silent. */
#include "vmtest.h"

#define RW (MMU_PROT_R | MMU_PROT_W)
#define HEAP 0x10000000ull
#define STACK_TOP 0x20000000ull

/* A heap of 4 pages at HEAP, an anon region at HEAP + 1M, a stack of 64K
 * ending at STACK_TOP; loaded on both CPUs. */
static void brk_space(struct mmu_vm_space *sp)
{
	CHECK_OK(mmu_vm_space_create(vt_mmu, sp));
	CHECK_OK(mmu_vm_region_add(sp, HEAP, 4 * PAGE, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(sp, HEAP + MB, 2 * PAGE, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(sp, STACK_TOP - 0x10000, 0x10000, RW, MMU_VM_STACK, 4 * MB));
	st_load(vt_sim, 0, &sp->tree);
	st_load(vt_sim, 1, &sp->tree);
}

static void brk_space_exit(struct mmu_vm_space *sp)
{
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(sp));
}

static void test_errors(void)
{
	struct mmu_vm_space sp;
	struct state before;
	mmu_vaddr_t top = 1ull << (mmu_va_bits(vt_mmu->levels) - 1);
	brk_space(&sp);
	CHECK_EQ(uw(&sp, 0, HEAP, 1), R_OK);
	state_take(&sp, &before);
	CHECK_ERR(mmu_vm_region_resize(&sp, HEAP, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_resize(&sp, 0, PAGE), MMU_E_INVALID); /* below the min address */
	CHECK_ERR(mmu_vm_region_resize(&sp, HEAP, top - HEAP + PAGE), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_resize(&sp, HEAP, ~0ull - PAGE + 1), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_resize(&sp, 0xffffc80000000000ull, PAGE), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_resize(&sp, HEAP + 0x800, PAGE), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_region_resize(&sp, HEAP, PAGE + 1), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_region_resize(&sp, HEAP + PAGE, PAGE), MMU_E_NOTEXIST); /* inside, not its start */
	CHECK_ERR(mmu_vm_region_resize(&sp, HEAP - PAGE, PAGE), MMU_E_NOTEXIST);
	CHECK_ERR(mmu_vm_region_resize(&sp, HEAP, MB + PAGE), MMU_E_DUPLICATED); /* over the next */
	CHECK_ERR(mmu_vm_region_resize(&sp, HEAP, 2 * MB), MMU_E_DUPLICATED);
	/* The region below the stack: not within the guard gap of it. */
	mmu_vaddr_t stack = STACK_TOP - 0x10000;
	CHECK_ERR(mmu_vm_region_resize(&sp, HEAP + MB, stack - (HEAP + MB) - MMU_VM_GUARD_GAP + PAGE),
		  MMU_E_DUPLICATED);
	CHECK(state_same(&sp, &before));
	st_snapshot_free(&before.snap);
	CHECK_OK(mmu_vm_region_resize(&sp, HEAP + MB, stack - (HEAP + MB) - MMU_VM_GUARD_GAP));
	CHECK_EQ(sp.region[1].len, stack - (HEAP + MB) - MMU_VM_GUARD_GAP);
	CHECK_OK(mmu_vm_region_resize(&sp, HEAP, 4 * PAGE)); /* the same length: nothing to do */
	CHECK(counters_are(&sp, 1, 0, 0, 0, 0));
	brk_space_exit(&sp);
}

/* Growth maps nothing; the new pages are demand-zero; up to the next. */
static void test_grow(void)
{
	struct mmu_vm_space sp;
	brk_space(&sp);
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	CHECK_EQ(uw(&sp, 0, HEAP + 3 * PAGE, 0x33), R_OK);
	CHECK_EQ(uw(&sp, 0, HEAP + 4 * PAGE, 0x44), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_OK(mmu_vm_region_resize(&sp, HEAP, MB)); /* exactly up to the next region */
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 1);
	CHECK_EQ(sp.region[0].len, MB);
	CHECK_EQ(uw(&sp, 1, HEAP + 4 * PAGE, 0x44), R_OK);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK_EQ(ur(&sp, 1, HEAP + MB - 1), 0);
	CHECK_EQ(ur(&sp, 0, HEAP + 3 * PAGE), 0x33);
	CHECK(counters_are(&sp, 3, 0, 0, 0, 1));
	brk_space_exit(&sp);
}

/* Shrinking frees the pages and the tables cut off, with one flush: the
 * other CPU, which read them a moment ago, faults now (no stale entry). */
static void test_shrink(void)
{
	struct mmu_vm_space sp;
	brk_space(&sp);
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	/* 3M: the heap spans two page tables, the second emptied below. */
	CHECK_OK(mmu_vm_region_remove(&sp, HEAP + MB, 2 * PAGE));
	CHECK_OK(mmu_vm_region_resize(&sp, HEAP, 3 * MB));
	for (mmu_vaddr_t va = HEAP; va < HEAP + 3 * MB; va += 0x40000)
		CHECK_EQ(uw(&sp, 0, va, 0x5a), R_OK);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 12);
	for (mmu_vaddr_t va = HEAP; va < HEAP + 3 * MB; va += 0x40000)
		CHECK_EQ(ur(&sp, 1, va), 0x5a);
	uint64_t tables = st_count_tables(vt_sim, &sp.tree), in_use = sim_tables_in_use(vt_sim);
	(void)mmu_counters_take(vt_mmu);
	CHECK_OK(mmu_vm_region_resize(&sp, HEAP, 0x40000 + PAGE));
	struct mmu_counters c = mmu_counters_take(vt_mmu);
	CHECK_EQ(c.ipis, 1); /* one batch: one shootdown to CPU 1 */
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 2);
	CHECK_EQ(st_count_tables(vt_sim, &sp.tree), tables - 1); /* the second page table went */
	CHECK_EQ(sim_tables_in_use(vt_sim), in_use - 1);
	CHECK(in_use > tables0);
	CHECK_EQ(uw(&sp, 1, HEAP + 0x80000, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_EQ(uaccess(&sp, 1, SIM_READ, HEAP + 0x40000 + PAGE, 0, NULL), 0x1000 | ST_PF_U);
	CHECK_EQ(ur(&sp, 1, HEAP + 0x40000), 0x5a);
	CHECK(counters_are(&sp, 12, 0, 0, 0, 2));
	brk_space_exit(&sp);
}

/* A stack's top moves, its growth limit (end - max) stays. */
static void test_stack(void)
{
	struct mmu_vm_space sp;
	brk_space(&sp);
	mmu_vaddr_t start = STACK_TOP - 0x10000, limit = STACK_TOP - 4 * MB;
	CHECK_OK(mmu_vm_region_resize(&sp, start, 0x8000));
	CHECK_EQ(sp.region[2].start + sp.region[2].len - sp.region[2].max, limit);
	CHECK_OK(mmu_vm_region_resize(&sp, start, 0x20000));
	CHECK_EQ(sp.region[2].start + sp.region[2].len - sp.region[2].max, limit);
	CHECK_EQ(uw(&sp, 0, limit, 1), R_OK);
	CHECK_EQ(vt_last, MMU_VM_STACK_GROWN);
	CHECK_EQ(uw(&sp, 0, limit - PAGE, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK(counters_are(&sp, 0, 0, 1, 0, 1));
	brk_space_exit(&sp);
}

/* After fork: the child's shrink drops its references only. */
static void test_shared(void)
{
	struct mmu_vm_space sp, child;
	brk_space(&sp);
	CHECK_EQ(uw(&sp, 0, HEAP + 2 * PAGE, 0x21), R_OK);
	CHECK_OK(mmu_vm_fork(&sp, &child));
	CHECK_EQ(refs(&sp, HEAP + 2 * PAGE), 2);
	CHECK_OK(mmu_vm_region_resize(&child, HEAP, PAGE));
	CHECK_EQ(refs(&sp, HEAP + 2 * PAGE), 1);
	CHECK_EQ(ur(&sp, 0, HEAP + 2 * PAGE), 0x21);
	CHECK_OK(mmu_vm_space_exit(&child));
	brk_space_exit(&sp);
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_errors();
	test_grow();
	test_shrink();
	test_stack();
	test_shared();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
