/* SPDX-License-Identifier: MIT */
/* Isolation regressions on the software machine, the TLB sanitizer as the
 * oracle: translations one address space cached must never be used by
 * another, nor outlive the frame they map.
 *
 * - a global leaf of a user tree is dropped when a CPU leaves that tree
 *   (plain and PCID loads, and through KPTI shadows);
 * - KPTI with PCIDs: the user-PCID flush a CPU owes a space survives a
 *   switch to another space and back before the exit to user mode;
 * - PCIDs: a frame shared after fork, whose leaf one sharer drops while
 *   a lazy CPU of that sharer still caches it, is not freed by the other
 *   sharer before that CPU lost it;
 * - KPTI: global kernel leaves do not survive the switch to a shadow. */
#include "simtest.h"

#define PAGE 0x1000ull
#define KWIN 0xffffc80000000000ull /* the kernel-half window tests may use */

static struct sim *sim;
static struct mmu *mmu;

static struct sim *machine(unsigned ncpus, bool pcid, bool invpcid)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = ncpus;
	cfg.pcide = pcid;
	cfg.no_invpcid = !invpcid;
	sim = st_machine(&cfg);
	mmu = sim_mmu(sim);
	return sim;
}

static uint32_t user_read(unsigned cpu, mmu_vaddr_t va)
{
	return st_result(sim_access(sim, cpu, SIM_READ, va, true, false, 0));
}

/* Tree A's global user page must not be reachable once CPU 1 loads the
 * kernel tree or tree B (on hardware every CR3 write keeps G entries). */
static void test_user_global_leaf(bool pcid)
{
	machine(2, pcid, true);
	struct mmu_tree a, b;
	mmu_pa_t f;
	CHECK_OK(mmu_tree_create(mmu, &a));
	CHECK_OK(mmu_tree_create(mmu, &b));
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &f));
	struct mmu_map_opts g = {.global = true};
	CHECK_OK(mmu_map(&a, 0x1000, f, PAGE, MMU_PROT_R | MMU_PROT_W | MMU_PROT_U, &g, NULL));
	st_load(sim, 1, &a);
	CHECK_EQ(user_read(1, 0x1010), ST_OK);
	st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_EQ(user_read(1, 0x1010), ST_PF_U);
	st_load(sim, 1, &a);
	CHECK_EQ(user_read(1, 0x1010), ST_OK);
	st_load(sim, 1, &b);
	CHECK_EQ(user_read(1, 0x1010), ST_PF_U);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&a));
	CHECK_OK(mmu_tree_destroy(&b));
	sim_frame_free(sim, MMU_SIZE_4K, f);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* A KPTI template T and two KPTI spaces P and Q; P has one eager page at
 * 0x400000 (its first page links the root slot the shadow shares). */
static void kpti_spaces(struct mmu_kpti *t, struct mmu_vm_space *p, struct mmu_vm_space *q)
{
	CHECK_OK(mmu_kpti_init(mmu, t, NULL, 0));
	CHECK_OK(mmu_vm_space_create(mmu, p));
	CHECK_OK(mmu_vm_space_create(mmu, q));
	CHECK_OK(mmu_vm_kpti_enable(p, t));
	CHECK_OK(mmu_vm_kpti_enable(q, t));
	CHECK_OK(mmu_vm_region_add(p, 0x400000, PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_EAGER, 0));
}

/* The same through KPTI shadows: user mode of space P reads P's global
 * user page on P's shadow; after the CPU switched to space Q (kernel CR3
 * of P, load Q, Q's shadow), Q's user mode must not reach it. */
static void test_kpti_user_global_leaf(bool pcid, bool invpcid)
{
	machine(2, pcid, invpcid);
	struct mmu_kpti t;
	struct mmu_vm_space p, q;
	mmu_pa_t f;
	/* P's eager page first, so the shadow shares the tables the global
	 * page lands in. */
	kpti_spaces(&t, &p, &q);
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &f));
	struct mmu_map_opts g = {.global = true};
	CHECK_OK(mmu_map(&p.tree, 0x1000, f, PAGE, MMU_PROT_R | MMU_PROT_W | MMU_PROT_U, &g, NULL));
	st_load(sim, 1, &p.tree);
	sim_write_cr3(sim, 1, mmu_vm_user_cr3(&p));
	CHECK_EQ(user_read(1, 0x1010), ST_OK);
	sim_write_cr3(sim, 1, mmu_vm_kernel_cr3(&p));
	st_load(sim, 1, &q.tree);
	sim_write_cr3(sim, 1, mmu_vm_user_cr3(&q));
	CHECK_EQ(user_read(1, 0x1010), ST_PF_U);
	sim_write_cr3(sim, 1, mmu_vm_kernel_cr3(&q));
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_unmap(&p.tree, 0x1000, PAGE, NULL));
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_OK(mmu_vm_space_exit(&q));
	mmu_kpti_fini(&t);
	sim_frame_free(sim, MMU_SIZE_4K, f);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* User mode of P caches a writable page under P's user PCID; while CPU 0
 * runs Q, P's page becomes read-only (no IPI: CPU 0 is only lazy for P).
 * CPU 0 then loads P (the kernel PCID is flushed, the user PCID is owed a
 * flush), loads Q and P again before returning to user mode: the debt
 * must still be there. */
static void test_kpti_pcid_debt_survives_switch(bool invpcid)
{
	machine(2, true, invpcid);
	struct mmu_kpti t;
	struct mmu_vm_space p, q;
	kpti_spaces(&t, &p, &q);
	st_load(sim, 0, &p.tree);
	sim_write_cr3(sim, 0, mmu_vm_user_cr3(&p));
	CHECK_EQ(st_result(sim_access(sim, 0, SIM_WRITE, 0x400000, true, false, 1)), ST_OK);
	sim_write_cr3(sim, 0, mmu_vm_kernel_cr3(&p));
	st_load(sim, 0, &q.tree);
	CHECK_OK(mmu_protect(&p.tree, 0x400000, PAGE, MMU_PROT_R | MMU_PROT_U, NULL));
	st_load(sim, 0, &p.tree);
	st_load(sim, 0, &q.tree);
	st_load(sim, 0, &p.tree);
	uint64_t ucr3 = mmu_vm_user_cr3(&p);
	CHECK_EQ(ucr3 & MMU_CR3_NOFLUSH, 0ull);
	sim_write_cr3(sim, 0, ucr3);
	CHECK_EQ(st_result(sim_access(sim, 0, SIM_WRITE, 0x400000, true, false, 2)), ST_PF_P | ST_PF_W | ST_PF_U);
	sim_write_cr3(sim, 0, mmu_vm_kernel_cr3(&p));
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	st_load(sim, 0, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_OK(mmu_vm_space_exit(&q));
	mmu_kpti_fini(&t);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* P forks Q; CPU 1 reads the shared frame through P, then goes lazy. P
 * drops its leaf (a region remove or a COW copy: the frame stays, Q maps
 * it), then Q's region remove frees the frame. CPU 1 must have lost P's translation by then. */
static void test_pcid_shared_frame_lazy_cpu(bool kpti, bool cow)
{
	machine(2, true, false);
	struct mmu_kpti t;
	struct mmu_vm_space p, q;
	if (kpti)
		CHECK_OK(mmu_kpti_init(mmu, &t, NULL, 0));
	CHECK_OK(mmu_vm_space_create(mmu, &p));
	if (kpti)
		CHECK_OK(mmu_vm_kpti_enable(&p, &t));
	/* Two pages, so that dropping the first empties no table (a freed
	 * table would reach the lazy CPUs anyway). */
	CHECK_OK(mmu_vm_region_add(&p, 0x400000, 2 * PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_EAGER, 0));
	CHECK_OK(mmu_vm_fork(&p, &q));
	st_load(sim, 1, &p.tree);
	sim_set_cpu(sim, 1); /* the CR3 values are CPU 1's */
	if (kpti)
		sim_write_cr3(sim, 1, mmu_vm_user_cr3(&p));
	CHECK_EQ(user_read(1, 0x400000), ST_OK);
	if (kpti)
		sim_write_cr3(sim, 1, mmu_vm_kernel_cr3(&p));
	sim_set_cpu(sim, 0);
	st_load(sim, 1, mmu_kernel_tree(mmu));
	if (cow) {
		/* P's write on CPU 0 copies the page: P's old leaf goes. */
		st_load(sim, 0, &p.tree);
		if (kpti)
			sim_write_cr3(sim, 0, mmu_vm_user_cr3(&p));
		struct sim_access a = sim_access(sim, 0, SIM_WRITE, 0x400000, true, false, 7);
		if (kpti)
			sim_write_cr3(sim, 0, mmu_vm_kernel_cr3(&p));
		CHECK_EQ(st_result(a), ST_PF_P | ST_PF_W | ST_PF_U);
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, MMU_VM_FAULT_ACCESS);
		CHECK_EQ(mmu_vm_handle_fault(&p, &f), MMU_VM_COW);
		st_load(sim, 0, mmu_kernel_tree(mmu));
	} else {
		CHECK_OK(mmu_vm_region_remove(&p, 0x400000, PAGE));
	}
	CHECK_OK(mmu_vm_region_remove(&q, 0x400000, PAGE)); /* Q frees the frame */
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	CHECK_OK(mmu_vm_space_exit(&q));
	CHECK_OK(mmu_vm_space_exit(&p));
	if (kpti)
		mmu_kpti_fini(&t);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* With KPTI a global kernel leaf cached in the kernel must not answer a
 * user access made on the shadow, where that page is not mapped. */
static void test_kpti_global_kernel_leaf(bool map_before_kpti)
{
	machine(1, false, false);
	struct mmu_kpti t;
	struct mmu_vm_space p;
	mmu_pa_t f;
	struct mmu_map_opts g = {.global = true};
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &f));
	if (map_before_kpti)
		CHECK_OK(mmu_map(mmu_kernel_tree(mmu), KWIN, f, PAGE, MMU_PROT_R | MMU_PROT_W, &g, NULL));
	CHECK_OK(mmu_kpti_init(mmu, &t, NULL, 0));
	if (!map_before_kpti)
		CHECK_OK(mmu_map(mmu_kernel_tree(mmu), KWIN, f, PAGE, MMU_PROT_R | MMU_PROT_W, &g, NULL));
	struct mmu_translation tr;
	CHECK_OK(mmu_walk(mmu_kernel_tree(mmu), KWIN, &tr));
	CHECK_EQ(tr.leaf & MMU_PTE_G, 0ull); /* G is stripped while KPTI is on */
	CHECK_OK(mmu_vm_space_create(mmu, &p));
	CHECK_OK(mmu_vm_kpti_enable(&p, &t));
	st_load(sim, 0, &p.tree);
	CHECK_EQ(st_result(sim_access(sim, 0, SIM_READ, KWIN, false, false, 0)), ST_OK);
	sim_write_cr3(sim, 0, mmu_vm_user_cr3(&p));
	CHECK_EQ(user_read(0, KWIN), ST_PF_U);
	sim_write_cr3(sim, 0, mmu_vm_kernel_cr3(&p));
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	st_load(sim, 0, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_vm_space_exit(&p));
	mmu_kpti_fini(&t);
	CHECK_OK(mmu_unmap(mmu_kernel_tree(mmu), KWIN, PAGE, NULL));
	sim_frame_free(sim, MMU_SIZE_4K, f);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned pcid = 0; pcid < 2; pcid++)
		test_user_global_leaf(pcid);
	for (unsigned pcid = 0; pcid < 2; pcid++)
		for (unsigned invpcid = 0; invpcid < 2; invpcid++)
			test_kpti_user_global_leaf(pcid, invpcid);
	for (unsigned invpcid = 0; invpcid < 2; invpcid++)
		test_kpti_pcid_debt_survives_switch(invpcid);
	for (unsigned kpti = 0; kpti < 2; kpti++)
		for (unsigned cow = 0; cow < 2; cow++)
			test_pcid_shared_frame_lazy_cpu(kpti, cow);
	for (unsigned before = 0; before < 2; before++)
		test_kpti_global_kernel_leaf(before);
	return 0;
}
