/* SPDX-License-Identifier: MIT */
/* Guard regions (MMU_VM_GUARD, PROT_NONE) on the software machine:
 * reserved addresses where every access and every copy-to-user is
 * refused with nothing mapped, no stack growing into them and the guard
 * gap kept from them, their permissions never changed by protect, and
 * add, remove, resize and fork as for any region. 4 and 5 levels, PCIDs
 * off and on. */
#include "vmtest.h"

#define RW (MMU_PROT_R | MMU_PROT_W)
#define GUARD 0x10000000ull
#define STACK (GUARD + 0x10000 + MMU_VM_GUARD_GAP) /* a stack 1M above the guard's end */

static void test_add(void)
{
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_ERR(mmu_vm_region_add(&sp, GUARD, PAGE, 0x10, MMU_VM_GUARD, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, GUARD, PAGE, 0, MMU_VM_GUARD, 2 * PAGE), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&sp, GUARD + 8, PAGE, MMU_PROT_R, MMU_VM_GUARD, 0), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_region_add(&sp, GUARD, PAGE, MMU_PROT_R, MMU_VM_GUARD, 0), MMU_E_INVALID_PERMISSION);
	CHECK_ERR(mmu_vm_region_add(&sp, GUARD, PAGE, MMU_PROT_X, MMU_VM_GUARD, 0), MMU_E_INVALID_PERMISSION);
	CHECK_ERR(mmu_vm_region_add(&sp, GUARD, PAGE, 0, MMU_VM_ANON, 0), MMU_E_INVALID_PERMISSION);
	CHECK_EQ(sp.nregions, 0);
	CHECK_OK(mmu_vm_region_add(&sp, GUARD, 0x10000, MMU_PROT_U, MMU_VM_GUARD, 0)); /* U ignored */
	CHECK_EQ(sp.region[0].prot, 0);
	CHECK_EQ(sp.region[0].kind, MMU_VM_GUARD);
	CHECK_ERR(mmu_vm_region_add(&sp, GUARD + 0xf000, PAGE, RW, MMU_VM_ANON, 0), MMU_E_DUPLICATED);
	CHECK_OK(mmu_vm_space_exit(&sp));
}

/* A guard, then a stack 1M (the gap) above it, and an anon region. */
static void guard_space(struct mmu_vm_space *sp)
{
	CHECK_OK(mmu_vm_space_create(vt_mmu, sp));
	CHECK_OK(mmu_vm_region_add(sp, GUARD, 0x10000, 0, MMU_VM_GUARD, 0));
	CHECK_OK(mmu_vm_region_add(sp, STACK + 0x10000, 0x10000, RW, MMU_VM_STACK, 4 * MB));
	CHECK_OK(mmu_vm_region_add(sp, GUARD - 0x10000, 0x10000, RW | MMU_PROT_X, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &sp->tree);
}

/* Every access there is refused and maps nothing, copy-to-user too. */
static void test_refused(void)
{
	struct mmu_vm_space sp;
	struct state before;
	unsigned cpu = 0;
	uint32_t code = 0;
	const uint8_t byte = 1;
	guard_space(&sp);
	state_take(&sp, &before);
	CHECK_EQ(uaccess(&sp, 0, SIM_READ, GUARD, 0, NULL), 0x1000 | ST_PF_U);
	CHECK_EQ(vt_last, MMU_VM_SEGV);
	CHECK_EQ(uw(&sp, 0, GUARD + 0xf000, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_EQ(uaccess(&sp, 0, SIM_EXEC, GUARD + PAGE, 0, NULL), 0x1000 | ST_PF_ID | ST_PF_U);
	CHECK_OK(mmu_vm_copy_to_user(&sp, GUARD + 0x10, &byte, 1, vt_store, &cpu, &code));
	CHECK_EQ(code, MMU_VM_COPY_REFUSED | ST_PF_W);
	struct mmu_vm_fault f = mmu_vm_fault_decode(ST_PF_W, GUARD, MMU_VM_FAULT_COPY_USER);
	CHECK_EQ(mmu_vm_handle_fault(&sp, &f), MMU_VM_REFUSED);
	CHECK(state_same(&sp, &before));
	st_snapshot_free(&before.snap);
	CHECK(counters_are(&sp, 0, 0, 0, 0, 3));
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
}

/* A stack above a guard keeps the gap from it; one right above it never
 * grows into it. */
static void test_stack(void)
{
	struct mmu_vm_space sp;
	guard_space(&sp);
	CHECK_EQ(uw(&sp, 0, STACK + PAGE, 1), R_OK);
	CHECK_EQ(vt_last, MMU_VM_STACK_GROWN);
	CHECK_EQ(uw(&sp, 0, STACK, 1), R_OK); /* exactly the gap from the guard's end */
	CHECK_EQ(uw(&sp, 0, STACK - PAGE, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_OK(mmu_vm_region_remove(&sp, STACK, 0x20000 + 0x10000));
	CHECK_OK(mmu_vm_region_add(&sp, GUARD + 0x10000, PAGE, RW, MMU_VM_STACK, 0));
	CHECK_EQ(uw(&sp, 0, GUARD + 0xf000, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_EQ(sp.region[2].start, GUARD + 0x10000);
	CHECK(counters_are(&sp, 0, 0, 2, 0, 2));
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
}

/* Protect never gives a guard permissions; remove, resize, fork work. */
static void test_changes(void)
{
	struct mmu_vm_space sp, child;
	struct state before;
	guard_space(&sp);
	CHECK_EQ(uw(&sp, 0, GUARD - PAGE, 3), R_OK);
	state_take(&sp, &before);
	CHECK_ERR(mmu_vm_region_protect(&sp, GUARD, PAGE, MMU_PROT_R), MMU_E_INVALID_PERMISSION);
	CHECK_ERR(mmu_vm_region_protect(&sp, GUARD - PAGE, 2 * PAGE, MMU_PROT_R), MMU_E_INVALID_PERMISSION);
	CHECK_ERR(mmu_vm_region_protect(&sp, GUARD, PAGE, 0), MMU_E_INVALID_PERMISSION);
	CHECK(state_same(&sp, &before));
	st_snapshot_free(&before.snap);
	CHECK_EQ(uw(&sp, 0, GUARD - PAGE, 4), R_OK); /* still writable */
	CHECK_OK(mmu_vm_region_protect(&sp, GUARD - PAGE, PAGE, MMU_PROT_R)); /* beside the guard: fine */
	CHECK_OK(mmu_vm_fork(&sp, &child));
	CHECK_EQ(child.region[2].kind, MMU_VM_GUARD);
	CHECK_OK(mmu_vm_region_resize(&sp, GUARD, 0x20000));
	CHECK_EQ(uaccess(&sp, 0, SIM_READ, GUARD + 0x18000, 0, NULL), 0x1000 | ST_PF_U);
	CHECK_OK(mmu_vm_region_remove(&sp, GUARD, 0x20000));
	CHECK_ERR(mmu_vm_region_protect(&sp, GUARD, PAGE, MMU_PROT_R), MMU_E_NOTEXIST);
	CHECK_OK(mmu_vm_region_add(&sp, GUARD, 0x10000, RW, MMU_VM_ANON, 0)); /* committed */
	CHECK_EQ(uw(&sp, 0, GUARD, 5), R_OK);
	CHECK(counters_are(&sp, 2, 0, 0, 0, 1));
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&child));
	CHECK_OK(mmu_vm_space_exit(&sp));
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_add();
	test_refused();
	test_stack();
	test_changes();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
