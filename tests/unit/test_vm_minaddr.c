/* SPDX-License-Identifier: MIT */
/* The lowest mappable address of a space (mmu_vm_space_set_min_addr) on
 * the software machine: page 0 refused by default, a space that maps page
 * 0 (xv6's layout), a raised bound refusing regions, faults, stack growth
 * and copy-to-user below it, the errors with nothing changed, fork
 * inheriting it. 4 and 5 levels, PCIDs off and on. */
#include "vmtest.h"

#define RW (MMU_PROT_R | MMU_PROT_W)

static void test_default(void)
{
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_EQ(sp.min_addr, MMU_VM_MIN_ADDR_DEFAULT);
	CHECK_ERR(mmu_vm_region_add(&sp, 0, PAGE, RW, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_OK(mmu_vm_region_add(&sp, PAGE, PAGE, RW, MMU_VM_STACK, 2 * PAGE));
	st_load(vt_sim, 0, &sp.tree);
	/* Page 0 stays out of the stack's reach though max allows it. */
	CHECK_EQ(uw(&sp, 0, 0x10, 1), 0x1000 | ST_PF_W | ST_PF_U);
	CHECK_EQ(sp.region[0].start, PAGE);
	CHECK(counters_are(&sp, 0, 0, 0, 0, 1));
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&sp));
}

/* xv6 links programs at 0: with the bound at 0, page 0 is a page. */
static void test_page_zero(void)
{
	struct mmu_vm_space sp, child;
	unsigned cpu = 1;
	uint32_t code = 1;
	const uint8_t bytes[2] = {0x5a, 0xa5};
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_space_set_min_addr(&sp, 0));
	CHECK_OK(mmu_vm_region_add(&sp, 0, 4 * PAGE, RW, MMU_VM_ANON, 0));
	CHECK(mmu_vm_region_at(&sp, 0) != NULL);
	st_load(vt_sim, cpu, &sp.tree);
	sim_set_cpu(vt_sim, cpu);
	CHECK_OK(mmu_vm_copy_to_user(&sp, 0, bytes, 2, vt_store, &cpu, &code));
	CHECK_EQ(code, 0);
	sim_set_cpu(vt_sim, 0);
	CHECK_EQ(ur(&sp, cpu, 1), 0xa5);
	CHECK_EQ(uw(&sp, cpu, 3 * PAGE, 1), R_OK);
	CHECK_OK(mmu_vm_region_protect(&sp, 0, PAGE, MMU_PROT_R));
	CHECK_EQ(uw(&sp, cpu, 0, 1), 0x1000 | ST_PF_P | ST_PF_W | ST_PF_U);
	CHECK_OK(mmu_vm_fork(&sp, &child));
	CHECK_EQ(child.min_addr, 0);
	CHECK(mmu_vm_region_at(&child, 0) != NULL);
	CHECK_OK(mmu_vm_region_remove(&sp, 0, 4 * PAGE));
	CHECK(counters_are(&sp, 2, 0, 0, 0, 1));
	/* A stack above page 0 may grow down to it now. */
	CHECK_OK(mmu_vm_region_add(&sp, PAGE, PAGE, RW, MMU_VM_STACK, 0));
	CHECK_EQ(uw(&sp, cpu, 0, 2), R_OK);
	CHECK_EQ(vt_last, MMU_VM_STACK_GROWN);
	unload(cpu);
	CHECK_OK(mmu_vm_space_exit(&child));
	CHECK_OK(mmu_vm_space_exit(&sp));
}

static void test_raised(void)
{
	struct mmu_vm_space sp;
	struct state before;
	unsigned cpu = 1;
	uint32_t code = 0;
	const uint8_t byte = 7;
	mmu_vaddr_t top = 1ull << (mmu_va_bits(vt_mmu->levels) - 1);
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add(&sp, 0x10000, PAGE, RW, MMU_VM_ANON, 0));
	state_take(&sp, &before);
	CHECK_ERR(mmu_vm_space_set_min_addr(&sp, top), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_space_set_min_addr(&sp, 0xffffc80000000000ull), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_space_set_min_addr(&sp, 0x10800), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_vm_space_set_min_addr(&sp, 0x11000), MMU_E_DUPLICATED);
	CHECK(state_same(&sp, &before));
	CHECK_EQ(sp.min_addr, MMU_VM_MIN_ADDR_DEFAULT);
	st_snapshot_free(&before.snap);
	CHECK_OK(mmu_vm_space_set_min_addr(&sp, 0x10000)); /* the region starts there: allowed */
	CHECK_ERR(mmu_vm_region_add(&sp, 0xf000, PAGE, RW, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_remove(&sp, 0xf000, 2 * PAGE), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&sp, 0xf000, 2 * PAGE, MMU_PROT_R), MMU_E_INVALID);
	/* A stack right above the bound grows to it, not below. */
	CHECK_OK(mmu_vm_region_remove(&sp, 0x10000, PAGE));
	CHECK_OK(mmu_vm_region_add(&sp, 0x12000, PAGE, RW, MMU_VM_STACK, 0));
	st_load(vt_sim, cpu, &sp.tree);
	CHECK_EQ(uw(&sp, cpu, 0x10000, 1), R_OK);
	CHECK_EQ(vt_last, MMU_VM_STACK_GROWN);
	state_take(&sp, &before);
	CHECK_EQ(uw(&sp, cpu, 0xf000, 1), 0x1000 | ST_PF_W | ST_PF_U);
	sim_set_cpu(vt_sim, cpu);
	CHECK_OK(mmu_vm_copy_to_user(&sp, 0xf000, &byte, 1, vt_store, &cpu, &code));
	CHECK_EQ(code, MMU_VM_COPY_REFUSED | ST_PF_W);
	sim_set_cpu(vt_sim, 0);
	CHECK(state_same(&sp, &before));
	st_snapshot_free(&before.snap);
	CHECK(counters_are(&sp, 0, 0, 1, 0, 1));
	/* Lowered again: the stack may grow on. */
	CHECK_OK(mmu_vm_space_set_min_addr(&sp, PAGE));
	CHECK_EQ(uw(&sp, cpu, 0xf000, 1), R_OK);
	unload(cpu);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_ERR(mmu_vm_space_set_min_addr(&sp, PAGE), MMU_E_INVALID);
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_default();
	test_page_zero();
	test_raised();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
