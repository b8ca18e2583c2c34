/* SPDX-License-Identifier: MIT */
/* Process spaces with huge pages (mmu_vm_space_set_huge): a 2M demand
 * fault, fork sharing the 2M leaf, COW by a 2M copy or (no 2M frame) by a
 * split, region remove, resize and protect splitting it, NOMEM with
 * nothing changed where a split finds no table. After each scenario the
 * frames and tables are back to the start, every reference of a 2M frame
 * (counted at its head) accounted for, and the sanitizer silent. */
#include "vmtest.h"

#define HUGE (2 * MB)
#define RW (MMU_PROT_R | MMU_PROT_W)

/* The references of the data frame mapped at VA, counted at its head. */
static uint32_t head_refs(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	mmu_pa_t pa = pa_of(sp, va);
	mmu_pa_t head = mmu_pa(pa.bits & ~(HUGE - 1));
	struct mmu_frame_meta *m = sim_frame_meta(vt_sim, pa);
	return (m->flags & 8) ? sim_frame_meta(vt_sim, head)->refcount : m->refcount;
}

static enum mmu_size size_at(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	struct mmu_translation t;
	CHECK_OK(mmu_walk(&sp->tree, va, &t));
	return t.size;
}

static bool mapped(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	struct mmu_translation t;
	return mmu_walk(&sp->tree, va, &t) == MMU_OK;
}

/* A space with huge pages on and a 4M anon region at 4M (two 2M blocks). */
static void huge_space(struct mmu_vm_space *sp)
{
	CHECK_OK(mmu_vm_space_create(vt_mmu, sp));
	CHECK_OK(mmu_vm_space_set_huge(sp, true));
	CHECK_OK(mmu_vm_region_add(sp, 0x400000, 4 * MB, RW, MMU_VM_ANON, 0));
}

/* Take every free 2M frame but keep 4K frames free: one 2M frame is
 * given back and broken by a 4K allocation (HOG[0]); the 4K frames the
 * allocator handed out before it (free pieces of no 2M block) go back. */
#define HOG_MAX 4096
static mmu_pa_t hog[HOG_MAX], small[HOG_MAX];
static unsigned nhog;

static void hog_2m(void)
{
	nhog = 1;
	while (nhog < HOG_MAX && sim_frame_alloc(vt_sim, MMU_SIZE_2M, &hog[nhog]) == MMU_OK)
		nhog++;
	CHECK(nhog > 1 && nhog < HOG_MAX);
	mmu_pa_t block = hog[--nhog];
	sim_frame_free(vt_sim, MMU_SIZE_2M, block);
	unsigned n = 0;
	for (;;) {
		CHECK(n < HOG_MAX);
		CHECK_OK(sim_frame_alloc(vt_sim, MMU_SIZE_4K, &small[n]));
		if ((small[n].bits & ~(HUGE - 1)) == block.bits)
			break;
		n++;
	}
	hog[0] = small[n];
	while (n--)
		sim_frame_free(vt_sim, MMU_SIZE_4K, small[n]);
	mmu_pa_t no;
	CHECK(sim_frame_alloc(vt_sim, MMU_SIZE_2M, &no) == MMU_E_NOMEM);
}

static void unhog_2m(void)
{
	sim_frame_free(vt_sim, MMU_SIZE_4K, hog[0]);
	for (unsigned i = 1; i < nhog; i++)
		sim_frame_free(vt_sim, MMU_SIZE_2M, hog[i]);
	nhog = 0;
}

/* Every frame and table back, the sanitizer silent. */
static void back_to_start(uint64_t frames0, uint64_t tables0)
{
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
	st_check_sanitizer(vt_sim);
}

/* From now the port has no table (a split's NOMEM); BEFORE is SP now. */
static void tables_fail(struct mmu_vm_space *sp, struct state *before)
{
	state_take(sp, before);
	sim_fail_alloc_after(vt_sim, MMU_FRAME_TABLE, 0);
}

/* Tables again; whether SP is as it was at tables_fail. */
static bool tables_back(struct mmu_vm_space *sp, struct state *before)
{
	sim_fail_alloc_after(vt_sim, MMU_FRAME_TABLE, -1);
	bool same = state_same(sp, before);
	st_snapshot_free(&before->snap);
	return same;
}

/* One demand fault maps the whole 2M block; not where the block leaves
 * the region, nor with huge pages off, nor where a 4K page is mapped. */
static void test_demand(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space sp;
	huge_space(&sp);
	CHECK_OK(mmu_vm_region_add(&sp, 0x10000000, 0x4000, RW, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(uw(&sp, 0, 0x512345, 0x5a), R_OK);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK_EQ(size_at(&sp, 0x400000), MMU_SIZE_2M);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 1);
	CHECK_EQ(head_refs(&sp, 0x5ff000), 1);
	CHECK_EQ(ur(&sp, 0, 0x5ff000), 0);
	CHECK_EQ(ur(&sp, 0, 0x512345), 0x5a);
	CHECK(counters_are(&sp, 1, 0, 0, 0, 0));
	/* A region smaller than 2M: 4K pages. */
	CHECK_EQ(uw(&sp, 0, 0x10001000, 1), R_OK);
	CHECK_EQ(size_at(&sp, 0x10001000), MMU_SIZE_4K);
	/* Off: 4K pages in the second block; on again, the block holds a
	 * 4K leaf, so the next fault there maps 4K too. */
	CHECK_OK(mmu_vm_space_set_huge(&sp, false));
	CHECK_EQ(uw(&sp, 0, 0x600000, 2), R_OK);
	CHECK_OK(mmu_vm_space_set_huge(&sp, true));
	CHECK_EQ(uw(&sp, 0, 0x7ff000, 3), R_OK);
	CHECK_EQ(size_at(&sp, 0x7ff000), MMU_SIZE_4K);
	CHECK(counters_are(&sp, 3, 0, 0, 0, 0));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 4);
	/* No 2M frame: a 4K page, not NOMEM. */
	CHECK_OK(mmu_vm_region_add(&sp, 0x20000000, HUGE, RW, MMU_VM_ANON, 0));
	hog_2m();
	CHECK_EQ(uw(&sp, 0, 0x20000000, 4), R_OK);
	CHECK_EQ(size_at(&sp, 0x20000000), MMU_SIZE_4K);
	unhog_2m();
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_EQ(mmu_vm_space_set_huge(&sp, true), MMU_E_INVALID);
	back_to_start(frames0, tables0);
}

/* Fork shares the 2M leaf read-only (one reference more on the frame);
 * the child's write copies the whole 2M, the parent's then takes it over. */
static void test_fork_cow(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space p, c;
	huge_space(&p);
	st_load(vt_sim, 0, &p.tree);
	CHECK_EQ(uw(&p, 0, 0x400000, 0x11), R_OK);
	CHECK_EQ(uw(&p, 0, 0x5ff000, 0x22), R_OK);
	mmu_pa_t orig = pa_of(&p, 0x400000);
	CHECK_OK(mmu_vm_fork(&p, &c));
	CHECK_EQ(head_refs(&p, 0x400000), 2);
	CHECK_EQ(size_at(&c, 0x400000), MMU_SIZE_2M);
	CHECK_EQ(pa_of(&c, 0x400000).bits, orig.bits);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 1);
	st_load(vt_sim, 1, &c.tree);
	CHECK_EQ(ur(&c, 1, 0x5ff000), 0x22);
	CHECK_EQ(uw(&c, 1, 0x480000, 0x33), R_OK);
	CHECK_EQ(vt_last, MMU_VM_COW);
	CHECK_EQ(size_at(&c, 0x400000), MMU_SIZE_2M);
	CHECK(pa_of(&c, 0x400000).bits != orig.bits);
	CHECK_EQ(ur(&c, 1, 0x400000), 0x11);
	CHECK_EQ(ur(&c, 1, 0x5ff000), 0x22);
	CHECK_EQ(head_refs(&c, 0x400000), 1);
	CHECK_EQ(head_refs(&p, 0x400000), 1);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 2);
	CHECK_EQ(uw(&p, 0, 0x400000, 0x44), R_OK);
	CHECK_EQ(vt_last, MMU_VM_COW);
	CHECK_EQ(pa_of(&p, 0x400000).bits, orig.bits);
	CHECK_EQ(ur(&c, 1, 0x400000), 0x11);
	CHECK(counters_are(&p, 1, 1, 0, 0, 0));
	CHECK(counters_are(&c, 0, 1, 0, 0, 0));
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_OK(mmu_vm_space_exit(&p));
	back_to_start(frames0, tables0);
}

/* No 2M frame for the copy: the parent's leaf is split, the page copied;
 * the frame's head counts the child's 2M leaf and the parent's 511 4K
 * leaves, and goes with the last of them. No table for the split: NOMEM,
 * nothing changed. */
static void test_cow_split(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space p, c;
	huge_space(&p);
	st_load(vt_sim, 0, &p.tree);
	CHECK_EQ(uw(&p, 0, 0x401000, 0x11), R_OK);
	CHECK_OK(mmu_vm_fork(&p, &c));
	hog_2m();
	static struct state before;
	tables_fail(&p, &before);
	CHECK_EQ(uw(&p, 0, 0x402000, 0x22), R_NOMEM);
	CHECK(tables_back(&p, &before));
	CHECK_EQ(head_refs(&p, 0x400000), 2);
	CHECK_EQ(uw(&p, 0, 0x402000, 0x22), R_OK);
	CHECK_EQ(vt_last, MMU_VM_COW);
	unhog_2m();
	CHECK_EQ(size_at(&p, 0x402000), MMU_SIZE_4K);
	CHECK_EQ(size_at(&p, 0x401000), MMU_SIZE_4K);
	CHECK_EQ(size_at(&c, 0x402000), MMU_SIZE_2M);
	CHECK_EQ(head_refs(&c, 0x400000), 1 + 511);
	CHECK_EQ(head_refs(&p, 0x402000), 1);
	CHECK_EQ(ur(&p, 0, 0x401000), 0x11);
	CHECK_EQ(*sim_phys(vt_sim, pa_of(&c, 0x402000)), 0);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 2);
	/* A write to another piece: still shared, copied. */
	CHECK_EQ(uw(&p, 0, 0x401000, 0x33), R_OK);
	CHECK_EQ(head_refs(&c, 0x400000), 511);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 3);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_EQ(head_refs(&p, 0x400000), 510);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&p));
	back_to_start(frames0, tables0);
}

/* Remove and resize cut a 2M leaf: it is split, the inside part goes;
 * NOMEM (no table for the split) changes nothing. */
static void test_remove_split(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space sp, c;
	huge_space(&sp);
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(uw(&sp, 0, 0x400000, 1), R_OK);
	CHECK_EQ(uw(&sp, 0, 0x600000, 2), R_OK);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 2);
	static struct state before;
	tables_fail(&sp, &before);
	CHECK_EQ(mmu_vm_region_remove(&sp, 0x401000, 2 * PAGE), MMU_E_NOMEM);
	CHECK(tables_back(&sp, &before));
	CHECK_OK(mmu_vm_region_remove(&sp, 0x401000, 2 * PAGE));
	CHECK(!mapped(&sp, 0x401000) && !mapped(&sp, 0x402000));
	CHECK_EQ(size_at(&sp, 0x400000), MMU_SIZE_4K);
	CHECK_EQ(size_at(&sp, 0x403000), MMU_SIZE_4K);
	CHECK_EQ(head_refs(&sp, 0x400000), 510);
	CHECK_EQ(ur(&sp, 0, 0x400000), 1);
	/* Shared with a child, then the tail of the region cut off
	 * (resize) through the second 2M leaf; the child keeps it whole. */
	CHECK_OK(mmu_vm_fork(&sp, &c));
	CHECK_EQ(head_refs(&sp, 0x400000), 2 * 510);
	CHECK_OK(mmu_vm_region_resize(&sp, 0x403000, 0x300000 - 0x3000));
	CHECK_EQ(size_at(&sp, 0x600000), MMU_SIZE_4K);
	CHECK(!mapped(&sp, 0x700000));
	CHECK_EQ(head_refs(&c, 0x600000), 1 + 256);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 2);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_EQ(head_refs(&sp, 0x600000), 256);
	/* Removing every piece frees the frame. */
	CHECK_OK(mmu_vm_region_remove(&sp, 0x400000, 4 * MB));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	back_to_start(frames0, tables0);
}

/* Protect on part of a 2M leaf splits it; on all of it, rewrites it. */
static void test_protect_split(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
	struct mmu_vm_space sp;
	huge_space(&sp);
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(uw(&sp, 0, 0x400000, 1), R_OK);
	CHECK_EQ(uw(&sp, 0, 0x600000, 2), R_OK);
	static struct state before;
	tables_fail(&sp, &before);
	CHECK_EQ(mmu_vm_region_protect(&sp, 0x401000, PAGE, MMU_PROT_R), MMU_E_NOMEM);
	CHECK(tables_back(&sp, &before));
	CHECK_OK(mmu_vm_region_protect(&sp, 0x401000, PAGE, MMU_PROT_R));
	CHECK_EQ(size_at(&sp, 0x400000), MMU_SIZE_4K);
	CHECK_EQ(head_refs(&sp, 0x400000), 512);
	(void)mmu_vm_counters_take(&sp);
	CHECK_EQ(uw(&sp, 0, 0x400000, 3), R_OK);
	CHECK(counters_are(&sp, 0, 0, 0, 0, 0));
	CHECK(uw(&sp, 0, 0x401000, 4) != R_OK);
	CHECK(counters_are(&sp, 0, 0, 0, 0, 1));
	CHECK_OK(mmu_vm_region_protect(&sp, 0x600000, HUGE, MMU_PROT_R));
	CHECK_EQ(size_at(&sp, 0x600000), MMU_SIZE_2M);
	CHECK(uw(&sp, 0, 0x600000, 5) != R_OK);
	CHECK_EQ(ur(&sp, 0, 0x600000), 2);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	back_to_start(frames0, tables0);
}

/* The kernel's copies go through a 2M translation like a 4K one. */
static void test_copy_to_user(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct mmu_vm_space sp;
	huge_space(&sp);
	unsigned cpu = 0;
	st_load(vt_sim, cpu, &sp.tree);
	const uint8_t msg[] = "huge";
	uint32_t code = 0;
	CHECK_OK(mmu_vm_copy_to_user(&sp, 0x5ffffe, msg, sizeof msg, vt_store, &cpu, &code));
	CHECK_EQ(size_at(&sp, 0x400000), MMU_SIZE_2M);
	CHECK_EQ(size_at(&sp, 0x600000), MMU_SIZE_2M);
	CHECK_EQ(ur(&sp, 0, 0x600000), 'g');
	unload(cpu);
	CHECK_OK(mmu_vm_space_exit(&sp));
	back_to_start(frames0, sim_tables_in_use(vt_sim));
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_demand();
	test_fork_cow();
	test_cow_split();
	test_remove_split();
	test_protect_split();
	test_copy_to_user();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
