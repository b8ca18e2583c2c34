/* SPDX-License-Identifier: MIT */
/* Region storage on the software machine: the inline slots and NOSPACE
 * (not NOMEM) when they are full, arrays given by the caller and moved to
 * (grow, shrink back, the same array with a new capacity), fork into the
 * child's own storage (NOSPACE, INVALID, nothing changed), thousands of
 * regions (binary search, protect merging and splitting in place at full
 * capacity), mmu_vm_region_get. Every refusal leaves regions, tables and
 * frames as they were; 4 and 5 levels, PCIDs off and on. */
#include <string.h>

#include "vmtest.h"

#define R MMU_PROT_R
#define RW (MMU_PROT_R | MMU_PROT_W)
#define BASE 0x10000000ull
#define AT(i) (BASE + (uint64_t)(i) * 0x10000) /* one region per 64K */

static struct mmu_vm_region slots_a[64], slots_b[128];

static void add_regions(struct mmu_vm_space *sp, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		CHECK_OK(mmu_vm_region_add(sp, AT(i), PAGE, RW, MMU_VM_ANON, 0));
}

static bool regions_sorted(const struct mmu_vm_space *sp)
{
	for (unsigned i = 1; i < sp->nregions; i++)
		if (sp->region[i - 1].start + sp->region[i - 1].len > sp->region[i].start)
			return false;
	return true;
}

/* The inline slots, then a caller's array, a bigger one, the first one
 * again with a new capacity, and back inline. */
static void test_storage_moves(void)
{
	struct mmu_vm_space sp;
	struct state before;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK(sp.region == sp.inline_region);
	CHECK_EQ(sp.region_cap, MMU_VM_INLINE_REGIONS);
	add_regions(&sp, 0, MMU_VM_INLINE_REGIONS);
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(uw(&sp, 0, AT(3), 7), R_OK);
	state_take(&sp, &before);
	CHECK_ERR(mmu_vm_region_add(&sp, AT(40), PAGE, RW, MMU_VM_ANON, 0), MMU_E_NOSPACE);
	CHECK_ERR(mmu_vm_region_add(&sp, AT(3), PAGE, RW, MMU_VM_ANON, 0), MMU_E_DUPLICATED); /* before */
	CHECK_ERR(mmu_vm_region_add(&sp, AT(40), PAGE, 0, MMU_VM_ANON, 0), MMU_E_INVALID_PERMISSION);
	CHECK_ERR(mmu_vm_region_remove(&sp, AT(2), 1), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_space_set_region_storage(&sp, NULL, 4), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_space_set_region_storage(&sp, slots_a, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_space_set_region_storage(&sp, slots_a, 15), MMU_E_NOSPACE);
	CHECK(state_same(&sp, &before));
	st_snapshot_free(&before.snap);

	/* Grow: the same regions, now in SLOTS_A; 48 more fit. */
	CHECK_OK(mmu_vm_space_set_region_storage(&sp, slots_a, 64));
	CHECK(sp.region == slots_a);
	CHECK_EQ(sp.nregions, MMU_VM_INLINE_REGIONS);
	CHECK_EQ(slots_a[15].start, AT(15));
	add_regions(&sp, MMU_VM_INLINE_REGIONS, 64);
	CHECK_ERR(mmu_vm_region_add(&sp, AT(64), PAGE, RW, MMU_VM_ANON, 0), MMU_E_NOSPACE);
	CHECK_ERR(mmu_vm_space_set_region_storage(&sp, NULL, 0), MMU_E_NOSPACE);
	CHECK(sp.region == slots_a);
	CHECK_EQ(ur(&sp, 0, AT(3)), 7); /* the page stayed */

	/* A bigger array: the old one is the caller's again (scribbled on). */
	CHECK_OK(mmu_vm_space_set_region_storage(&sp, slots_b, 128));
	memset(slots_a, 0xa5, sizeof slots_a);
	CHECK(regions_sorted(&sp));
	CHECK_EQ(sp.nregions, 64);
	CHECK(mmu_vm_region_at(&sp, AT(63)) == &slots_b[63]);
	add_regions(&sp, 64, 100);
	/* The same array with a smaller capacity: only the count matters. */
	CHECK_ERR(mmu_vm_space_set_region_storage(&sp, slots_b, 99), MMU_E_NOSPACE);
	CHECK_OK(mmu_vm_space_set_region_storage(&sp, slots_b, 100));
	CHECK_ERR(mmu_vm_region_add(&sp, AT(100), PAGE, RW, MMU_VM_ANON, 0), MMU_E_NOSPACE);
	/* Back inline once 16 are left. */
	CHECK_OK(mmu_vm_region_remove(&sp, AT(16), AT(100) - AT(16)));
	CHECK_EQ(sp.nregions, 16);
	CHECK_OK(mmu_vm_space_set_region_storage(&sp, NULL, 0));
	CHECK(sp.region == sp.inline_region);
	CHECK_EQ(sp.region[15].start, AT(15));
	CHECK_EQ(ur(&sp, 0, AT(3)), 7);
	CHECK(counters_are(&sp, 1, 0, 0, 0, 0));

	/* Exit gives the caller's array back; a dead space takes none. */
	CHECK_OK(mmu_vm_space_set_region_storage(&sp, slots_a, 64));
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK(sp.region == sp.inline_region);
	CHECK_ERR(mmu_vm_space_set_region_storage(&sp, slots_b, 128), MMU_E_INVALID);
	CHECK(sp.region == sp.inline_region);
}

/* Fork copies the regions into the child's storage: the inline slots
 * (NOSPACE when the parent has more) or the caller's array. */
static void test_fork_storage(void)
{
	struct mmu_vm_space parent, child;
	struct state before;
	static struct mmu_vm_region child_slots[40];
	CHECK_OK(mmu_vm_space_create(vt_mmu, &parent));
	CHECK_OK(mmu_vm_space_set_region_storage(&parent, slots_a, 64));
	add_regions(&parent, 0, 20);
	st_load(vt_sim, 0, &parent.tree);
	CHECK_EQ(uw(&parent, 0, AT(19), 5), R_OK);
	memset(&child, 0, sizeof child);
	state_take(&parent, &before);
	uint64_t user_tables = (uint64_t)mmu_user_tables(vt_mmu);
	CHECK_ERR(mmu_vm_fork(&parent, &child), MMU_E_NOSPACE);
	CHECK_ERR(mmu_vm_fork_with_storage(&parent, &child, child_slots, 19), MMU_E_NOSPACE);
	CHECK_ERR(mmu_vm_fork_with_storage(&parent, &child, NULL, 40), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_fork_with_storage(&parent, &child, child_slots, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_fork_with_storage(&parent, &child, slots_a + 60, 8), MMU_E_INVALID); /* the parent's */
	CHECK_ERR(mmu_vm_fork_with_storage(&parent, &parent, child_slots, 40), MMU_E_INVALID);
	CHECK(state_same(&parent, &before));
	CHECK_EQ((uint64_t)mmu_user_tables(vt_mmu), user_tables);
	st_snapshot_free(&before.snap);

	CHECK_OK(mmu_vm_fork_with_storage(&parent, &child, child_slots, 40));
	CHECK(child.region == child_slots);
	CHECK_EQ(child.region_cap, 40);
	CHECK_EQ(child.nregions, 20);
	CHECK(memcmp(child.region, parent.region, 20 * sizeof child.region[0]) == 0);
	CHECK_EQ(child.min_addr, parent.min_addr);
	/* The child's array is its own: its regions change alone. */
	CHECK_OK(mmu_vm_region_add(&child, AT(30), PAGE, RW, MMU_VM_ANON, 0));
	CHECK_EQ(parent.nregions, 20);
	CHECK(!mmu_vm_region_at(&parent, AT(30)));
	st_load(vt_sim, 1, &child.tree);
	CHECK_EQ(ur(&child, 1, AT(19)), 5);
	CHECK_EQ(uw(&child, 1, AT(19), 6), R_OK); /* copy-on-write */
	CHECK_EQ(ur(&parent, 0, AT(19)), 5);
	/* A child in the inline slots once the parent fits there. */
	struct mmu_vm_space small;
	CHECK_OK(mmu_vm_region_remove(&parent, AT(16), AT(20) - AT(16)));
	CHECK_OK(mmu_vm_fork(&parent, &small));
	CHECK(small.region == small.inline_region);
	CHECK_EQ(small.nregions, 16);
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&small));
	CHECK_OK(mmu_vm_space_exit(&child));
	CHECK(child.region == child.inline_region);
	CHECK_OK(mmu_vm_space_exit(&parent));
}

/* ---- thousands of regions ---- */

#define MANY 3000
static struct mmu_vm_region many_slots[MANY + 2];

/* MANY adjacent 2-page regions from BASE, R and RW in turn, added in a
 * scattered order; each found by its pages, the holes by none. */
static void many_space(struct mmu_vm_space *sp)
{
	CHECK_OK(mmu_vm_space_create(vt_mmu, sp));
	CHECK_OK(mmu_vm_space_set_region_storage(sp, many_slots, MANY));
	for (unsigned k = 0; k < MANY; k++) {
		unsigned i = (k * 1237u) % MANY; /* 1237 is prime to 3000 */
		CHECK_OK(mmu_vm_region_add(sp, BASE + i * 2 * PAGE, 2 * PAGE, i % 2 ? RW : R, MMU_VM_ANON, 0));
	}
	CHECK_EQ(sp->nregions, MANY);
	CHECK(regions_sorted(sp));
	for (unsigned i = 0; i < MANY; i += 7) {
		const struct mmu_vm_region *r = mmu_vm_region_at(sp, BASE + i * 2 * PAGE + PAGE + 5);
		CHECK(r && r->start == BASE + i * 2 * PAGE && r->prot == (i % 2 ? RW : R));
	}
	CHECK(!mmu_vm_region_at(sp, BASE - 1) && !mmu_vm_region_at(sp, BASE + MANY * 2 * PAGE));
}

static void test_many_regions(void)
{
	struct mmu_vm_space sp;
	struct state before;
	many_space(&sp);
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(uw(&sp, 0, BASE + 1001 * 2 * PAGE, 9), R_OK);
	CHECK_EQ(uw(&sp, 0, BASE + 1000 * 2 * PAGE, 9), 0x1000 | ST_PF_W | ST_PF_U);
	/* Full: a cut needs a slot, an add too. */
	state_take(&sp, &before);
	CHECK_ERR(mmu_vm_region_add(&sp, BASE + MANY * 2 * PAGE, PAGE, RW, MMU_VM_ANON, 0), MMU_E_NOSPACE);
	CHECK_ERR(mmu_vm_region_protect(&sp, BASE + 2 * PAGE * 10, PAGE, R | MMU_PROT_X), MMU_E_NOSPACE);
	CHECK(state_same(&sp, &before));
	st_snapshot_free(&before.snap);
	/* A head cut needs no slot: allowed at capacity. */
	CHECK_OK(mmu_vm_region_remove(&sp, BASE + 2 * PAGE * 500, PAGE));
	CHECK_EQ(sp.nregions, MANY);
	/* At capacity, one protect over every region merges them: 3000 in,
	 * 2 out (the page removed above is a hole). */
	CHECK_OK(mmu_vm_region_protect(&sp, BASE, MANY * 2 * PAGE, RW));
	CHECK_EQ(sp.nregions, 2);
	CHECK_EQ(sp.region[0].len, 1000 * PAGE);
	CHECK_EQ(sp.region[1].start, BASE + 1001 * PAGE);
	CHECK_EQ(ur(&sp, 0, BASE + 1001 * 2 * PAGE), 9);
	CHECK_EQ(uw(&sp, 0, BASE + 1000 * 2 * PAGE, 9), R_OK);
	/* Protect back part of it: 3 regions, then remove most. */
	CHECK_OK(mmu_vm_region_protect(&sp, BASE + 10 * PAGE, 20 * PAGE, R));
	CHECK_EQ(sp.nregions, 4);
	CHECK_EQ(uw(&sp, 0, BASE + 12 * PAGE, 9), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_OK(mmu_vm_region_remove(&sp, BASE, MANY * 2 * PAGE));
	CHECK_EQ(sp.nregions, 0);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
}

/* Protect rewrites in place: the regions a split would add first and a
 * merge take away again fit when the result fits, even at capacity. */
static void test_protect_in_place(void)
{
	struct mmu_vm_space sp;
	struct state before;
	static struct mmu_vm_region three[3];
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_space_set_region_storage(&sp, three, 3));
	CHECK_OK(mmu_vm_region_add(&sp, BASE, 4 * PAGE, R, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&sp, BASE + 4 * PAGE, 4 * PAGE, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&sp, BASE + 8 * PAGE, 4 * PAGE, R, MMU_VM_ANON, 0));
	/* [r][rw][r] -> [r][rw........]: a split of the first and two merges. */
	CHECK_OK(mmu_vm_region_protect(&sp, BASE + 2 * PAGE, 10 * PAGE, RW));
	CHECK_EQ(sp.nregions, 2);
	CHECK_EQ(three[0].len, 2 * PAGE);
	CHECK_EQ(three[1].start, BASE + 2 * PAGE);
	CHECK_EQ(three[1].len, 10 * PAGE);
	CHECK_EQ(three[1].prot, RW);
	/* The third slot: [r][rw][r]. */
	CHECK_OK(mmu_vm_region_protect(&sp, BASE + 10 * PAGE, 2 * PAGE, R));
	CHECK_EQ(sp.nregions, 3);
	CHECK_EQ(three[2].start, BASE + 10 * PAGE);
	/* Any more pieces: NOSPACE, nothing changed. */
	state_take(&sp, &before);
	CHECK_ERR(mmu_vm_region_protect(&sp, BASE + 5 * PAGE, PAGE, R), MMU_E_NOSPACE);
	CHECK_ERR(mmu_vm_region_remove(&sp, BASE + 4 * PAGE, PAGE), MMU_E_NOSPACE);
	CHECK(state_same(&sp, &before));
	st_snapshot_free(&before.snap);
	/* Protecting back merges: one region again. */
	CHECK_OK(mmu_vm_region_protect(&sp, BASE + 10 * PAGE, 2 * PAGE, RW));
	CHECK_EQ(sp.nregions, 2);
	CHECK_OK(mmu_vm_region_protect(&sp, BASE, 2 * PAGE, RW));
	CHECK_EQ(sp.nregions, 1);
	CHECK_EQ(three[0].len, 12 * PAGE);
	CHECK_OK(mmu_vm_space_exit(&sp));
}

/* mmu_vm_region_get: a copy under the lock. */
static void test_region_get(void)
{
	struct mmu_vm_space sp;
	struct mmu_vm_region r = {.start = 1};
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK(!mmu_vm_region_get(&sp, BASE, &r));
	CHECK_EQ(r.start, 1);
	CHECK_OK(mmu_vm_region_add(&sp, BASE, 2 * PAGE, RW, MMU_VM_STACK, MB));
	CHECK(mmu_vm_region_get(&sp, BASE + PAGE + 3, &r));
	CHECK(r.start == BASE && r.len == 2 * PAGE && r.prot == RW && r.kind == MMU_VM_STACK && r.max == MB);
	CHECK(!mmu_vm_region_get(&sp, BASE + 2 * PAGE, &r));
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK(!mmu_vm_region_get(&sp, BASE, &r));
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_storage_moves();
	test_fork_storage();
	test_many_regions();
	test_protect_in_place();
	test_region_get();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	CHECK_EQ(mmu_err_name(MMU_E_NOSPACE)[0], 'N');
	CHECK(strcmp(mmu_err_name(MMU_E_NOSPACE), "NOSPACE") == 0);
	vt_on_each_machine(all_tests);
	return 0;
}
