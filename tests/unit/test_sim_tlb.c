/* SPDX-License-Identifier: MIT */
/* The TLB (worst-case caching, PCIDs, globals, every invalidation) and the
 * TLB sanitizer, on hand-built tables. */
#include "test_sim_helpers.h"

#define VA 0x400000ull
#define P MMU_PTE_P
#define W MMU_PTE_RW
#define U MMU_PTE_US

static struct sim *machine(bool pcide, bool pge)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.mem = 64ull << 20;
	cfg.pcide = pcide;
	cfg.pge = pge;
	return th_machine(&cfg);
}

/* Two frames with distinct first bytes. */
static void two_frames(struct sim *sim, mmu_pa_t *a, mmu_pa_t *b)
{
	*a = th_data(sim, MMU_SIZE_4K);
	*b = th_data(sim, MMU_SIZE_4K);
	*sim_phys(sim, *a) = 0xaa;
	*sim_phys(sim, *b) = 0xbb;
}

/* A PTE changed without INVLPG: the old translation is still used, and the
 * sanitizer says so; INVLPG makes the new one visible. */
static void test_stale_until_invlpg(void)
{
	struct sim *sim = machine(false, true);
	mmu_pa_t root = th_root_on_all(sim), fa, fb;
	two_frames(sim, &fa, &fb);
	uint64_t *pte = th_map(sim, root, VA, fa, MMU_SIZE_4K, W);
	CHECK_EQ(th_read(sim, 0, VA, false).byte, 0xaa);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	CHECK_EQ(strcmp(sim_tlbsan_last(sim), ""), 0);

	*pte = mmu_pa_bits(fb) | P | W;
	CHECK_EQ(th_read(sim, 0, VA, false).byte, 0xaa);
	CHECK_EQ(sim_tlbsan_reports(sim), 1);
	CHECK(strncmp(sim_tlbsan_last(sim), "tlbsan: cpu 0 va 0x400000", 25) == 0);
	CHECK_EQ(th_read(sim, 1, VA, false).byte, 0xbb); /* CPU 1 never cached it */

	sim_invlpg(sim, 0, VA);
	CHECK_EQ(th_read(sim, 0, VA, false).byte, 0xbb);
	CHECK_EQ(sim_tlbsan_reports(sim), 1);

	/* Removed without a flush: the hit still reads, and is reported. */
	*pte = 0;
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), TH_OK);
	CHECK_EQ(sim_tlbsan_reports(sim), 2);
	sim_invlpg(sim, 0, VA);
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), 0x0);
	CHECK_EQ(sim_tlbsan_reports(sim), 2);

	/* A downgrade without a flush: writes still go through the TLB. */
	*pte = mmu_pa_bits(fa) | P | W;
	CHECK_EQ(th_result(th_write(sim, 0, VA, 0x11, false)), TH_OK);
	*pte &= ~W;
	CHECK_EQ(th_result(th_write(sim, 0, VA, 0x12, false)), TH_OK);
	CHECK_EQ(sim_tlbsan_reports(sim), 3);
	CHECK_EQ(*sim_phys(sim, fa), 0x12);
	sim_invlpg(sim, 0, VA);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 0x13, false)), 0x3);
	CHECK_EQ(sim_tlbsan_reports(sim), 3);
	sim_destroy_bare(sim);
}

/* An upgrade needs no flush on x86: the stale entry faults (a spurious
 * fault, P=1 from the TLB), the fault drops it, the retry walks. */
static void test_upgrade_faults_spuriously(void)
{
	struct sim *sim = machine(false, true);
	mmu_pa_t root = th_root_on_all(sim), fa = th_data(sim, MMU_SIZE_4K);
	uint64_t *pte = th_map(sim, root, VA, fa, MMU_SIZE_4K, U);
	CHECK_EQ(th_result(th_read(sim, 0, VA, true)), TH_OK);
	*pte |= W;
	CHECK_EQ(th_result(th_write(sim, 0, VA, 1, true)), 0x7);
	CHECK_EQ(sim_tlb_size(sim, 0), 0);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 1, true)), TH_OK);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy_bare(sim);
}

/* A write through an entry cached with D=0 walks again and sets D. */
static void test_dirty_rewalk(void)
{
	struct sim *sim = machine(false, true);
	mmu_pa_t root = th_root_on_all(sim), fa = th_data(sim, MMU_SIZE_4K);
	uint64_t *pte = th_map(sim, root, VA, fa, MMU_SIZE_4K, W);
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), TH_OK);
	CHECK_EQ(*pte & MMU_PTE_D, 0);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 1, false)), TH_OK);
	CHECK(*pte & MMU_PTE_D);
	/* Now cached dirty: clearing D in memory without a flush means the next
	 * write would not set it again; the sanitizer reports that. */
	*pte &= ~MMU_PTE_D;
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), TH_OK);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 2, false)), TH_OK);
	CHECK_EQ(*pte & MMU_PTE_D, 0);
	CHECK_EQ(sim_tlbsan_reports(sim), 1);
	/* And a D=0 entry whose PTE was made read-only meanwhile faults on the
	 * re-walk, without a report (the stale entry was not used). */
	sim_invlpg(sim, 0, VA);
	*pte = mmu_pa_bits(fa) | P | W;
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), TH_OK);
	*pte &= ~W;
	CHECK_EQ(th_result(th_write(sim, 0, VA, 3, false)), 0x3);
	CHECK_EQ(sim_tlbsan_reports(sim), 1);
	sim_destroy_bare(sim);
}

/* A #PF drops the faulting page's entries. */
static void test_fault_drops_page(void)
{
	struct sim *sim = machine(false, true);
	mmu_pa_t root = th_root_on_all(sim), fa = th_data(sim, MMU_SIZE_4K);
	th_map(sim, root, VA, fa, MMU_SIZE_4K, W);
	th_map(sim, root, VA + 0x1000, fa, MMU_SIZE_4K, W);
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), TH_OK);
	CHECK_EQ(th_result(th_read(sim, 0, VA + 0x1000, false)), TH_OK);
	CHECK_EQ(sim_tlb_size(sim, 0), 2);
	CHECK_EQ(th_result(th_read(sim, 0, VA, true)), 0x5);
	CHECK_EQ(sim_tlb_size(sim, 0), 1);
	sim_destroy_bare(sim);
}

/* INVLPG anywhere inside a 2M page drops the 2M entry. */
static void test_invlpg_huge(void)
{
	struct sim *sim = machine(false, true);
	mmu_pa_t root = th_root_on_all(sim), big = th_data(sim, MMU_SIZE_2M);
	mmu_vaddr_t va = 0x600000ull;
	th_map(sim, root, va, big, MMU_SIZE_2M, W);
	CHECK_EQ(th_result(th_read(sim, 0, va + 0x12345, false)), TH_OK);
	CHECK_EQ(th_result(th_read(sim, 0, va + 0x1ff000, false)), TH_OK);
	CHECK_EQ(sim_tlb_size(sim, 0), 1);
	sim_invlpg(sim, 0, va + 0x150000);
	CHECK_EQ(sim_tlb_size(sim, 0), 0);
	sim_destroy_bare(sim);
}

/* Globals survive CR3 writes; a CR4.PGE toggle and INVPCID 2 drop them. */
static void test_globals(void)
{
	struct sim *sim = machine(false, true);
	mmu_pa_t root = th_root_on_all(sim), fa = th_data(sim, MMU_SIZE_4K);
	th_map(sim, root, VA, fa, MMU_SIZE_4K, W | MMU_PTE_G);
	th_map(sim, root, VA + 0x1000, fa, MMU_SIZE_4K, W);
	th_read(sim, 0, VA, false);
	th_read(sim, 0, VA + 0x1000, false);
	CHECK_EQ(sim_tlb_size(sim, 0), 2);
	sim_write_cr3(sim, 0, mmu_pa_bits(root));
	CHECK_EQ(sim_tlb_size(sim, 0), 1);
	uint64_t cr4 = sim_cpu_regs(sim, 0).cr4;
	sim_write_cr4(sim, 0, cr4 | SIM_CR4_SMAP); /* no PGE change: no flush */
	CHECK_EQ(sim_tlb_size(sim, 0), 1);
	sim_write_cr4(sim, 0, cr4 & ~SIM_CR4_PGE);
	CHECK_EQ(sim_tlb_size(sim, 0), 0);
	/* With PGE clear, G is ignored: a CR3 write drops the entry. */
	th_read(sim, 0, VA, false);
	sim_write_cr3(sim, 0, mmu_pa_bits(root));
	CHECK_EQ(sim_tlb_size(sim, 0), 0);
	sim_write_cr4(sim, 0, cr4);
	th_read(sim, 0, VA, false);
	sim_invpcid(sim, 0, 3, 0, 0);
	CHECK_EQ(sim_tlb_size(sim, 0), 1);
	sim_invpcid(sim, 0, 2, 0, 0);
	CHECK_EQ(sim_tlb_size(sim, 0), 0);
	sim_destroy_bare(sim);
}

/* PCID tagging: entries of other PCIDs survive CR3 writes; bit 63 keeps
 * the new PCID's; INVPCID types 0 and 1. */
static void test_pcid(void)
{
	struct sim *sim = machine(true, true);
	mmu_pa_t root_a = th_table(sim), root_b = th_table(sim), fa, fb;
	two_frames(sim, &fa, &fb);
	th_map(sim, root_a, VA, fa, MMU_SIZE_4K, W);
	th_map(sim, root_a, VA + 0x1000, fa, MMU_SIZE_4K, W | MMU_PTE_G);
	th_map(sim, root_b, VA, fb, MMU_SIZE_4K, W);
	sim_write_cr3(sim, 0, mmu_pa_bits(root_a) | 1);
	CHECK_EQ(th_read(sim, 0, VA, false).byte, 0xaa);
	th_read(sim, 0, VA + 0x1000, false);
	sim_write_cr3(sim, 0, mmu_pa_bits(root_b) | 2);
	CHECK_EQ(sim_tlb_size(sim, 0), 2);
	CHECK_EQ(th_read(sim, 0, VA, false).byte, 0xbb); /* PCID 2 does not see PCID 1's entry */
	CHECK_EQ(sim_tlb_size(sim, 0), 3);
	CHECK_EQ(sim_cpu_regs(sim, 0).cr3, mmu_pa_bits(root_b) | 2);

	/* Back to PCID 1 keeping its entries (bit 63, not stored in CR3). */
	sim_write_cr3(sim, 0, mmu_pa_bits(root_a) | 1 | SIM_CR3_NOFLUSH);
	CHECK_EQ(sim_cpu_regs(sim, 0).cr3, mmu_pa_bits(root_a) | 1);
	CHECK_EQ(sim_tlb_size(sim, 0), 3);
	/* Without bit 63 the new PCID's non-global entries go. */
	sim_write_cr3(sim, 0, mmu_pa_bits(root_a) | 1);
	CHECK_EQ(sim_tlb_size(sim, 0), 2);

	th_read(sim, 0, VA, false); /* PCID 1 again: 3 entries */
	sim_invpcid(sim, 0, 0, 2, VA);
	CHECK_EQ(sim_tlb_size(sim, 0), 2);
	sim_invpcid(sim, 0, 0, 1, VA + 0x1000); /* type 0 leaves globals */
	CHECK_EQ(sim_tlb_size(sim, 0), 2);
	sim_invpcid(sim, 0, 1, 1, 0);
	CHECK_EQ(sim_tlb_size(sim, 0), 1);
	sim_invlpg(sim, 0, VA + 0x1000); /* INVLPG drops globals */
	CHECK_EQ(sim_tlb_size(sim, 0), 0);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy_bare(sim);
}

/* Freeing a frame or a table page some TLB still holds is a report; so is
 * a later hit on it. */
static void test_free_while_cached(void)
{
	struct sim *sim = machine(false, true);
	mmu_pa_t root = th_root_on_all(sim), fa = th_data(sim, MMU_SIZE_4K);
	mmu_pa_t big = th_data(sim, MMU_SIZE_2M);
	uint64_t *pte = th_map(sim, root, VA, fa, MMU_SIZE_4K, W);
	th_map(sim, root, 0x800000ull, big, MMU_SIZE_2M, W);
	CHECK_EQ(th_result(th_write(sim, 1, VA, 0x42, false)), TH_OK);
	CHECK_EQ(th_result(th_read(sim, 0, 0x800000ull + 0x3000, false)), TH_OK);

	/* Unmapped and flushed on CPU 0 only: CPU 1 still holds it. */
	*pte = 0;
	sim_invlpg(sim, 0, VA);
	sim_frame_free(sim, MMU_SIZE_4K, fa);
	CHECK_EQ(sim_tlbsan_reports(sim), 1);
	CHECK(strstr(sim_tlbsan_last(sim), "cpu 1 va 0x400000") != NULL);
	CHECK(strstr(sim_tlbsan_last(sim), "data frame") != NULL);
	/* Using it afterwards: a stale hit on a freed frame (two reports: the
	 * frame is freed, and the tables no longer map it). */
	CHECK_EQ(th_result(th_write(sim, 1, VA, 0x43, false)), TH_OK);
	CHECK_EQ(sim_tlbsan_reports(sim), 3);
	sim_invlpg(sim, 1, VA);
	/* The frame written while free reads as zero when allocated again. */
	mmu_pa_t again = th_data(sim, MMU_SIZE_4K);
	CHECK_EQ(mmu_pa_bits(again), mmu_pa_bits(fa));
	CHECK_EQ(*sim_phys(sim, again), 0);

	/* A 2M entry overlaps a freed 2M frame. */
	unsigned before = sim_tlbsan_reports(sim);
	sim_frame_free(sim, MMU_SIZE_2M, big);
	CHECK_EQ(sim_tlbsan_reports(sim), before + 1);

	/* A table page the cached walk went through. */
	mmu_pa_t fc = th_data(sim, MMU_SIZE_4K);
	mmu_vaddr_t va = 0x7f0000000000ull;
	th_map(sim, root, va, fc, MMU_SIZE_4K, W);
	CHECK_EQ(th_result(th_read(sim, 0, va, false)), TH_OK);
	uint64_t *pde = th_entry(sim, root, va, MMU_LEVEL_PD);
	mmu_pa_t pt = mmu_pa(*pde & MMU_PTE_ADDR_MASK);
	*pde = 0;
	before = sim_tlbsan_reports(sim);
	sim_release_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, pt);
	CHECK_EQ(sim_tlbsan_reports(sim), before + 1);
	CHECK(strstr(sim_tlbsan_last(sim), "table page") != NULL);

	/* Flushed first: no report. */
	sim_flush_all_tlbs(sim);
	before = sim_tlbsan_reports(sim);
	sim_frame_free(sim, MMU_SIZE_4K, fc);
	sim_frame_free(sim, MMU_SIZE_4K, again);
	CHECK_EQ(sim_tlbsan_reports(sim), before);
	sim_destroy_bare(sim);
}

/* The audit compares every cached translation with the tables. */
static void test_audit(void)
{
	struct sim *sim = machine(false, true);
	mmu_pa_t root = th_root_on_all(sim), fa, fb;
	two_frames(sim, &fa, &fb);
	uint64_t *pte = th_map(sim, root, VA, fa, MMU_SIZE_4K, W | U);
	th_read(sim, 0, VA, true);
	th_read(sim, 1, VA, true);
	CHECK_EQ(sim_tlbsan_audit(sim), 0);
	*pte = mmu_pa_bits(fa) | P | U | W | MMU_PTE_XD; /* exec taken away */
	CHECK_EQ(sim_tlbsan_audit(sim), 2);
	sim_invlpg(sim, 0, VA);
	sim_invlpg(sim, 1, VA);
	*pte = mmu_pa_bits(fa) | P | U;
	th_read(sim, 0, VA, true);
	*pte |= W; /* an upgrade: legal to leave cached */
	CHECK_EQ(sim_tlbsan_audit(sim), 0);
	sim_destroy_bare(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	test_stale_until_invlpg();
	test_upgrade_faults_spuriously();
	test_dirty_rewalk();
	test_fault_drops_page();
	test_invlpg_huge();
	test_globals();
	test_pcid();
	test_free_while_cached();
	test_audit();
	return 0;
}
