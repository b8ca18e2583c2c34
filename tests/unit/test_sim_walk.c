/* SPDX-License-Identifier: MIT */
/* The walker against the SDM: permissions and error codes, reserved bits,
 * A/D updates, 5-level paging, canonical checks, protection keys. Page
 * tables are built by hand; no mmu64 instance. */
#include "test_sim_helpers.h"

#define VA 0x400000ull /* PML4 0, PDPT 0, PD 2, PT 0 */
#define P MMU_PTE_P
#define W MMU_PTE_RW
#define U MMU_PTE_US
#define XD MMU_PTE_XD

enum { R_ = SIM_READ, W_ = SIM_WRITE, X_ = SIM_EXEC };

struct perm_case {
	int line;
	uint64_t upper; /* flags of the non-leaf entries; 0: P RW US */
	uint64_t leaf;  /* leaf flags, P added */
	bool user;
	int kind;
	bool ac, smep, smap, wp, nx;
	uint32_t want;
};

/* user/supervisor x read/write/exec x SMEP/SMAP/WP/NX, error codes by hand
 * from SDM 4.6 and 4.7. */
static const struct perm_case perm_cases[] = {
	/* user accesses */
	{__LINE__, 0, W | U, true, R_, 0, 1, 1, 1, 1, TH_OK},
	{__LINE__, 0, W | U, true, W_, 0, 1, 1, 1, 1, TH_OK},
	{__LINE__, 0, W | U, true, X_, 0, 1, 1, 1, 1, TH_OK},
	{__LINE__, 0, U, true, W_, 0, 1, 1, 1, 1, 0x7},
	{__LINE__, 0, U, true, W_, 0, 1, 1, 0, 1, 0x7}, /* WP does not matter for CPL 3 */
	{__LINE__, 0, W | U | XD, true, X_, 0, 1, 1, 1, 1, 0x15},
	{__LINE__, 0, W | U | XD, true, X_, 0, 0, 1, 1, 1, 0x15}, /* I/D because NXE */
	{__LINE__, 0, W | U, true, X_, 0, 0, 0, 1, 0, TH_OK},
	{__LINE__, 0, W, true, R_, 0, 1, 1, 1, 1, 0x5},
	{__LINE__, 0, W, true, W_, 0, 1, 1, 1, 1, 0x7},
	{__LINE__, 0, W, true, X_, 0, 1, 1, 1, 1, 0x15},
	{__LINE__, 0, W, true, X_, 0, 0, 0, 1, 0, 0x5}, /* no I/D without SMEP and NXE */
	/* supervisor reads and SMAP */
	{__LINE__, 0, W | U, false, R_, 0, 1, 1, 1, 1, 0x1},
	{__LINE__, 0, W | U, false, R_, 1, 1, 1, 1, 1, TH_OK}, /* EFLAGS.AC */
	{__LINE__, 0, W | U, false, R_, 0, 1, 0, 1, 1, TH_OK},
	{__LINE__, 0, W, false, R_, 0, 1, 1, 1, 1, TH_OK},
	{__LINE__, 0, 0, false, R_, 0, 1, 1, 1, 1, TH_OK},
	/* supervisor writes, WP and SMAP */
	{__LINE__, 0, 0, false, W_, 0, 1, 1, 1, 1, 0x3},
	{__LINE__, 0, 0, false, W_, 0, 1, 1, 0, 1, TH_OK},
	{__LINE__, 0, W | U, false, W_, 0, 1, 1, 1, 1, 0x3},
	{__LINE__, 0, U, false, W_, 1, 1, 1, 1, 1, 0x3},
	{__LINE__, 0, U, false, W_, 1, 1, 1, 0, 1, TH_OK},
	{__LINE__, 0, U, false, W_, 0, 1, 1, 0, 1, 0x3}, /* SMAP even with WP=0 */
	/* supervisor fetches: XD, SMEP; SMAP does not apply */
	{__LINE__, 0, W, false, X_, 0, 1, 1, 1, 1, TH_OK},
	{__LINE__, 0, W | XD, false, X_, 0, 1, 1, 1, 1, 0x11},
	{__LINE__, 0, W | XD, false, X_, 0, 0, 0, 1, 1, 0x11},
	{__LINE__, 0, W | U, false, X_, 0, 1, 1, 1, 1, 0x11},
	{__LINE__, 0, W | U, false, X_, 1, 1, 1, 1, 1, 0x11},
	{__LINE__, 0, W | U, false, X_, 0, 0, 1, 1, 1, TH_OK},
	{__LINE__, 0, W | U, false, X_, 0, 1, 0, 1, 0, 0x11}, /* I/D because SMEP */
	/* combining levels: RW and US ANDed, XD ORed */
	{__LINE__, P | W, W | U, true, R_, 0, 1, 1, 1, 1, 0x5},
	{__LINE__, P | W, W | U, false, R_, 0, 1, 1, 1, 1, TH_OK}, /* not a user page: no SMAP */
	{__LINE__, P | U, W | U, true, W_, 0, 1, 1, 1, 1, 0x7},
	{__LINE__, P | U, W | U, true, R_, 0, 1, 1, 1, 1, TH_OK},
	{__LINE__, P | W | U | XD, W | U, true, X_, 0, 1, 1, 1, 1, 0x15},
	{__LINE__, P | W | U | XD, W | U, true, R_, 0, 1, 1, 1, 1, TH_OK},
	/* XD with NXE=0 is a reserved bit: P|RSVD */
	{__LINE__, 0, W | U | XD, true, R_, 0, 1, 1, 1, 0, 0xd},
	{__LINE__, P | W | U | XD, W | U, false, W_, 0, 1, 1, 1, 0, 0xb},
};

static void set_upper(struct sim *sim, mmu_pa_t root, mmu_vaddr_t va, uint64_t flags)
{
	for (unsigned l = sim_config(sim)->levels; l > MMU_LEVEL_PT; l--) {
		uint64_t *e = th_entry(sim, root, va, (enum mmu_level)l);
		*e = (*e & MMU_PTE_ADDR_MASK) | flags;
	}
}

static struct sim *machine_for(bool smep, bool smap, bool wp, bool nx, bool pke)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.mem = 16ull << 20;
	cfg.smep = smep;
	cfg.smap = smap;
	cfg.wp = wp;
	cfg.nx = nx;
	cfg.pke = pke;
	return th_machine(&cfg);
}

static void test_permission_matrix(void)
{
	for (size_t i = 0; i < sizeof(perm_cases) / sizeof(perm_cases[0]); i++) {
		const struct perm_case *c = &perm_cases[i];
		struct sim *sim = machine_for(c->smep, c->smap, c->wp, c->nx, false);
		mmu_pa_t root = th_root_on_all(sim), frame = th_data(sim, MMU_SIZE_4K);
		th_map(sim, root, VA, frame, MMU_SIZE_4K, c->leaf);
		if (c->upper)
			set_upper(sim, root, VA, c->upper);
		struct sim_access a = sim_access(sim, 0, (enum sim_access_kind)c->kind, VA + 0x10, c->user, c->ac, 1);
		if (th_result(a) != c->want)
			fprintf(stderr, "perm case at line %d:\n", c->line);
		CHECK_EQ(th_result(a), c->want);
		if (a.outcome == SIM_PF)
			CHECK_EQ(a.cr2, VA + 0x10);
		CHECK_EQ(sim_tlbsan_reports(sim), 0);
		sim_destroy_bare(sim);
	}
}

static void test_not_present_codes(void)
{
	struct sim *sim = machine_for(true, true, true, true, false);
	th_root_on_all(sim);
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), 0x0);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 1, true)), 0x6);
	CHECK_EQ(th_result(sim_access(sim, 0, SIM_EXEC, VA, false, false, 0)), 0x10);
	CHECK_EQ(th_result(sim_access(sim, 0, SIM_EXEC, VA, true, false, 0)), 0x14);
	struct sim_access a = th_read(sim, 0, VA + 0x123, false);
	CHECK_EQ(a.cr2, VA + 0x123);
	sim_destroy_bare(sim);
	/* Without SMEP and NXE a fetch is not told apart. */
	sim = machine_for(false, true, true, false, false);
	th_root_on_all(sim);
	CHECK_EQ(th_result(sim_access(sim, 0, SIM_EXEC, VA, false, false, 0)), 0x0);
	CHECK_EQ(th_result(sim_access(sim, 0, SIM_EXEC, VA, true, false, 0)), 0x4);
	sim_destroy_bare(sim);
}

/* Reserved bits give P|RSVD; a non-present entry is never checked. */
static void test_reserved_bits(void)
{
	struct sim *sim = th_default_machine();
	mmu_pa_t root = th_root_on_all(sim), frame = th_data(sim, MMU_SIZE_4K);
	mmu_pa_t big = th_data(sim, MMU_SIZE_2M), giant;
	uint64_t *pte = th_map(sim, root, VA, frame, MMU_SIZE_4K, W | U);
	CHECK_EQ(th_result(th_read(sim, 0, VA, true)), TH_OK);

	/* A PTE address bit at MAXPHYADDR (46). */
	sim_invlpg(sim, 0, VA);
	*pte |= 1ull << 46;
	CHECK_EQ(th_result(th_read(sim, 0, VA, true)), 0xd);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 1, false)), 0xb);
	*pte &= ~(1ull << 46);
	/* Bits 51..46 of a PDE pointing to a table. */
	uint64_t *pde = th_entry(sim, root, VA, MMU_LEVEL_PD);
	*pde |= 1ull << 51;
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), 0x9);
	*pde &= ~(1ull << 51);
	/* A non-present entry with reserved bits: plain not-present. */
	*pte = (1ull << 50) | XD | W;
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), 0x0);
	*pte = mmu_pa_bits(frame) | P | W | U;
	/* PS in a PML4E. */
	uint64_t *pml4e = th_entry(sim, root, VA, MMU_LEVEL_PML4);
	*pml4e |= MMU_PTE_PS;
	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), 0x9);
	*pml4e &= ~MMU_PTE_PS;

	/* 2M leaf: bit 12 is PAT (fine), bits 20..13 reserved. */
	mmu_vaddr_t va2 = 0x40000000ull; /* PDPT 1 */
	uint64_t *leaf2 = th_map(sim, root, va2, big, MMU_SIZE_2M, W | MMU_PTE_PAT_HUGE);
	CHECK_EQ(th_result(th_read(sim, 0, va2 + 0x1234, false)), TH_OK);
	sim_invlpg(sim, 0, va2);
	*leaf2 |= 1ull << 13;
	CHECK_EQ(th_result(th_read(sim, 0, va2, false)), 0x9);
	*leaf2 = (*leaf2 & ~(1ull << 13)) | (1ull << 20);
	CHECK_EQ(th_result(th_read(sim, 0, va2, false)), 0x9);
	sim_destroy_bare(sim);

	/* 1G leaf: bits 29..13 reserved; needs a machine with 1G of data. */
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.mem = 1ull << 30;
	sim = th_machine(&cfg);
	root = th_root_on_all(sim);
	giant = th_data(sim, MMU_SIZE_1G);
	mmu_vaddr_t va3 = 0x80000000ull;
	uint64_t *leaf3 = th_map(sim, root, va3, giant, MMU_SIZE_1G, W | MMU_PTE_PAT_HUGE);
	CHECK_EQ(th_result(th_read(sim, 0, va3 + 0x3ffff000, false)), TH_OK);
	sim_invlpg(sim, 0, va3);
	*leaf3 |= 1ull << 29;
	CHECK_EQ(th_result(th_read(sim, 0, va3, false)), 0x9);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy_bare(sim);
}

/* A on every entry used, even when the access then faults; the leaf's A
 * and D only when it succeeds. */
static void test_accessed_dirty(void)
{
	struct sim *sim = th_default_machine();
	mmu_pa_t root = th_root_on_all(sim), frame = th_data(sim, MMU_SIZE_4K);
	uint64_t *pte = th_map(sim, root, VA, frame, MMU_SIZE_4K, W);
	uint64_t *pml4e = th_entry(sim, root, VA, MMU_LEVEL_PML4);
	uint64_t *pdpte = th_entry(sim, root, VA, MMU_LEVEL_PDPT);
	uint64_t *pde = th_entry(sim, root, VA, MMU_LEVEL_PD);

	/* A user read of a supervisor page faults at the leaf. */
	CHECK_EQ(th_result(th_read(sim, 0, VA, true)), 0x5);
	CHECK(*pml4e & MMU_PTE_A);
	CHECK(*pdpte & MMU_PTE_A);
	CHECK(*pde & MMU_PTE_A);
	CHECK_EQ(*pte & (MMU_PTE_A | MMU_PTE_D), 0);
	CHECK_EQ(*pde & MMU_PTE_D, 0);

	CHECK_EQ(th_result(th_read(sim, 0, VA, false)), TH_OK);
	CHECK_EQ(*pte & (MMU_PTE_A | MMU_PTE_D), MMU_PTE_A);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 0x5a, false)), TH_OK);
	CHECK_EQ(*pte & (MMU_PTE_A | MMU_PTE_D), MMU_PTE_A | MMU_PTE_D);
	CHECK_EQ(*sim_phys(sim, frame), 0x5a);
	CHECK_EQ(*pde & MMU_PTE_D, 0); /* D exists in leaves only */

	/* Not present at the PT: the three entries above get A. */
	mmu_vaddr_t va2 = 0x8000000000ull; /* PML4 1 */
	th_entry(sim, root, va2, MMU_LEVEL_PT);
	CHECK_EQ(th_result(th_read(sim, 0, va2, false)), 0x0);
	CHECK(*th_entry(sim, root, va2, MMU_LEVEL_PML4) & MMU_PTE_A);
	CHECK(*th_entry(sim, root, va2, MMU_LEVEL_PDPT) & MMU_PTE_A);
	CHECK(*th_entry(sim, root, va2, MMU_LEVEL_PD) & MMU_PTE_A);
	CHECK_EQ(*th_entry(sim, root, va2, MMU_LEVEL_PT), 0);

	/* Reserved bits in the PDE: PML4E and PDPTE get A, the PDE does not. */
	mmu_vaddr_t va3 = 0x10000000000ull; /* PML4 2 */
	th_map(sim, root, va3, frame, MMU_SIZE_4K, W);
	uint64_t *pde3 = th_entry(sim, root, va3, MMU_LEVEL_PD);
	*pde3 |= 1ull << 47;
	CHECK_EQ(th_result(th_read(sim, 0, va3, false)), 0x9);
	CHECK(*th_entry(sim, root, va3, MMU_LEVEL_PDPT) & MMU_PTE_A);
	CHECK_EQ(*pde3 & MMU_PTE_A, 0);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy_bare(sim);
}

static void test_canonical_and_5_level(void)
{
	struct sim *sim = th_default_machine();
	th_root_on_all(sim);
	CHECK_EQ(th_result(th_read(sim, 0, 0x0000800000000000ull, false)), TH_GP);
	CHECK_EQ(th_result(th_read(sim, 0, 0xffff7fffffffffffull, false)), TH_GP);
	CHECK_EQ(th_result(th_read(sim, 0, 0xffff800000000000ull, false)), 0x0);
	CHECK_EQ(th_result(th_read(sim, 0, 0x00007fffffffffffull, false)), 0x0);
	sim_destroy_bare(sim);

	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.levels = 5;
	cfg.mem = 16ull << 20;
	sim = th_machine(&cfg);
	CHECK(sim_cpu_regs(sim, 1).cr4 & SIM_CR4_LA57);
	mmu_pa_t root = th_root_on_all(sim), frame = th_data(sim, MMU_SIZE_4K);
	mmu_vaddr_t va = 0x00ff000000001000ull; /* PML5 index 255 */
	mmu_vaddr_t kva = 0xff00000000002000ull; /* PML5 index 256: kernel half */
	th_map(sim, root, va, frame, MMU_SIZE_4K, W | U);
	th_map(sim, root, kva, frame, MMU_SIZE_4K, W);
	*sim_phys(sim, mmu_pa_add(frame, 0x7)) = 0x77;
	struct sim_access a = th_read(sim, 1, va + 7, true);
	CHECK_EQ(th_result(a), TH_OK);
	CHECK_EQ(a.byte, 0x77);
	a = th_read(sim, 1, kva + 7, false);
	CHECK_EQ(th_result(a), TH_OK);
	CHECK_EQ(a.byte, 0x77);
	CHECK_EQ(th_result(th_read(sim, 1, kva, true)), 0x5);
	CHECK(*th_entry(sim, root, va, MMU_LEVEL_PML5) & MMU_PTE_A);
	/* Canonical with 57 bits, not with 48; bit 57 breaks 57-bit canonicity. */
	CHECK_EQ(th_result(th_read(sim, 1, 0x0000800000000000ull, false)), 0x0);
	CHECK_EQ(th_result(th_read(sim, 1, 0x0100000000000000ull, false)), TH_GP);
	CHECK_EQ(th_result(th_read(sim, 1, 0xfe00000000000000ull, false)), TH_GP);
	/* PS in a PML5E is reserved. */
	uint64_t *pml5e = th_entry(sim, root, va, MMU_LEVEL_PML5);
	sim_invlpg(sim, 1, va);
	*pml5e |= MMU_PTE_PS;
	CHECK_EQ(th_result(th_read(sim, 1, va, true)), 0xd);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy_bare(sim);
}

static uint64_t pk_bits(unsigned key) { return (uint64_t)key << MMU_PTE_PK_SHIFT; }

static void test_protection_keys(void)
{
	struct sim *sim = machine_for(true, true, true, true, true);
	mmu_pa_t root = th_root_on_all(sim), frame = th_data(sim, MMU_SIZE_4K);
	th_map(sim, root, VA, frame, MMU_SIZE_4K, W | U | pk_bits(3));
	th_map(sim, root, VA + 0x1000, frame, MMU_SIZE_4K, U | pk_bits(3));
	th_map(sim, root, VA + 0x2000, frame, MMU_SIZE_4K, W | pk_bits(3)); /* supervisor page */
	uint32_t ad3 = 1u << 6, wd3 = 1u << 7;

	sim_set_pkru(sim, 0, ad3);
	CHECK_EQ(th_result(th_read(sim, 0, VA, true)), 0x25);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 1, true)), 0x27);
	CHECK_EQ(th_result(sim_access(sim, 0, SIM_EXEC, VA, true, false, 0)), TH_OK); /* not for fetches */
	CHECK_EQ(th_result(sim_access(sim, 0, SIM_READ, VA, false, true, 0)), 0x21); /* supervisor too */
	CHECK_EQ(th_result(th_read(sim, 0, VA + 0x2000, false)), TH_OK);             /* PKS not modelled */

	sim_set_pkru(sim, 0, wd3);
	CHECK_EQ(th_result(th_read(sim, 0, VA, true)), TH_OK);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 1, true)), 0x27);
	CHECK_EQ(th_result(sim_access(sim, 0, SIM_WRITE, VA, false, true, 1)), 0x23); /* WP=1 */
	CHECK_EQ(th_result(th_write(sim, 0, VA + 0x1000, 1, true)), 0x27); /* read-only and WD: PK too */
	sim_set_pkru(sim, 0, 1u << 8); /* another key */
	CHECK_EQ(th_result(th_write(sim, 0, VA, 1, true)), TH_OK);
	CHECK_EQ(th_result(th_write(sim, 0, VA + 0x1000, 1, true)), 0x7);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy_bare(sim);

	/* WD does not stop supervisor writes with WP=0. */
	sim = machine_for(true, true, false, true, true);
	root = th_root_on_all(sim);
	frame = th_data(sim, MMU_SIZE_4K);
	th_map(sim, root, VA, frame, MMU_SIZE_4K, W | U | pk_bits(3));
	sim_set_pkru(sim, 0, wd3);
	CHECK_EQ(th_result(sim_access(sim, 0, SIM_WRITE, VA, false, true, 1)), TH_OK);
	CHECK_EQ(th_result(th_write(sim, 0, VA, 1, true)), 0x27);
	sim_destroy_bare(sim);

	/* Without CR4.PKE the key bits are ignored. */
	sim = machine_for(true, true, true, true, false);
	root = th_root_on_all(sim);
	frame = th_data(sim, MMU_SIZE_4K);
	th_map(sim, root, VA, frame, MMU_SIZE_4K, W | U | pk_bits(3));
	sim_set_pkru(sim, 0, ad3);
	CHECK_EQ(th_result(th_read(sim, 0, VA, true)), TH_OK);
	sim_destroy_bare(sim);
}

/* Bytes go where the translation says, at every size. */
static void test_data_path(void)
{
	struct sim *sim = th_default_machine();
	mmu_pa_t root = th_root_on_all(sim), big = th_data(sim, MMU_SIZE_2M);
	mmu_vaddr_t va = 0x7f0000200000ull;
	th_map(sim, root, va, big, MMU_SIZE_2M, W | U);
	CHECK_EQ(th_result(th_write(sim, 1, va + 0x1ffff5, 0xab, true)), TH_OK);
	CHECK_EQ(*sim_phys(sim, mmu_pa_add(big, 0x1ffff5)), 0xab);
	struct sim_access a = th_read(sim, 0, va + 0x1ffff5, true);
	CHECK_EQ(a.byte, 0xab);
	CHECK_EQ(sim_tlb_size(sim, 0), 1);
	CHECK_EQ(sim_tlb_size(sim, 1), 1);
	sim_destroy_bare(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	test_permission_matrix();
	test_not_present_codes();
	test_reserved_bits();
	test_accessed_dirty();
	test_canonical_and_5_level();
	test_protection_keys();
	test_data_path();
	return 0;
}
