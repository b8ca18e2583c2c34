/* SPDX-License-Identifier: MIT */
/* Process spaces on the software machine, part 1: regions (errors,
 * removal with their pages and tables) and every branch of the fault
 * decision table (include/mmu64/vm.h), refused faults changing nothing.
 * Part 2 (COW, fork, exit, copy-to-user, NOMEM) is test_vm_fork.c. 4 and 5
 * levels, PCIDs off and on; the TLB sanitizer stays silent. */
#include "vmtest.h"

/* ---- regions ---- */

static void test_regions(void)
{
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	const unsigned rw = MMU_PROT_R | MMU_PROT_W;
	mmu_vaddr_t top = 1ull << (mmu_va_bits(vt_mmu->levels) - 1);
	CHECK_ERR(mmu_vm_region_add(&sp, 0, PAGE, rw, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x800, PAGE, rw, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, top, PAGE, rw, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, top - PAGE, 2 * PAGE, rw, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, ~0ull - PAGE + 1, PAGE, rw, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x10000, 0, rw, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x10000, ~0ull, rw, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x10000, PAGE, rw, (enum mmu_vm_kind)7, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x10000, PAGE, rw, MMU_VM_ANON, MB), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x10000, 2 * PAGE, rw, MMU_VM_STACK, PAGE), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x10000, PAGE, 0x10 | rw, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x10800, PAGE, rw, MMU_VM_ANON, 0), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x10000, 0x800, rw, MMU_VM_ANON, 0), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x10000, PAGE, rw, MMU_VM_STACK, PAGE + 0x800), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x10000, PAGE, MMU_PROT_W, MMU_VM_ANON, 0), MMU_E_INVALID_PERMISSION);
	CHECK_OK(mmu_vm_region_add(&sp, 0x10000, 0x10000, rw, MMU_VM_ANON, 0));
	CHECK_ERR(mmu_vm_region_add(&sp, 0x1f000, 0x2000, rw, MMU_VM_ANON, 0), MMU_E_DUPLICATED);
	CHECK_ERR(mmu_vm_region_add(&sp, 0x8000, 0x9000, rw, MMU_VM_ANON, 0), MMU_E_DUPLICATED);
	CHECK_OK(mmu_vm_region_add(&sp, 0x20000, PAGE, MMU_PROT_R, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&sp, 0xf000, PAGE, rw | MMU_PROT_X, MMU_VM_ANON, 0));
	CHECK_EQ(sp.nregions, 3);
	CHECK_EQ(sp.region[0].start, 0xf000);
	CHECK_EQ(sp.region[2].start, 0x20000);
	CHECK_OK(mmu_vm_region_add(&sp, top - 0x10000, 0x10000, rw, MMU_VM_STACK, 0));
	CHECK_EQ(sp.region[3].max, MMU_VM_STACK_MAX_DEFAULT);
	/* A full table: NOMEM. */
	for (unsigned i = sp.nregions; i < MMU_VM_MAX_REGIONS; i++)
		CHECK_OK(mmu_vm_region_add(&sp, 0x100000 + i * 0x10000, PAGE, rw, MMU_VM_ANON, 0));
	CHECK_ERR(mmu_vm_region_add(&sp, 0x40000000, PAGE, rw, MMU_VM_ANON, 0), MMU_E_NOSPACE);
	/* Removal: the middle of a region needs a slot. */
	CHECK_ERR(mmu_vm_region_remove(&sp, 0x14000, PAGE), MMU_E_NOSPACE);
	CHECK_OK(mmu_vm_region_remove(&sp, 0x100000 + 5 * 0x10000, PAGE));
	CHECK_ERR(mmu_vm_region_remove(&sp, 0x100000 + 5 * 0x10000, PAGE), MMU_E_NOTEXIST);
	CHECK_ERR(mmu_vm_region_remove(&sp, 0x0, PAGE), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_remove(&sp, 0x14800, PAGE), MMU_E_UNALIGNED);
	CHECK_OK(mmu_vm_region_remove(&sp, 0x14000, PAGE));
	CHECK(mmu_vm_region_at(&sp, 0x13000) && mmu_vm_region_at(&sp, 0x15000) && !mmu_vm_region_at(&sp, 0x14000));
	CHECK_EQ(mmu_vm_region_at(&sp, 0x15000)->len, 0xb000);
	/* Across regions: both cut, the hole between ignored. */
	CHECK_OK(mmu_vm_region_remove(&sp, 0x1f000, 0x2000));
	CHECK(!mmu_vm_region_at(&sp, 0x20000) && mmu_vm_region_at(&sp, 0x1e000));
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_EQ(mmu_user_tables(vt_mmu), 0);
}

/* Removing part of a region frees its pages and the tables emptied. */
static void test_region_remove_pages(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add(&sp, 0x400000, 4 * MB, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &sp.tree);
	for (mmu_vaddr_t va = 0x400000; va < 0x800000; va += 0x10000)
		CHECK_EQ(uw(&sp, 0, va, 1), R_OK);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 64);
	/* The upper 3M: one page table emptied, one kept. */
	CHECK_OK(mmu_vm_region_remove(&sp, 0x500000, 3 * MB));
	uint64_t left = 0;
	for (mmu_vaddr_t va = 0x400000; va < 0x800000; va += 0x10000) {
		struct mmu_translation t;
		left += mmu_walk(&sp.tree, va, &t) == MMU_OK;
	}
	CHECK_EQ(left, 16);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + left);
	CHECK_EQ(uw(&sp, 0, 0x7f0000, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_EQ(st_count_tables(vt_sim, &sp.tree), vt_mmu->levels);
	/* Many pages (more than a zap chunk) in one removal. */
	CHECK_OK(mmu_vm_region_add(&sp, 0x10000000, MB, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	for (mmu_vaddr_t va = 0x10000000; va < 0x10000000 + MB; va += PAGE)
		CHECK_EQ(uw(&sp, 0, va, 2), R_OK);
	CHECK_OK(mmu_vm_region_remove(&sp, 0x10000000, MB));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + left);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
	st_check_sanitizer(vt_sim);
}

/* Removing the top of a stack keeps its growth limit (end - max): the
 * page that was beyond max before the removal still is after it, and the
 * one at the limit still grows. */
static void test_region_remove_stack_limit(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	/* [0x20000000, 0x20010000), max 1M: the limit is 0x1ff10000. */
	CHECK_OK(mmu_vm_region_add(&sp, 0x20000000, 0x10000, MMU_PROT_R | MMU_PROT_W, MMU_VM_STACK, MB));
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(uw(&sp, 0, 0x1ff0f000, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_OK(mmu_vm_region_remove(&sp, 0x20008000, 0x8000));
	CHECK_EQ(sp.nregions, 1);
	CHECK_EQ(sp.region[0].len, 0x8000);
	CHECK_EQ(sp.region[0].start + sp.region[0].len - sp.region[0].max, 0x1ff10000);
	CHECK_EQ(uw(&sp, 0, 0x1ff0f000, 2), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_EQ(uw(&sp, 0, 0x1ff10000, 3), R_OK);
	CHECK_EQ(vt_last, MMU_VM_STACK_GROWN);
	/* A cut in the middle: the lower piece keeps the limit, the upper
	 * one its end and max. */
	CHECK_OK(mmu_vm_region_remove(&sp, 0x1ff20000, 0x10000));
	CHECK_EQ(sp.nregions, 2);
	CHECK_EQ(sp.region[0].start + sp.region[0].len - sp.region[0].max, 0x1ff10000);
	CHECK_EQ(sp.region[1].start + sp.region[1].len - sp.region[1].max, 0x1ff10000);
	CHECK(counters_are(&sp, 0, 0, 1, 0, 2));
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
	st_check_sanitizer(vt_sim);
}

/* ---- the decision table ---- */

/* The space of the decision tests: rw, r and rx anon regions and a rw
 * stack of max 2M, loaded on CPU 0. */
static void decision_space(struct mmu_vm_space *sp)
{
	const unsigned r = MMU_PROT_R, rw = MMU_PROT_R | MMU_PROT_W;
	CHECK_OK(mmu_vm_space_create(vt_mmu, sp));
	CHECK_OK(mmu_vm_region_add(sp, 0x400000, 0x10000, rw, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(sp, 0x500000, 0x1000, r, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(sp, 0x600000, 0x1000, r | MMU_PROT_X, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(sp, 0x40000000, 0x10000, rw, MMU_VM_STACK, 2 * MB));
	st_load(vt_sim, 0, &sp->tree);
}

static void decision_space_exit(struct mmu_vm_space *sp, uint64_t frames0, uint64_t tables0)
{
	unload(0);
	CHECK_OK(mmu_vm_space_exit(sp));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
	st_check_sanitizer(vt_sim);
}

/* Corrupt, kernel bug, demand, spurious. */
static void test_decisions_resolved(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space sp;
	struct state before;
	decision_space(&sp);

	/* RSVD: corruption, whatever else; a supervisor fault outside
	 * copy-to-user: a kernel bug. Nothing changes, nothing counted. */
	state_take(&sp, &before);
	struct mmu_vm_fault f = mmu_vm_fault_decode(ST_PF_P | ST_PF_RSVD | ST_PF_U, 0x400000, MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_handle_fault(&sp, &f), MMU_VM_CORRUPT);
	f = mmu_vm_fault_decode(ST_PF_W, 0x400000, MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_handle_fault(&sp, &f), MMU_VM_KERNEL_BUG);
	CHECK(state_same(&sp, &before));
	CHECK(counters_are(&sp, 0, 0, 0, 0, 0));
	st_snapshot_free(&before.snap);

	/* Demand: a zeroed frame, region permissions plus U, one reference. */
	CHECK_EQ(ur(&sp, 0, 0x400123), 0);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	struct mmu_translation t;
	CHECK_OK(mmu_walk(&sp.tree, 0x400000, &t));
	CHECK_EQ(t.prot, MMU_PROT_R | MMU_PROT_W | MMU_PROT_U);
	CHECK_EQ(t.size, MMU_SIZE_4K);
	CHECK_EQ(refs(&sp, 0x400000), 1);
	CHECK_EQ(uaccess(&sp, 0, SIM_EXEC, 0x600000, 0, NULL), R_OK);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK(counters_are(&sp, 2, 0, 0, 0, 0));

	/* Spurious: the tables allow it already (a fault reported late). */
	state_take(&sp, &before);
	f = mmu_vm_fault_decode(ST_PF_W | ST_PF_U, 0x400010, MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_handle_fault(&sp, &f), MMU_VM_SPURIOUS);
	f = mmu_vm_fault_decode(ST_PF_P | ST_PF_ID | ST_PF_U, 0x600000, MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_handle_fault(&sp, &f), MMU_VM_SPURIOUS);
	CHECK(state_same(&sp, &before));
	CHECK(counters_are(&sp, 0, 0, 0, 2, 0));
	st_snapshot_free(&before.snap);
	decision_space_exit(&sp, frames0, tables0);
}

static void test_decisions_refused(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space sp;
	struct state before;
	decision_space(&sp);
	CHECK_EQ(uaccess(&sp, 0, SIM_WRITE, 0x400000, 0, NULL), R_OK);

	/* Refused, each changing nothing: outside every region; a write to a
	 * never-writable region, absent and present; a fetch from a
	 * non-executable one; a kernel-half or non-canonical address; a
	 * protection-key or shadow-stack fault; below an anon region. */
	CHECK_EQ(ur(&sp, 0, 0x500000), 0);
	CHECK_EQ(uaccess(&sp, 0, SIM_EXEC, 0x600000, 0, NULL), R_OK);
	CHECK(counters_are(&sp, 3, 0, 0, 0, 0));
	state_take(&sp, &before);
	CHECK_EQ(uw(&sp, 0, 0x410000, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_EQ(vt_last, MMU_VM_SEGV);
	CHECK_EQ(uw(&sp, 0, 0x501000 - 1, 1), 0x1000 | ST_PF_P | ST_PF_W | ST_PF_U);
	CHECK_EQ(uw(&sp, 0, 0x600000, 1), 0x1000 | ST_PF_P | ST_PF_W | ST_PF_U);
	CHECK_EQ(uaccess(&sp, 0, SIM_EXEC, 0x400000, 0, NULL), 0x1000 | ST_PF_P | ST_PF_ID | ST_PF_U);
	CHECK_EQ(uaccess(&sp, 0, SIM_EXEC, 0x401000, 0, NULL), 0x1000 | ST_PF_ID | ST_PF_U);
	CHECK_EQ(uaccess(&sp, 0, SIM_READ, 0x3ff000, 0, NULL), 0x1000 | ST_PF_U);
	struct mmu_vm_fault f = mmu_vm_fault_decode(ST_PF_U, 0xffffc80000000000ull, MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_handle_fault(&sp, &f), MMU_VM_SEGV);
	f = mmu_vm_fault_decode(ST_PF_U, 1ull << 62, MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_handle_fault(&sp, &f), MMU_VM_SEGV);
	f = mmu_vm_fault_decode(ST_PF_P | ST_PF_U | 0x20, 0x400000, MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_handle_fault(&sp, &f), MMU_VM_SEGV);
	f = mmu_vm_fault_decode(ST_PF_P | ST_PF_U | ST_PF_W | 0x40, 0x402000, MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_handle_fault(&sp, &f), MMU_VM_SEGV);
	/* The same refusals from copy-to-user are REFUSED, not counted. */
	f = mmu_vm_fault_decode(ST_PF_W, 0x410000, MMU_VM_FAULT_COPY_USER);
	CHECK_EQ(mmu_vm_handle_fault(&sp, &f), MMU_VM_REFUSED);
	CHECK(state_same(&sp, &before));
	CHECK(counters_are(&sp, 0, 0, 0, 0, 10));
	st_snapshot_free(&before.snap);
	decision_space_exit(&sp, frames0, tables0);
}

static void test_decisions_stack(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	const unsigned rw = MMU_PROT_R | MMU_PROT_W;
	struct mmu_vm_space sp;
	decision_space(&sp);

	/* Stack: inside is demand; below grows within max, page by page. */
	CHECK_EQ(uw(&sp, 0, 0x4000f000, 1), R_OK);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK_EQ(uw(&sp, 0, 0x3ff00000, 2), R_OK);
	CHECK_EQ(vt_last, MMU_VM_STACK_GROWN);
	CHECK_EQ(sp.region[3].start, 0x3ff00000);
	CHECK_EQ(sp.region[3].len, 0x110000);
	CHECK_EQ(uw(&sp, 0, 0x3fe10000, 3), R_OK); /* end - max exactly */
	CHECK_EQ(uw(&sp, 0, 0x3fe0f000, 3), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK(counters_are(&sp, 1, 0, 2, 0, 1));
	/* Fetch below a non-executable stack: refused, not grown. */
	CHECK_EQ(uaccess(&sp, 0, SIM_EXEC, 0x3fe0f000 + 0x10000, 0, NULL), 0x1000 | ST_PF_ID | ST_PF_U);
	CHECK_EQ(sp.region[3].start, 0x3fe10000);
	/* The guard gap: a region 1M below the stack's start blocks growth
	 * into the gap; the page at exactly 1M grows. */
	CHECK_OK(mmu_vm_region_add(&sp, 0x3fc00000, 0x10000, rw, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&sp, 0x50000000, 0x10000, rw, MMU_VM_STACK, 0));
	CHECK_OK(mmu_vm_region_add(&sp, 0x4fe00000, PAGE, rw, MMU_VM_ANON, 0));
	CHECK_EQ(uw(&sp, 0, 0x4ff01000, 1), R_OK);
	CHECK_EQ(vt_last, MMU_VM_STACK_GROWN);
	CHECK_EQ(uw(&sp, 0, 0x4ff00000, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK(counters_are(&sp, 0, 0, 1, 0, 2));
	decision_space_exit(&sp, frames0, tables0);
}

/* Create over a live space is refused: it would lose the root and leave
 * the fork family's list pointing at reinitialised storage. After exit
 * the storage is the caller's again. */
static void test_create_over_live(void)
{
	uint64_t tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space sp, child;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_fork(&sp, &child));
	mmu_pa_t root = sp.tree.root;
	CHECK_ERR(mmu_vm_space_create(vt_mmu, &sp), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_space_create(vt_mmu, &child), MMU_E_INVALID);
	CHECK_EQ(sp.tree.root.bits, root.bits);
	CHECK(sp.family_next == &child && child.family_next == &sp);
	CHECK_OK(mmu_vm_space_exit(&child));
	CHECK(sp.family_next == &sp);
	CHECK_OK(mmu_vm_space_create(vt_mmu, &child));
	CHECK_OK(mmu_vm_space_exit(&child));
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_regions();
	test_region_remove_pages();
	test_region_remove_stack_limit();
	test_decisions_resolved();
	test_decisions_refused();
	test_decisions_stack();
	test_create_over_live();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
