/* SPDX-License-Identifier: MIT */
/* Memory objects on the software machine: shared memory across fork (no
 * COW, one frame, its references counted), a pager-backed object mapped
 * private in one space and shared in another (a private write copies, the
 * pager's page unchanged), splits keeping each piece's page offset, the
 * mapping count and BUSY release, NOMEM at every allocation of a first
 * touch changing nothing. Frames and tables back to the start, the TLB
 * sanitizer silent, on each of the four machines. */
#include <string.h>

#include "vmtest.h"

#define RW (MMU_PROT_R | MMU_PROT_W)
#define VA 0x400000ull
#define VB 0x800000ull
#define NPAGES VT_PAGER_PAGES

static uint64_t resident(struct mmu_vm_object *o, uint64_t i)
{
	mmu_pa_t pa;
	return mmu_vm_object_page(o, i, &pa) == MMU_OK ? pa.bits : 0;
}

static uint32_t frame_refs(mmu_pa_t pa) { return vt_mmu->port.ops->frame_meta(vt_mmu->port.ctx, pa)->refcount; }

/* ---- arguments ---- */

static void test_args(void)
{
	struct mmu_vm_object o;
	mmu_pa_t slots[NPAGES];
	struct mmu_vm_space sp;
	CHECK_ERR(mmu_vm_object_init_anon(vt_mmu, &o, NULL, NPAGES), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_object_init_anon(vt_mmu, &o, slots, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_object_init_pager(vt_mmu, &o, slots, NPAGES, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_object_release(&o), MMU_E_INVALID);
	CHECK_OK(mmu_vm_object_init_anon(vt_mmu, &o, slots, NPAGES));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	static struct state snap;
	state_take(&sp, &snap);
	CHECK_ERR(mmu_vm_region_add(&sp, VA, PAGE, RW, MMU_VM_SHARED, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add_object(&sp, VA, PAGE, RW, MMU_VM_ANON, &o, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add_object(&sp, VA, PAGE, RW, MMU_VM_SHARED, NULL, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add_object(&sp, VA, (NPAGES + 1) * PAGE, RW, MMU_VM_SHARED, &o, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add_object(&sp, VA, 2 * PAGE, RW, MMU_VM_SHARED, &o, NPAGES - 1), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add_object(&sp, VA, PAGE, RW, MMU_VM_SHARED, &o, NPAGES), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add_object(&sp, VA + 8, PAGE, RW, MMU_VM_SHARED, &o, 0), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_region_add_object(&sp, VA, PAGE, MMU_PROT_W, MMU_VM_SHARED, &o, 0),
		  MMU_E_INVALID_PERMISSION);
	CHECK(state_same(&sp, &snap));
	CHECK_EQ(o.mappings, 0);
	CHECK_OK(mmu_vm_region_add_object(&sp, VA, NPAGES * PAGE, RW, MMU_VM_SHARED, &o, 0));
	CHECK_ERR(mmu_vm_region_add_object(&sp, VA, PAGE, RW, MMU_VM_SHARED, &o, 0), MMU_E_DUPLICATED);
	CHECK_EQ(o.mappings, 1);
	CHECK_ERR(mmu_vm_region_resize(&sp, VA, (NPAGES + 1) * PAGE), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_object_release(&o), MMU_E_BUSY);
	CHECK_OK(mmu_vm_region_remove(&sp, VA, NPAGES * PAGE));
	CHECK_EQ(o.mappings, 0);
	CHECK_OK(mmu_vm_object_release(&o));
	CHECK_ERR(mmu_vm_object_release(&o), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add_object(&sp, VA, PAGE, RW, MMU_VM_SHARED, &o, 0), MMU_E_INVALID);
	CHECK_OK(mmu_vm_space_exit(&sp));
}

/* ---- shared memory across fork ---- */

static void test_shared_fork(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct mmu_vm_object o;
	mmu_pa_t slots[NPAGES];
	struct mmu_vm_space p, c;
	CHECK_OK(mmu_vm_object_init_anon(vt_mmu, &o, slots, NPAGES));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_region_add_object(&p, VA, 4 * PAGE, RW, MMU_VM_SHARED, &o, 2));
	st_load(vt_sim, 0, &p.tree);
	CHECK_EQ(uw(&p, 0, VA + PAGE, 0x11), R_OK);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK_EQ(pa_of(&p, VA + PAGE).bits, resident(&o, 3));
	CHECK_EQ(refs(&p, VA + PAGE), 2); /* the object's and the leaf's */
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 1);
	CHECK_OK(mmu_vm_fork(&p, &c));
	CHECK_EQ(o.mappings, 2);
	CHECK_EQ(refs(&p, VA + PAGE), 3);
	mmu_pte_t leaf;
	CHECK_OK(mmu_entry(&p.tree, VA + PAGE, MMU_LEVEL_PT, &leaf));
	CHECK(leaf & MMU_PTE_RW); /* not write-protected by fork */
	st_load(vt_sim, 1, &c.tree);
	CHECK_EQ(ur(&c, 1, VA + PAGE), 0x11);
	CHECK_EQ(uw(&c, 1, VA + PAGE, 0x22), R_OK);
	CHECK_EQ(ur(&p, 0, VA + PAGE), 0x22);
	CHECK(counters_are(&c, 0, 0, 0, 0, 0));
	/* A page the child touches first is the parent's too. */
	CHECK_EQ(uw(&c, 1, VA, 0x33), R_OK);
	CHECK_EQ(ur(&p, 0, VA), 0x33);
	CHECK(counters_are(&c, 1, 0, 0, 0, 0));
	CHECK(counters_are(&p, 2, 0, 0, 0, 0));
	/* W taken away and given back: the write maps the same page writable. */
	CHECK_OK(mmu_vm_region_protect(&p, VA, 4 * PAGE, MMU_PROT_R));
	CHECK_EQ(uaccess(&p, 0, SIM_WRITE, VA + PAGE, 1, NULL), 0x1000 | ST_PF_U | 0x3);
	CHECK_OK(mmu_vm_region_protect(&p, VA, 4 * PAGE, RW));
	CHECK_EQ(uw(&p, 0, VA + PAGE, 0x44), R_OK);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK_EQ(pa_of(&p, VA + PAGE).bits, resident(&o, 3));
	CHECK_EQ(ur(&c, 1, VA + PAGE), 0x44);
	CHECK(counters_are(&p, 1, 0, 0, 0, 1));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 2);
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_ERR(mmu_vm_object_release(&o), MMU_E_BUSY);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_EQ(o.mappings, 0);
	mmu_pa_t pa = mmu_pa(resident(&o, 3));
	CHECK_EQ(frame_refs(pa), 1);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0 + 2); /* the object keeps its pages */
	CHECK_OK(mmu_vm_object_release(&o));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	st_check_sanitizer(vt_sim);
}

/* ---- a pager's pages, private in one space, shared in another ---- */

static void test_pager(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct vt_pager st = {.missing = 5};
	struct mmu_vm_object o;
	mmu_pa_t slots[NPAGES];
	struct mmu_vm_space a, b;
	CHECK_OK(mmu_vm_object_init_pager(vt_mmu, &o, slots, NPAGES, &vt_pager_ops, &st));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &a));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &b));
	CHECK_OK(mmu_vm_region_add_object(&a, VA, NPAGES * PAGE, RW, MMU_VM_PRIVATE, &o, 0));
	CHECK_OK(mmu_vm_region_add_object(&b, VB, PAGE, MMU_PROT_R, MMU_VM_SHARED, &o, 2));
	/* The store keeps shared mappings read-only (shared_writable false):
	 * W on a shared region over it is refused at add and at protect,
	 * with nothing changed. */
	static struct state before; /* its regions: not on the stack */
	state_take(&b, &before);
	CHECK_ERR(mmu_vm_region_add_object(&b, VB + PAGE, PAGE, RW, MMU_VM_SHARED, &o, 3),
		  MMU_E_INVALID_PERMISSION);
	CHECK_ERR(mmu_vm_region_protect(&b, VB, PAGE, RW), MMU_E_INVALID_PERMISSION);
	CHECK(state_same(&b, &before));
	st_load(vt_sim, 0, &a.tree);
	st_load(vt_sim, 1, &b.tree);
	CHECK_EQ(ur(&a, 0, VA + 2 * PAGE + 7), 0xa2);
	mmu_pte_t leaf;
	CHECK_OK(mmu_entry(&a.tree, VA + 2 * PAGE, MMU_LEVEL_PT, &leaf));
	CHECK(!(leaf & MMU_PTE_RW)); /* private: read-only in a writable region */
	CHECK_EQ(ur(&b, 1, VB), 0xa2);
	CHECK_EQ(st.asked, 1u);
	CHECK_EQ(frame_refs(st.page[2]), 4); /* the pager, the object, two leaves */
	CHECK_EQ(uw(&a, 0, VA + 2 * PAGE, 0x55), R_OK);
	CHECK_EQ(vt_last, MMU_VM_COW);
	CHECK(pa_of(&a, VA + 2 * PAGE).bits != st.page[2].bits);
	CHECK_EQ(ur(&a, 0, VA + 2 * PAGE + 1), 0xa2);
	CHECK_EQ(ur(&b, 1, VB), 0xa2);
	CHECK_EQ(*sim_phys(vt_sim, st.page[2]), 0xa2);
	CHECK_EQ(frame_refs(st.page[2]), 3);
	/* A write to an absent page: the object's page first, then its copy. */
	CHECK_EQ(uw(&a, 0, VA + 3 * PAGE, 0x66), R_OK);
	CHECK(counters_are(&a, 2, 2, 0, 0, 0));
	CHECK_EQ(*sim_phys(vt_sim, st.page[3]), 0xa3);
	/* A page the pager does not have: refused, nothing mapped. */
	CHECK_EQ(uaccess(&a, 0, SIM_READ, VA + 5 * PAGE, 0, NULL), 0x1000 | ST_PF_U);
	CHECK_EQ(resident(&o, 5), 0);
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&a));
	CHECK_OK(mmu_vm_space_exit(&b));
	CHECK_EQ(frame_refs(st.page[2]), 2);
	CHECK_OK(mmu_vm_object_release(&o));
	CHECK_EQ(frame_refs(st.page[2]), 1); /* the pager's: its frame still */
	vt_pager_free(&st);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	st_check_sanitizer(vt_sim);
}

/* A pager that lets shared mappings write (a file opened for writing):
 * a shared writable region over it, and protect adding W, are allowed;
 * a write lands in the pager's own frame. */

static void test_pager_writable(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct vt_pager st = {.missing = NPAGES};
	struct mmu_vm_object o;
	mmu_pa_t slots[NPAGES];
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_object_init_pager(vt_mmu, &o, slots, NPAGES, &vt_pager_ops_writable, &st));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add_object(&sp, VA, PAGE, RW, MMU_VM_SHARED, &o, 1));
	CHECK_OK(mmu_vm_region_add_object(&sp, VB, PAGE, MMU_PROT_R, MMU_VM_SHARED, &o, 2));
	CHECK_OK(mmu_vm_region_protect(&sp, VB, PAGE, RW));
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(uw(&sp, 0, VA + 9, 0x77), R_OK);
	CHECK_EQ(sim_phys(vt_sim, st.page[1])[9], 0x77);
	CHECK_EQ(uw(&sp, 0, VB, 0x78), R_OK);
	CHECK_EQ(*sim_phys(vt_sim, st.page[2]), 0x78);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_OK(mmu_vm_object_release(&o));
	vt_pager_free(&st);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	st_check_sanitizer(vt_sim);
}

/* ---- splits keep each piece's page; the mapping count follows ---- */

static void test_split(void)
{
	struct mmu_vm_object o;
	mmu_pa_t slots[NPAGES];
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_object_init_anon(vt_mmu, &o, slots, NPAGES));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add_object(&sp, VA, 6 * PAGE, RW, MMU_VM_SHARED, &o, 1));
	CHECK_OK(mmu_vm_region_protect(&sp, VA + 2 * PAGE, PAGE, MMU_PROT_R));
	CHECK_EQ(sp.nregions, 3u);
	CHECK_EQ(o.mappings, 3);
	CHECK_EQ(sp.region[1].first_page, 3);
	CHECK_EQ(sp.region[2].first_page, 4);
	CHECK_OK(mmu_vm_region_protect(&sp, VA + 2 * PAGE, PAGE, RW)); /* merges back */
	CHECK_EQ(sp.nregions, 1u);
	CHECK_EQ(o.mappings, 1);
	CHECK_OK(mmu_vm_region_remove(&sp, VA + PAGE, 2 * PAGE));
	CHECK_EQ(o.mappings, 2);
	CHECK_EQ(sp.region[1].start, VA + 3 * PAGE);
	CHECK_EQ(sp.region[1].first_page, 4);
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(uw(&sp, 0, VA + 4 * PAGE, 9), R_OK);
	CHECK_EQ(pa_of(&sp, VA + 4 * PAGE).bits, resident(&o, 5));
	/* An anon region next to an object region never merges with it. */
	CHECK_OK(mmu_vm_region_add(&sp, VA + PAGE, 2 * PAGE, RW, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_protect(&sp, VA, 6 * PAGE, RW));
	CHECK_EQ(sp.nregions, 3u);
	CHECK_EQ(o.mappings, 2);
	CHECK_OK(mmu_vm_region_resize(&sp, VA + 3 * PAGE, PAGE)); /* shrink drops the leaf only */
	CHECK(resident(&o, 5) != 0);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_EQ(o.mappings, 0);
	CHECK_OK(mmu_vm_object_release(&o));
}

/* ---- NOMEM on a first touch, at each allocation: nothing changed ---- */

static void test_nomem(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	struct mmu_vm_object o;
	mmu_pa_t slots[NPAGES];
	struct mmu_vm_space sp;
	static struct state snap;
	CHECK_OK(mmu_vm_object_init_anon(vt_mmu, &o, slots, NPAGES));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add_object(&sp, VA, NPAGES * PAGE, RW, MMU_VM_SHARED, &o, 0));
	st_load(vt_sim, 0, &sp.tree);
	for (int table = 0; table < 2; table++) {
		state_take(&sp, &snap);
		sim_fail_alloc_after(vt_sim, table ? MMU_FRAME_TABLE : MMU_FRAME_DATA, 0);
		CHECK_EQ(uw(&sp, 0, VA, 1), R_NOMEM);
		sim_fail_alloc_after(vt_sim, table ? MMU_FRAME_TABLE : MMU_FRAME_DATA, -1);
		CHECK(state_same(&sp, &snap));
		CHECK_EQ(resident(&o, 0), 0);
	}
	CHECK(counters_are(&sp, 0, 0, 0, 0, 0));
	CHECK_EQ(uw(&sp, 0, VA, 1), R_OK);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_OK(mmu_vm_object_release(&o));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_args();
	test_shared_fork();
	test_pager();
	test_pager_writable();
	test_split();
	test_nomem();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
