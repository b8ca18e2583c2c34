/* SPDX-License-Identifier: MIT */
/* An isolation defect the process-space property test found on main after
 * the fixes of issue 9 (seeds 0x3, 0x6, 0x15, 0x32 of test_property_vm
 * with forks on every machine), reduced to its steps. KPTI with PCIDs, no
 * INVPCID: CPU 1 runs space P and has read P's page in user mode, so its
 * TLB holds the page's frame F under P's user PCID. P removes the page
 * (F is shared with the child C: the zap frees nothing, and P's page
 * table stays, so its batch frees nothing either); the flush reaches CPU
 * 1, where INVLPG drops only the kernel PCID's entry and the user PCID's
 * is left as a flush owed to the next exit to user mode. C then removes
 * its page too and frees F through its own batch, which CPU 1 does not
 * get: F is free while CPU 1's TLB still holds it (the sanitizer reports
 * "freed while the TLB holds a translation to it (pcid 2048+N)"). With
 * INVPCID the user PCID's entry goes at once. The fix: without INVPCID a
 * batch that removes leaves flushes the whole TLB there, as one that
 * frees memory does (src/tlb.c, tlb_apply_user_pcid). */
#include "vmtest.h"

#define VA 0x400000ull
#define RW (MMU_PROT_R | MMU_PROT_W)

/* A user read by CPU on SP in user mode (the shadow's CR3), faults
 * handled in the kernel. */
static uint8_t user_read(struct mmu_vm_space *sp, unsigned cpu, mmu_vaddr_t va)
{
	sim_set_cpu(vt_sim, cpu);
	for (unsigned i = 0; i < 4; i++) {
		sim_write_cr3(vt_sim, cpu, mmu_vm_user_cr3(sp));
		struct sim_access a = sim_access(vt_sim, cpu, SIM_READ, va, true, false, 0);
		sim_write_cr3(vt_sim, cpu, mmu_vm_kernel_cr3(sp));
		if (a.outcome == SIM_OK) {
			sim_set_cpu(vt_sim, 0);
			return a.byte;
		}
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, MMU_VM_FAULT_ACCESS);
		CHECK(mmu_vm_resolved(mmu_vm_handle_fault(sp, &f)));
	}
	sim_set_cpu(vt_sim, 0);
	return 0xee;
}

static void shared_page_removed_by_both(bool invpcid)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 2;
	cfg.pcide = true;
	cfg.no_invpcid = !invpcid;
	vt_sim = st_machine(&cfg);
	vt_mmu = sim_mmu(vt_sim);
	struct mmu_kpti k;
	struct mmu_vm_space p, c;
	CHECK_OK(mmu_kpti_init(vt_mmu, &k, NULL, 0));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_kpti_enable(&p, &k));
	CHECK_OK(mmu_vm_region_add(&p, VA, 2 * PAGE, RW, MMU_VM_EAGER, 0));
	*sim_phys(vt_sim, pa_of(&p, VA)) = 0x11;
	CHECK_OK(mmu_vm_fork(&p, &c));
	st_load(vt_sim, 1, &p.tree);
	CHECK_EQ(user_read(&p, 1, VA), 0x11); /* F under P's user PCID on CPU 1 */
	CHECK_OK(mmu_vm_region_remove(&p, VA, PAGE));
	CHECK_OK(mmu_vm_region_remove(&c, VA, PAGE)); /* the last reference: F is freed */
	CHECK_EQ(sim_tlbsan_reports(vt_sim), 0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_OK(mmu_vm_space_exit(&c));
	mmu_kpti_fini(&k);
	st_check_sanitizer(vt_sim);
	sim_destroy(vt_sim);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	shared_page_removed_by_both(true);
	shared_page_removed_by_both(false);
	return 0;
}
