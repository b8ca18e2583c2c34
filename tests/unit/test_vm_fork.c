/* SPDX-License-Identifier: MIT */
/* Process spaces on the software machine, part 2: copy-on-write (copy,
 * take-over, the lazy TLB's spurious fault), fork and exit accounting
 * (frames and tables back to the start, one flush for the parent),
 * copy-to-user, and allocation failure at every allocation point of
 * faults and fork (NOMEM, nothing changed). 4 and 5 levels, PCIDs off and
 * on; the TLB sanitizer stays silent. */
#include "vmtest.h"

/* COW: copy while shared (the flag bits kept, the old translation gone from
 * every CPU before the reference drops), take over when alone, and the
 * lazy TLB after a take-over resolved as a spurious fault. */
static void test_cow(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space p, c;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_region_add(&p, 0x400000, 0x4000, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &p.tree);
	st_load(vt_sim, 1, &p.tree);
	CHECK_EQ(uw(&p, 0, 0x400000, 0x11), R_OK);
	CHECK_EQ(uw(&p, 1, 0x401000, 0x22), R_OK);
	mmu_pte_t leaf0;
	CHECK_OK(mmu_entry(&p.tree, 0x400000, MMU_LEVEL_PT, &leaf0));
	CHECK_OK(mmu_vm_fork(&p, &c));
	CHECK(counters_are(&c, 0, 0, 0, 0, 0));
	mmu_pte_t lp, lc;
	CHECK_OK(mmu_entry(&p.tree, 0x400000, MMU_LEVEL_PT, &lp));
	CHECK_OK(mmu_entry(&c.tree, 0x400000, MMU_LEVEL_PT, &lc));
	CHECK_EQ(lp, leaf0 & ~MMU_PTE_RW);
	CHECK_EQ(lc, lp);
	CHECK_EQ(refs(&p, 0x400000), 2);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 2);
	/* Both CPUs still cached the writable translation before fork: the
	 * flush reached them, so a write faults on each. */
	CHECK_EQ(uw(&p, 1, 0x400000, 0x33), R_OK);
	CHECK_EQ(vt_last, MMU_VM_COW);
	CHECK(pa_of(&p, 0x400000).bits != pa_of(&c, 0x400000).bits);
	CHECK_EQ(refs(&c, 0x400000), 1);
	CHECK_EQ(refs(&p, 0x400000), 1);
	CHECK_OK(mmu_entry(&p.tree, 0x400000, MMU_LEVEL_PT, &lp));
	CHECK_EQ(lp & ~MMU_PTE_ADDR_MASK, (leaf0 & ~MMU_PTE_ADDR_MASK) | MMU_PTE_D);
	CHECK_EQ(ur(&p, 0, 0x400000), 0x33);
	CHECK_EQ(*sim_phys(vt_sim, pa_of(&c, 0x400000)), 0x11);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 3);
	/* The child, alone now on the original: takes it over. */
	st_load(vt_sim, 1, &c.tree);
	mmu_pa_t orig = pa_of(&c, 0x400000);
	CHECK_EQ(uw(&c, 1, 0x400000, 0x44), R_OK);
	CHECK_EQ(vt_last, MMU_VM_COW);
	CHECK_EQ(pa_of(&c, 0x400000).bits, orig.bits);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 3);
	CHECK(counters_are(&c, 0, 1, 0, 0, 0));
	/* Lazy TLB: P on both CPUs reads its shared page; the child exits;
	 * CPU 0 takes the page over (no flush); CPU 1's write hits the stale
	 * read-only entry, and the handler finds the tables allow it. */
	st_load(vt_sim, 1, mmu_kernel_tree(vt_mmu));
	st_load(vt_sim, 1, &p.tree);
	CHECK_EQ(ur(&p, 1, 0x401000), 0x22);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_EQ(refs(&p, 0x401000), 1);
	(void)mmu_vm_counters_take(&p);
	CHECK_EQ(uw(&p, 0, 0x401000, 0x55), R_OK);
	CHECK_EQ(uw(&p, 1, 0x401000, 0x66), R_OK);
	CHECK_EQ(vt_last, MMU_VM_SPURIOUS);
	CHECK(counters_are(&p, 0, 1, 0, 1, 0));
	CHECK_EQ(ur(&p, 0, 0x401000), 0x66);
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
	st_check_sanitizer(vt_sim);
}

/* Fork and exit accounting: the same pages and tables, one flush for the
 * parent (only to CPUs running it), frames freed when the last sharer
 * exits, BUSY while loaded. */
static void test_fork_exit(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space p, c, g;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_region_add(&p, 0x400000, 4 * MB, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&p, 0x10000000, 0x4000, MMU_PROT_R | MMU_PROT_X, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &p.tree);
	for (mmu_vaddr_t va = 0x400000; va < 0x800000; va += 0x8000)
		CHECK_EQ(uw(&p, 0, va, (uint8_t)(va >> 15)), R_OK);
	CHECK_EQ(ur(&p, 0, 0x10000000), 0);
	uint64_t pages = 4 * MB / 0x8000 + 1;
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + pages);
	uint64_t ptables = st_count_tables(vt_sim, &p.tree);
	(void)mmu_counters_take(vt_mmu);
	CHECK_OK(mmu_vm_fork(&p, &c));
	struct mmu_counters tc = mmu_counters_take(vt_mmu);
	CHECK_EQ(tc.ipis, 0);
	CHECK_EQ(tc.full, 1); /* 128 pages: above the ceiling, one full flush */
	CHECK_EQ(st_count_tables(vt_sim, &c.tree), ptables);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + pages);
	CHECK_EQ(mmu_user_tables(vt_mmu), (int64_t)(2 * ptables));
	/* P runs on two CPUs and has one writable page (its copy): the next
	 * fork flushes one page on both, with one IPI. */
	st_load(vt_sim, 1, &p.tree);
	CHECK_EQ(uw(&p, 1, 0x400000, 0x99), R_OK);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + pages + 1);
	(void)mmu_counters_take(vt_mmu);
	CHECK_OK(mmu_vm_fork(&p, &g));
	tc = mmu_counters_take(vt_mmu);
	CHECK_EQ(tc.ipis, 1);
	CHECK_EQ(tc.invlpg, 2);
	CHECK_EQ(tc.full, 0);
	CHECK_EQ(refs(&p, 0x400000), 2);
	CHECK_EQ(refs(&p, 0x408000), 3);
	CHECK_EQ(refs(&p, 0x10000000), 3);
	CHECK_ERR(mmu_vm_space_exit(&p), MMU_E_BUSY);
	CHECK_EQ(refs(&p, 0x408000), 3);
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + pages + 1);
	CHECK_EQ(refs(&c, 0x408000), 2);
	st_load(vt_sim, 0, &g.tree);
	CHECK_EQ(ur(&g, 0, 0x400000), 0x99);
	for (mmu_vaddr_t va = 0x408000; va < 0x800000; va += 0x8000)
		CHECK_EQ(ur(&g, 0, va), (uint8_t)(va >> 15));
	CHECK_EQ(uw(&g, 0, 0x400000, 1), R_OK); /* alone on P's copy: take-over */
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + pages + 1);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + pages);
	CHECK_OK(mmu_vm_space_exit(&g));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
	CHECK_EQ(mmu_user_tables(vt_mmu), 0);
	st_check_sanitizer(vt_sim);
}

/* ---- copy-to-user ---- */

static void test_copy_to_user(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct mmu_vm_space p, c;
	unsigned cpu = 1;
	uint32_t code;
	uint8_t buf[3 * PAGE];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 7);
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_region_add(&p, 0x400000, 0x4000, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&p, 0x500000, 0x1000, MMU_PROT_R, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&p, 0x7000000, 0x1000, MMU_PROT_R | MMU_PROT_W, MMU_VM_STACK, 0));
	st_load(vt_sim, cpu, &p.tree);
	sim_set_cpu(vt_sim, cpu);
	/* Three pages from an unaligned start: demand faults, counted. */
	CHECK_OK(mmu_vm_copy_to_user(&p, 0x400800, buf, 2 * PAGE + 0x10, vt_store, &cpu, &code));
	CHECK_EQ(code, 0);
	CHECK(counters_are(&p, 3, 0, 0, 0, 0));
	CHECK_OK(mmu_vm_fork(&p, &c));
	/* Breaks COW like a user write; the child keeps its bytes. */
	CHECK_OK(mmu_vm_copy_to_user(&p, 0x401000, buf + 100, 8, vt_store, &cpu, &code));
	CHECK_EQ(code, 0);
	CHECK(counters_are(&p, 0, 1, 0, 0, 0));
	sim_set_cpu(vt_sim, 0);
	CHECK_EQ(ur(&p, cpu, 0x401000), buf[100]);
	CHECK_EQ(*sim_phys(vt_sim, mmu_pa_add(pa_of(&c, 0x401000), 0)), buf[0x800]);
	sim_set_cpu(vt_sim, cpu);
	/* Stack growth. */
	CHECK_OK(mmu_vm_copy_to_user(&p, 0x6fff000, buf, 1, vt_store, &cpu, &code));
	CHECK_EQ(code, 0);
	CHECK(counters_are(&p, 0, 0, 1, 0, 0));
	/* Refused: the process lives, nothing counted, nothing changed. */
	struct state before;
	state_take(&p, &before);
	CHECK_OK(mmu_vm_copy_to_user(&p, 0x500000, buf, 1, vt_store, &cpu, &code));
	CHECK_EQ(code, ST_PF_W);
	CHECK_ERR(mmu_vm_copy_to_user(&p, 0xffffc80000000000ull, buf, 1, vt_store, &cpu, &code), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_copy_to_user(&p, (1ull << (mmu_va_bits(vt_mmu->levels) - 1)) - 1, buf, 2, vt_store, &cpu, &code),
		  MMU_E_INVALID);
	CHECK(counters_are(&p, 0, 0, 0, 0, 0));
	sim_set_cpu(vt_sim, 0);
	CHECK(state_same(&p, &before));
	st_snapshot_free(&before.snap);
	/* Across the region's end: the first page is faulted in and written,
	 * the copy stops at the next. */
	sim_set_cpu(vt_sim, cpu);
	CHECK_OK(mmu_vm_copy_to_user(&p, 0x404000 - 2, buf, 4, vt_store, &cpu, &code));
	CHECK_EQ(code, ST_PF_W);
	CHECK(counters_are(&p, 1, 0, 0, 0, 0));
	sim_set_cpu(vt_sim, 0);
	CHECK_EQ(ur(&p, cpu, 0x404000 - 2), buf[0]);
	CHECK_EQ(ur(&p, cpu, 0x404000 - 1), buf[1]);
	CHECK_EQ(ur(&p, cpu, 0x500000), 0);
	/* Present and read-only: refused with P|W before any store (the
	 * library checks the tables, so CR0.WP=0 could not write through). */
	sim_set_cpu(vt_sim, cpu);
	CHECK_OK(mmu_vm_copy_to_user(&p, 0x500000, buf, 1, vt_store, &cpu, &code));
	CHECK_EQ(code, ST_PF_P | ST_PF_W);
	sim_set_cpu(vt_sim, 0);
	unload(cpu);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	st_check_sanitizer(vt_sim);
}

/* ---- allocation failure: NOMEM, nothing changed ---- */

static void test_nomem_fault(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct mmu_vm_space p, c;
	struct state before;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_region_add(&p, 0x400000, 0x4000, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&p, 0x40000000, 0x1000, MMU_PROT_R | MMU_PROT_W, MMU_VM_STACK, 0));
	st_load(vt_sim, 0, &p.tree);
	/* Demand: the data frame, then each table on the way down. */
	for (int k = 0; k < (int)vt_mmu->levels; k++) {
		state_take(&p, &before);
		if (k == 0)
			sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, 0);
		else
			sim_fail_alloc_after(vt_sim, MMU_FRAME_TABLE, k - 1);
		CHECK_EQ(uw(&p, 0, 0x400000, 1), R_NOMEM);
		sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, -1);
		sim_fail_alloc_after(vt_sim, MMU_FRAME_TABLE, -1);
		CHECK(state_same(&p, &before));
		CHECK(counters_are(&p, 0, 0, 0, 0, 0));
		st_snapshot_free(&before.snap);
	}
	CHECK_EQ(uw(&p, 0, 0x400000, 1), R_OK);
	/* Stack growth: the frame. */
	state_take(&p, &before);
	sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, 0);
	CHECK_EQ(uw(&p, 0, 0x3ffff000, 1), R_NOMEM);
	sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, -1);
	CHECK(state_same(&p, &before));
	st_snapshot_free(&before.snap);
	/* COW copy: the frame. The take-over needs none. */
	CHECK_OK(mmu_vm_fork(&p, &c));
	state_take(&p, &before);
	sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, 0);
	CHECK_EQ(uw(&p, 0, 0x400000, 2), R_NOMEM);
	CHECK(state_same(&p, &before));
	CHECK_EQ(refs(&p, 0x400000), 2);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_EQ(uw(&p, 0, 0x400000, 2), R_OK);
	sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, -1);
	st_snapshot_free(&before.snap);
	CHECK(counters_are(&p, 1, 1, 0, 0, 0));
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	st_check_sanitizer(vt_sim);
}

static void test_nomem_fork(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space p, c;
	struct state before;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_region_add(&p, 0x400000, 4 * MB, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&p, 0x8000000000ull, 0x1000, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &p.tree);
	CHECK_EQ(uw(&p, 0, 0x400000, 1), R_OK);
	CHECK_EQ(uw(&p, 0, 0x600000, 2), R_OK);
	CHECK_EQ(uw(&p, 0, 0x8000000000ull, 3), R_OK);
	CHECK(counters_are(&p, 3, 0, 0, 0, 0));
	uint64_t need = st_count_tables(vt_sim, &p.tree); /* the child's root and each table */
	for (uint64_t k = 0; k < need; k++) {
		state_take(&p, &before);
		sim_fail_alloc_after(vt_sim, MMU_FRAME_TABLE, (long)k);
		CHECK_ERR(mmu_vm_fork(&p, &c), MMU_E_NOMEM);
		sim_fail_alloc_after(vt_sim, MMU_FRAME_TABLE, -1);
		CHECK(state_same(&p, &before));
		CHECK_EQ(refs(&p, 0x400000), 1);
		CHECK_EQ(uw(&p, 0, 0x400000, 5), R_OK); /* still writable: no COW */
		CHECK(counters_are(&p, 0, 0, 0, 0, 0));
		st_snapshot_free(&before.snap);
	}
	sim_fail_alloc_after(vt_sim, MMU_FRAME_TABLE, (long)need);
	CHECK_OK(mmu_vm_fork(&p, &c));
	sim_fail_alloc_after(vt_sim, MMU_FRAME_TABLE, -1);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
	st_check_sanitizer(vt_sim);
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_cow();
	test_fork_exit();
	test_copy_to_user();
	test_nomem_fault();
	test_nomem_fork();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
