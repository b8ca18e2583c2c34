/* SPDX-License-Identifier: MIT */
/* KPTI on the software machine: the template from an allow-list, a space's
 * shadow (user half mirrored as faults add and zaps remove root entries,
 * kernel half limited to the allow-list, never US), user mode running on
 * the shadow's CR3, fork and exit with shadows, the audit catching a
 * broken shadow, NOMEM changing nothing. 4- and 5-level paging. */
#include "simtest.h"

#define PAGE 0x1000ull
#define KWIN 0xffffc80000000000ull /* the kernel-half window tests may use */

static struct sim *sim;
static struct mmu *mmu;

/* A user access on CPU 0 running SP in user mode (the shadow's CR3): on a
 * #PF the kernel enters (its CR3), handles the fault, and returns to user
 * mode. ST_OK or the refused fault's error code. */
static uint32_t user_access(struct mmu_vm_space *sp, enum sim_access_kind kind, mmu_vaddr_t va)
{
	for (unsigned i = 0; i < 4; i++) {
		sim_write_cr3(sim, 0, mmu_vm_user_cr3(sp));
		struct sim_access a = sim_access(sim, 0, kind, va, true, false, 0x5a);
		sim_write_cr3(sim, 0, mmu_vm_kernel_cr3(sp));
		if (a.outcome != SIM_PF)
			return st_result(a);
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, MMU_VM_FAULT_ACCESS);
		enum mmu_vm_outcome o = mmu_vm_handle_fault(sp, &f);
		CHECK(o != MMU_VM_NOMEM && o != MMU_VM_DEAD);
		if (!mmu_vm_resolved(o))
			return a.error_code;
	}
	return 0xdead;
}

/* A supervisor read by CPU 0 while the shadow's CR3 is loaded (what the
 * entry code can reach before it switches). */
static uint32_t shadow_kernel_read(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	sim_write_cr3(sim, 0, mmu_vm_user_cr3(sp));
	uint32_t r = st_result(sim_access(sim, 0, SIM_READ, va, false, false, 0));
	sim_write_cr3(sim, 0, mmu_vm_kernel_cr3(sp));
	return r;
}

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "  %s\n", line);
}

static void test_kpti(void)
{
	uint64_t tables0 = sim_tables_in_use(sim), frames0 = sim_frames_in_use(sim);
	struct mmu_tree *k = mmu_kernel_tree(mmu);
	mmu_pa_t f;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &f));
	/* The entry trampoline (rx), two entry-stack pages (rw), and kernel
	 * data that user mode must not reach: in the same root slot and in
	 * another one. */
	mmu_vaddr_t tramp = KWIN + 0x10000, stack = KWIN + 0x20000, secret = KWIN + 0x30000;
	mmu_vaddr_t far_secret = KWIN - (1ull << mmu_level_shift((enum mmu_level)mmu->levels));
	CHECK_OK(mmu_map(k, tramp, f, PAGE, MMU_PROT_R | MMU_PROT_X, NULL, NULL));
	CHECK_OK(mmu_map(k, stack, mmu_pa_add(f, PAGE), 2 * PAGE, MMU_PROT_R | MMU_PROT_W, NULL, NULL));
	CHECK_OK(mmu_map(k, secret, mmu_pa_add(f, 4 * PAGE), PAGE, MMU_PROT_R | MMU_PROT_W, NULL, NULL));
	CHECK_OK(mmu_map(k, far_secret, mmu_pa_add(f, 5 * PAGE), PAGE, MMU_PROT_R, NULL, NULL));
	uint64_t tables_k = sim_tables_in_use(sim);
	struct mmu_kpti t;
	const struct mmu_kpti_range ok[] = {{tramp, PAGE}, {stack, 2 * PAGE}};
	const struct mmu_kpti_range user[] = {{0x400000, PAGE}};
	const struct mmu_kpti_range odd[] = {{tramp + 8, PAGE}};
	const struct mmu_kpti_range hole[] = {{tramp, 2 * PAGE}};
	CHECK_OK(mmu_kpti_init(mmu, &t, ok, 0)); /* an empty kernel half */
	mmu_kpti_fini(&t);
	CHECK_EQ(sim_tables_in_use(sim), tables_k);
	CHECK_ERR(mmu_kpti_init(mmu, &t, ok, MMU_KPTI_MAX_RANGES + 1), MMU_E_INVALID);
	CHECK_ERR(mmu_kpti_init(mmu, &t, user, 1), MMU_E_INVALID);
	CHECK_ERR(mmu_kpti_init(mmu, &t, odd, 1), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_kpti_init(mmu, &t, hole, 1), MMU_E_NOTEXIST);
	sim_fail_alloc_after(sim, MMU_FRAME_TABLE, 1);
	CHECK_ERR(mmu_kpti_init(mmu, &t, ok, 2), MMU_E_NOMEM);
	sim_fail_alloc_after(sim, MMU_FRAME_TABLE, -1);
	CHECK_EQ(sim_tables_in_use(sim), tables_k);
	CHECK_OK(mmu_kpti_init(mmu, &t, ok, 2));

	struct mmu_vm_space sp, child;
	CHECK_OK(mmu_vm_space_create(mmu, &sp));
	CHECK_OK(mmu_vm_region_add(&sp, 0x400000, 0x10000, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_region_add(&sp, 0x8000000000ull, 0x1000, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	CHECK_EQ(mmu_vm_user_cr3(&sp), mmu_tree_cr3(&sp.tree));
	sim_fail_alloc_after(sim, MMU_FRAME_TABLE, 0);
	CHECK_ERR(mmu_vm_kpti_enable(&sp, &t), MMU_E_NOMEM);
	sim_fail_alloc_after(sim, MMU_FRAME_TABLE, -1);
	CHECK(sp.kpti == NULL);
	CHECK_OK(mmu_vm_kpti_enable(&sp, &t));
	CHECK_ERR(mmu_vm_kpti_enable(&sp, &t), MMU_E_INVALID);
	CHECK(mmu_vm_user_cr3(&sp) != mmu_tree_cr3(&sp.tree));
	CHECK_EQ(mmu_vm_kpti_audit(&sp, print_line, NULL), 0);
	st_load(sim, 0, &sp.tree);

	/* User mode on the shadow: faults add root entries (both slots),
	 * which the shadow sees on the retry. */
	CHECK_EQ(user_access(&sp, SIM_WRITE, 0x400000), ST_OK);
	CHECK_EQ(user_access(&sp, SIM_READ, 0x400000), ST_OK);
	CHECK_EQ(user_access(&sp, SIM_WRITE, 0x8000000000ull), ST_OK);
	CHECK_EQ(user_access(&sp, SIM_WRITE, 0x500000), ST_PF_W | ST_PF_U);
	CHECK_EQ(mmu_vm_kpti_audit(&sp, print_line, NULL), 0);
	/* The shadow's kernel half: the allow-list only, never for user. */
	CHECK_EQ(shadow_kernel_read(&sp, tramp), ST_OK);
	CHECK_EQ(shadow_kernel_read(&sp, stack + PAGE), ST_OK);
	CHECK_EQ(shadow_kernel_read(&sp, secret), 0);
	CHECK_EQ(shadow_kernel_read(&sp, far_secret), 0);
	CHECK_EQ(user_access(&sp, SIM_READ, tramp), ST_PF_P | ST_PF_U);
	/* The kernel's own CR3 reaches everything. */
	CHECK_EQ(st_result(sim_access(sim, 0, SIM_READ, secret, false, false, 0)), ST_OK);

	/* Fork: the child gets its own shadow (NOMEM at its root, its shadow
	 * or any of its tables changes nothing), audited clean. */
	uint64_t need = st_count_tables(sim, &sp.tree) + 1, tables = sim_tables_in_use(sim);
	for (uint64_t fail_at = 0; fail_at < need; fail_at++) {
		sim_fail_alloc_after(sim, MMU_FRAME_TABLE, (long)fail_at);
		CHECK_ERR(mmu_vm_fork(&sp, &child), MMU_E_NOMEM);
		sim_fail_alloc_after(sim, MMU_FRAME_TABLE, -1);
		CHECK_EQ(sim_tables_in_use(sim), tables);
	}
	CHECK_EQ(user_access(&sp, SIM_WRITE, 0x400000), ST_OK); /* still writable */
	CHECK_OK(mmu_vm_fork(&sp, &child));
	CHECK(child.kpti == &t && child.shadow.bits != sp.shadow.bits);
	CHECK_EQ(mmu_vm_kpti_audit(&child, print_line, NULL), 0);
	CHECK_EQ(user_access(&sp, SIM_WRITE, 0x400000), ST_OK); /* COW on the shadow */

	/* Removing the far region empties its root slot: the shadow drops the
	 * entry before the table is freed (the sanitizer watches). */
	CHECK_OK(mmu_vm_region_remove(&sp, 0x8000000000ull, 0x1000));
	CHECK_EQ(mmu_vm_kpti_audit(&sp, print_line, NULL), 0);
	CHECK_EQ(user_access(&sp, SIM_READ, 0x8000000000ull), ST_PF_U);

	/* The audit sees a broken shadow. */
	mmu_pte_t *shadow = (mmu_pte_t *)sim_phys(sim, sp.shadow);
	unsigned kslot = mmu_va_index(tramp, (enum mmu_level)mmu->levels);
	shadow[kslot] |= MMU_PTE_US;
	CHECK_EQ(mmu_vm_kpti_audit(&sp, NULL, NULL), 2); /* US, and the slot is not the template's */
	shadow[kslot] &= ~MMU_PTE_US;
	mmu_pte_t saved = shadow[5];
	shadow[5] = shadow[0];
	CHECK_EQ(mmu_vm_kpti_audit(&sp, NULL, NULL), 1);
	shadow[5] = saved;
	unsigned fslot = mmu_va_index(far_secret, (enum mmu_level)mmu->levels);
	saved = shadow[fslot];
	shadow[fslot] = ((mmu_pte_t *)sim_phys(sim, mmu_pa(mmu_tree_cr3(k))))[fslot];
	CHECK_EQ(mmu_vm_kpti_audit(&sp, NULL, NULL), 2); /* the slot, and far_secret's leaf */
	shadow[fslot] = saved;
	CHECK_EQ(mmu_vm_kpti_audit(&sp, NULL, NULL), 0);

	st_load(sim, 0, k);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_OK(mmu_vm_space_exit(&child));
	CHECK_EQ(mmu_user_tables(mmu), 0);
	mmu_kpti_fini(&t);
	CHECK_EQ(sim_tables_in_use(sim), tables_k);
	CHECK_OK(mmu_unmap(k, KWIN, 0x40000, NULL));
	CHECK_OK(mmu_unmap(k, far_secret, PAGE, NULL));
	sim_frame_free(sim, MMU_SIZE_2M, f);
	CHECK_EQ(sim_tables_in_use(sim), tables0);
	CHECK_EQ(sim_frames_in_use(sim), frames0);
	st_check_sanitizer(sim);
}

/* A machine with PCIDs, a template with an empty kernel half, and a space
 * with KPTI and one anon region. */
static void pcid_space(bool invpcid, unsigned ncpus, struct mmu_kpti *t, struct mmu_vm_space *sp)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.pcide = true;
	cfg.no_invpcid = !invpcid;
	cfg.ncpus = ncpus;
	sim = st_machine(&cfg);
	mmu = sim_mmu(sim);
	CHECK_OK(mmu_kpti_init(mmu, t, NULL, 0));
	CHECK_OK(mmu_vm_space_create(mmu, sp));
	CHECK_OK(mmu_vm_region_add(sp, 0x400000, 0x10000, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	CHECK_OK(mmu_vm_kpti_enable(sp, t));
}

static void pcid_space_end(struct mmu_kpti *t, struct mmu_vm_space *sp)
{
	for (unsigned cpu = 0; cpu < sim_config(sim)->ncpus; cpu++)
		st_load(sim, cpu, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_vm_space_exit(sp));
	mmu_kpti_fini(t);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* With PCIDs the shadow runs under the space's PCID | MMU_PCID_USER. An
 * invalidation made in the kernel (INVLPG reaches only the kernel PCID)
 * is owed to the user PCID: the next exit loads it without the no-flush
 * bit, and user mode sees the change. */
static void test_kpti_pcid_user_flush(bool invpcid)
{
	struct mmu_kpti t;
	struct mmu_vm_space sp;
	pcid_space(invpcid, 1, &t, &sp);
	st_load(sim, 0, &sp.tree);
	CHECK_EQ(user_access(&sp, SIM_WRITE, 0x400000), ST_OK);
	uint64_t ucr3 = mmu_vm_user_cr3(&sp);
	CHECK_EQ(ucr3 & ~MMU_CR3_NOFLUSH & 0xfffull, sp.tree.pcid[0].pcid | MMU_PCID_USER);
	CHECK(ucr3 & MMU_CR3_NOFLUSH); /* nothing owed since the last exit */
	CHECK_EQ(mmu_vm_kernel_cr3(&sp), mmu_tree_cr3(&sp.tree) | sp.tree.pcid[0].pcid | MMU_CR3_NOFLUSH);
	/* User mode caches the writable page under its PCID... */
	sim_write_cr3(sim, 0, mmu_vm_user_cr3(&sp));
	CHECK_EQ(st_result(sim_access(sim, 0, SIM_WRITE, 0x400000, true, false, 1)), ST_OK);
	sim_write_cr3(sim, 0, mmu_vm_kernel_cr3(&sp));
	/* ...the kernel makes it read-only... */
	CHECK_OK(mmu_protect(&sp.tree, 0x400000, PAGE, MMU_PROT_R | MMU_PROT_U, NULL));
	ucr3 = mmu_vm_user_cr3(&sp);
	/* INVPCID reached the user PCID at once; without it, the exit owes a
	 * flush. */
	CHECK_EQ((ucr3 & MMU_CR3_NOFLUSH) != 0, invpcid);
	/* ...and the next user write faults instead of using the old entry. */
	sim_write_cr3(sim, 0, ucr3);
	CHECK_EQ(st_result(sim_access(sim, 0, SIM_WRITE, 0x400000, true, false, 2)), ST_PF_P | ST_PF_W | ST_PF_U);
	sim_write_cr3(sim, 0, mmu_vm_kernel_cr3(&sp));
	CHECK(mmu_vm_user_cr3(&sp) & MMU_CR3_NOFLUSH);
	pcid_space_end(&t, &sp);
}

/* A CPU that ran the space and moved on keeps entries under both of its
 * PCIDs: freeing the space's memory must reach the user PCID too (the
 * sanitizer reports a frame freed while a TLB holds it). */
static void test_kpti_pcid_lazy_cpu(bool invpcid)
{
	struct mmu_kpti t;
	struct mmu_vm_space sp;
	pcid_space(invpcid, 2, &t, &sp);
	st_load(sim, 0, &sp.tree);
	CHECK_EQ(user_access(&sp, SIM_WRITE, 0x401000), ST_OK);
	st_load(sim, 1, &sp.tree);
	sim_set_cpu(sim, 1);
	sim_write_cr3(sim, 1, mmu_vm_user_cr3(&sp));
	CHECK_EQ(st_result(sim_access(sim, 1, SIM_READ, 0x401000, true, false, 0)), ST_OK);
	sim_write_cr3(sim, 1, mmu_vm_kernel_cr3(&sp));
	st_load(sim, 1, mmu_kernel_tree(mmu));
	sim_set_cpu(sim, 0);
	CHECK_OK(mmu_vm_region_remove(&sp, 0x400000, 0x10000));
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	pcid_space_end(&t, &sp);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned invpcid = 0; invpcid < 2; invpcid++) {
		test_kpti_pcid_user_flush(invpcid);
		test_kpti_pcid_lazy_cpu(invpcid);
	}
	for (unsigned levels = 4; levels <= 5; levels++) {
		sim = st_default(levels, 2);
		mmu = sim_mmu(sim);
		test_kpti();
		sim_destroy(sim);
	}
	return 0;
}
