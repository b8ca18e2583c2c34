/* SPDX-License-Identifier: MIT */
/* Eager regions: every page mapped, zeroed, when the region is added; no
 * fault on first touch; NOMEM at any allocation leaves nothing behind;
 * after fork they are copy-on-write like anon pages; exit frees them. */
#include "vmtest.h"

#define RW (MMU_PROT_R | MMU_PROT_W)
#define VA 0x40000000ull
#define PAGES 600u /* crosses a page-table boundary: two PTs */

static void test_eager_maps_everything(void)
{
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	uint64_t frames = sim_frames_in_use(vt_sim);
	CHECK_ERR(mmu_vm_region_add(&sp, VA, PAGE, RW, MMU_VM_EAGER, MB), MMU_E_INVALID);
	CHECK_OK(mmu_vm_region_add(&sp, VA, PAGES * PAGE, RW, MMU_VM_EAGER, 0));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames + PAGES);
	struct mmu_translation tr;
	CHECK_OK(mmu_walk(&sp.tree, VA + (PAGES - 1) * PAGE, &tr));
	CHECK_EQ(tr.prot, RW | MMU_PROT_U);
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(ur(&sp, 0, VA + 5 * PAGE), 0);
	CHECK_EQ(uw(&sp, 0, VA + 7 * PAGE, 0x42), R_OK);
	CHECK(counters_are(&sp, 0, 0, 0, 0, 0)); /* no demand fault: already mapped */

	/* Fork: the child shares every page copy-on-write. */
	struct mmu_vm_space child;
	CHECK_OK(mmu_vm_fork(&sp, &child));
	CHECK_EQ(refs(&sp, VA + 7 * PAGE), 2);
	CHECK_EQ(uw(&sp, 0, VA + 7 * PAGE, 0x43), R_OK);
	CHECK(counters_are(&sp, 0, 1, 0, 0, 0));
	st_load(vt_sim, 1, &child.tree);
	CHECK_EQ(ur(&child, 1, VA + 7 * PAGE), 0x42);
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&child));
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames);
	CHECK_EQ(mmu_user_tables(vt_mmu), 0);
}

/* NOMEM at every data-frame and table allocation of the population. */
static void test_eager_nomem(void)
{
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	enum mmu_frame_use uses[] = {MMU_FRAME_DATA, MMU_FRAME_TABLE};
	for (unsigned u = 0; u < 2; u++) {
		/* Taken per round: the region array keeps stale slots past
		 * nregions after the previous round's remove. */
		struct state before;
		state_take(&sp, &before);
		for (long k = 0;; k += (u == MMU_FRAME_DATA ? 97 : 1)) {
			sim_fail_alloc_after(vt_sim, uses[u], k);
			mmu_err_t err = mmu_vm_region_add(&sp, VA, PAGES * PAGE, RW, MMU_VM_EAGER, 0);
			sim_fail_alloc_after(vt_sim, uses[u], -1);
			if (err == MMU_OK) {
				CHECK_OK(mmu_vm_region_remove(&sp, VA, PAGES * PAGE));
				break;
			}
			CHECK_ERR(err, MMU_E_NOMEM);
			CHECK(state_same(&sp, &before));
			CHECK_STOP_ON_FAILURE();
		}
		st_snapshot_free(&before.snap);
	}
	CHECK_OK(mmu_vm_space_exit(&sp));
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_eager_maps_everything();
	test_eager_nomem();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
