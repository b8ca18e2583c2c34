/* SPDX-License-Identifier: MIT */
/* KeOS-style page-table cases on the software machine, with the TLB
 * sanitizer on: one page; the 16 permission sets over 13,107 pages with real
 * accesses checked against the SDM; the error cases; five mappings that
 * diverge at each level, inserted and removed in every order; teardown of
 * 13,107 pages leaving no table and no frame. 4- and 5-level paging. */
#include <string.h>

#include "simtest.h"

#define KEOS_START 0x1234000ull
#define KEOS_END 0x4567000ull
#define KEOS_PAGES ((KEOS_END - KEOS_START) >> 12) /* 13,107 */
#define PAGE 0x1000ull

static struct sim *sim;
static struct mmu *mmu;

static const char *prot_str(unsigned p, char buf[5])
{
	buf[0] = p & MMU_PROT_R ? 'r' : '-';
	buf[1] = p & MMU_PROT_W ? 'w' : '-';
	buf[2] = p & MMU_PROT_X ? 'x' : '-';
	buf[3] = p & MMU_PROT_U ? 'u' : '-';
	buf[4] = 0;
	return buf;
}

static mmu_pa_t data_frame(void)
{
	mmu_pa_t pa;
	mmu_err_t err = sim_frame_alloc(sim, MMU_SIZE_4K, &pa);
	if (err != MMU_OK) {
		fprintf(stderr, "no data frame: %s\n", mmu_err_name(err));
		exit(1);
	}
	return pa;
}

static void test_one_page(void)
{
	uint64_t tables0 = sim_tables_in_use(sim);
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	CHECK_EQ(mmu_user_tables(mmu), 1);
	mmu_pa_t f = data_frame();
	CHECK_OK(mmu_map(&t, 0x1000, f, PAGE, MMU_PROT_R | MMU_PROT_W, NULL, NULL));
	CHECK_EQ(mmu_user_tables(mmu), mmu->levels);
	struct mmu_translation tr;
	CHECK_OK(mmu_walk(&t, 0x1abc, &tr));
	CHECK_EQ(tr.pa.bits, f.bits + 0xabc);
	CHECK_EQ(tr.size, MMU_SIZE_4K);
	CHECK_EQ(tr.prot, MMU_PROT_R | MMU_PROT_W);
	CHECK_EQ(tr.leaf, f.bits | MMU_PTE_P | MMU_PTE_RW | MMU_PTE_XD);
	st_load(sim, 0, &t);
	CHECK_EQ(st_result(sim_access(sim, 0, SIM_WRITE, 0x1abc, false, false, 0x5a)), ST_OK);
	CHECK_EQ(*sim_phys(sim, mmu_pa_add(f, 0xabc)), 0x5a);
	struct sim_access a = sim_access(sim, 0, SIM_READ, 0x1abc, false, false, 0);
	CHECK_EQ(st_result(a), ST_OK);
	CHECK_EQ(a.byte, 0x5a);
	/* The hardware set A and D on the leaf. */
	CHECK_OK(mmu_walk(&t, 0x1000, &tr));
	CHECK_EQ(tr.leaf & (MMU_PTE_A | MMU_PTE_D), MMU_PTE_A | MMU_PTE_D);
	CHECK_OK(mmu_unmap(&t, 0x1000, PAGE, NULL));
	CHECK_ERR(mmu_walk(&t, 0x1000, &tr), MMU_E_NOTEXIST);
	a = sim_access(sim, 0, SIM_READ, 0x1abc, false, false, 0);
	CHECK_EQ(st_result(a), 0);
	CHECK_EQ(a.cr2, 0x1abc);
	CHECK_EQ(mmu_user_tables(mmu), 1);
	CHECK_ERR(mmu_tree_destroy(&t), MMU_E_BUSY);
	st_load(sim, 0, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&t));
	sim_frame_free(sim, MMU_SIZE_4K, f);
	CHECK_EQ(mmu_user_tables(mmu), 0);
	CHECK_EQ(sim_tables_in_use(sim), tables0);
	CHECK_EQ(sim_frames_in_use(sim), 0);
	st_check_sanitizer(sim);
}

/* Accesses on page VA (frame PA) from CPU, every kind and mode, against the
 * oracle. PROT is what was mapped (present). */
static void check_accesses(unsigned cpu, mmu_vaddr_t va, mmu_pa_t pa, bool present, unsigned prot, uint8_t tag)
{
	struct st_cpu_mode m = st_mode_of(sim_config(sim));
	static const enum sim_access_kind kinds[] = {SIM_READ, SIM_WRITE, SIM_EXEC};
	static const struct {
		bool user, ac;
	} modes[] = {{true, false}, {false, false}, {false, true}};
	for (unsigned k = 0; k < 3; k++) {
		for (unsigned md = 0; md < 3; md++) {
			mmu_vaddr_t at = va + 0x10 * (k * 3 + md + 1);
			uint8_t byte = (uint8_t)(tag + k * 3 + md);
			struct sim_access a = sim_access(sim, cpu, kinds[k], at, modes[md].user, modes[md].ac, byte);
			uint32_t want = st_expect(m, present, prot, kinds[k], modes[md].user, modes[md].ac);
			if (st_result(a) != want) {
				char b[5];
				fprintf(stderr, "va 0x%llx prot %s kind %u user %u ac %u cpu %u: got 0x%x want 0x%x\n",
					(unsigned long long)at, prot_str(prot, b), kinds[k], modes[md].user, modes[md].ac,
					cpu, st_result(a), want);
			}
			CHECK_EQ(st_result(a), want);
			if (a.outcome == SIM_PF)
				CHECK_EQ(a.cr2, at);
			uint8_t *mem = sim_phys(sim, mmu_pa_add(pa, at - va));
			if (a.outcome == SIM_OK && kinds[k] == SIM_WRITE)
				CHECK_EQ(*mem, byte);
			if (a.outcome == SIM_OK && kinds[k] == SIM_READ)
				CHECK_EQ(a.byte, *mem);
		}
	}
}

/* The 16 subsets of r, w, x, u over 0x1234000..0x4567000, one 4K map call
 * per page: INVALID_PERMISSION exactly when r is missing; otherwise the
 * walk, the leaf bits and the accesses the SDM predicts. */
static void test_permissions(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	st_load(sim, 0, &t);
	st_load(sim, 1, &t);
	mmu_pa_t *frames = malloc(KEOS_PAGES * sizeof(*frames));
	for (uint64_t i = 0; i < KEOS_PAGES; i++)
		frames[i] = data_frame();
	bool nx = sim_config(sim)->nx;
	for (unsigned prot = 0; prot < 16; prot++) {
		char pb[5];
		prot_str(prot, pb);
		unsigned refused = 0;
		for (uint64_t i = 0; i < KEOS_PAGES; i++) {
			mmu_err_t err = mmu_map(&t, KEOS_START + i * PAGE, frames[i], PAGE, prot, NULL, NULL);
			if (err != ((prot & MMU_PROT_R) ? MMU_OK : MMU_E_INVALID_PERMISSION)) {
				fprintf(stderr, "map %s page %llu: %s\n", pb, (unsigned long long)i, mmu_err_name(err));
				CHECK(0);
				CHECK_STOP_ON_FAILURE();
			}
			refused += err == MMU_E_INVALID_PERMISSION;
		}
		if (!(prot & MMU_PROT_R)) {
			CHECK_EQ(refused, KEOS_PAGES);
			CHECK_EQ(mmu_user_tables(mmu), 1); /* nothing allocated for a refused call */
			struct mmu_translation tr;
			CHECK_ERR(mmu_walk(&t, KEOS_START, &tr), MMU_E_NOTEXIST);
			CHECK_ERR(mmu_walk(&t, KEOS_END - PAGE, &tr), MMU_E_NOTEXIST);
			CHECK_ERR(mmu_protect(&t, KEOS_START, PAGE, MMU_PROT_R, NULL), MMU_E_NOTEXIST);
			check_accesses(0, KEOS_START + 5 * PAGE, frames[5], false, 0, (uint8_t)prot);
			continue;
		}
		uint64_t want_leaf_bits = MMU_PTE_P | (prot & MMU_PROT_W ? MMU_PTE_RW : 0) |
					  (prot & MMU_PROT_U ? MMU_PTE_US : 0) |
					  (nx && !(prot & MMU_PROT_X) ? MMU_PTE_XD : 0);
		unsigned want_prot = prot | (nx ? 0 : MMU_PROT_X);
		for (uint64_t i = 0; i < KEOS_PAGES; i++) {
			struct mmu_translation tr;
			mmu_err_t err = mmu_walk(&t, KEOS_START + i * PAGE + 0x321, &tr);
			bool good = err == MMU_OK && tr.pa.bits == frames[i].bits + 0x321 && tr.size == MMU_SIZE_4K &&
				    tr.prot == want_prot && tr.leaf == (frames[i].bits | want_leaf_bits);
			if (!good) {
				fprintf(stderr, "walk %s page %llu: %s pa 0x%llx size %u prot 0x%x leaf 0x%llx\n", pb,
					(unsigned long long)i, mmu_err_name(err), (unsigned long long)tr.pa.bits,
					tr.size, tr.prot, (unsigned long long)tr.leaf);
				CHECK(0);
				CHECK_STOP_ON_FAILURE();
			}
		}
		/* Tables: the root, a PDPT (and PML4 with 5 levels), a PD, and
		 * the PTs of 0x1200000..0x4600000 (26 of them). */
		CHECK_EQ(mmu_user_tables(mmu), mmu->levels - 1 + 26);
		CHECK_EQ(st_count_tables(sim, &t), mmu_user_tables(mmu));
		for (uint64_t i = 0; i < KEOS_PAGES; i += (i < 3 || i + 4 > KEOS_PAGES) ? 1 : 97)
			check_accesses((unsigned)(i & 1), KEOS_START + i * PAGE, frames[i], true, prot, (uint8_t)(i + prot));
		CHECK_STOP_ON_FAILURE();
		/* Even sets unmap page by page, odd ones in one call. */
		if (prot & 1) {
			CHECK_OK(mmu_unmap(&t, KEOS_START, KEOS_END - KEOS_START, NULL));
		} else {
			for (uint64_t i = 0; i < KEOS_PAGES; i++)
				CHECK_OK(mmu_unmap(&t, KEOS_START + i * PAGE, PAGE, NULL));
		}
		CHECK_EQ(mmu_user_tables(mmu), 1);
		for (uint64_t i = 0; i < KEOS_PAGES; i += 1000)
			check_accesses((unsigned)(i & 1), KEOS_START + i * PAGE, frames[i], false, prot, 0);
		st_check_sanitizer(sim);
		CHECK_STOP_ON_FAILURE();
	}
	st_load(sim, 0, mmu_kernel_tree(mmu));
	st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&t));
	for (uint64_t i = 0; i < KEOS_PAGES; i++)
		sim_frame_free(sim, MMU_SIZE_4K, frames[i]);
	free(frames);
	CHECK_EQ(sim_frames_in_use(sim), 0);
	st_check_sanitizer(sim);
}

static void test_errors(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	mmu_pa_t f = data_frame(), g = data_frame();
	struct mmu_translation tr;
	const unsigned r = MMU_PROT_R, rw = MMU_PROT_R | MMU_PROT_W;
	CHECK_OK(mmu_map(&t, 0x1234000, f, PAGE, rw, NULL, NULL));
	/* DUPLICATED: the same page, and a range that overlaps it (all or
	 * nothing: the free page before it stays unmapped). */
	CHECK_ERR(mmu_map(&t, 0x1234000, g, PAGE, r, NULL, NULL), MMU_E_DUPLICATED);
	CHECK_ERR(mmu_map(&t, 0x1233000, g, 2 * PAGE, r, NULL, NULL), MMU_E_DUPLICATED);
	CHECK_ERR(mmu_walk(&t, 0x1233000, &tr), MMU_E_NOTEXIST);
	CHECK_OK(mmu_walk(&t, 0x1234000, &tr));
	CHECK_EQ(tr.pa.bits, f.bits);
	/* UNALIGNED: VA, PA, length, forced size. */
	CHECK_ERR(mmu_map(&t, 0x1234123, g, PAGE, r, NULL, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_map(&t, 0x5000000, mmu_pa_add(g, 0x10), PAGE, r, NULL, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_map(&t, 0x5000000, g, 0x1001, r, NULL, NULL), MMU_E_UNALIGNED);
	struct mmu_map_opts o2m = {.size = MMU_SIZE_2M};
	CHECK_ERR(mmu_map(&t, 0x5000000, g, PAGE, r, &o2m, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_unmap(&t, 0x1234800, PAGE, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_protect(&t, 0x1234000, 0x800, r, NULL), MMU_E_UNALIGNED);
	/* The same in the cached page table (the fast path's cache test is
	 * its alignment test too), and under the caller's lock. */
	CHECK_ERR(mmu_protect(&t, 0x1234008, PAGE, r, NULL), MMU_E_UNALIGNED);
	struct mmu_tree_locked h = mmu_tree_lock(&t);
	CHECK_ERR(mmu_unmap_locked(h, 0x1234800, PAGE, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_protect_locked(h, 0x1234008, PAGE, r, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_unmap_locked(h, 0x1200800, 0x200000, NULL), MMU_E_UNALIGNED);
	mmu_tree_unlock(h);
	/* NOTEXIST. */
	CHECK_ERR(mmu_unmap(&t, 0x5000000, PAGE, NULL), MMU_E_NOTEXIST);
	CHECK_ERR(mmu_protect(&t, 0x5000000, PAGE, r, NULL), MMU_E_NOTEXIST);
	CHECK_ERR(mmu_walk(&t, 0x5000000, &tr), MMU_E_NOTEXIST);
	CHECK_ERR(mmu_walk(&t, 0x1235000, &tr), MMU_E_NOTEXIST);
	/* Precedence: INVALID, UNALIGNED, INVALID_PERMISSION, DUPLICATED. */
	mmu_vaddr_t hole = 1ull << (mmu_va_bits(mmu->levels) - 1);
	CHECK_ERR(mmu_map(&t, hole + 0x123, g, PAGE, 0, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&t, 0x1234123, g, PAGE, MMU_PROT_W, NULL, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_map(&t, 0x1234000, g, PAGE, MMU_PROT_W, NULL, NULL), MMU_E_INVALID_PERMISSION);
	CHECK_ERR(mmu_protect(&t, 0x5000000, PAGE, MMU_PROT_W, NULL), MMU_E_INVALID_PERMISSION);
	CHECK_ERR(mmu_walk(&t, hole, &tr), MMU_E_INVALID);
	/* The mapping is untouched by all of the above. */
	CHECK_OK(mmu_walk(&t, 0x1234000, &tr));
	CHECK_EQ(tr.leaf, f.bits | MMU_PTE_P | MMU_PTE_RW | MMU_PTE_XD);
	CHECK_OK(mmu_unmap(&t, 0x1234000, PAGE, NULL));
	CHECK_ERR(mmu_unmap(&t, 0x1234000, PAGE, NULL), MMU_E_NOTEXIST);
	CHECK_EQ(mmu_user_tables(mmu), 1);
	CHECK_OK(mmu_tree_destroy(&t));
	sim_frame_free(sim, MMU_SIZE_4K, f);
	sim_frame_free(sim, MMU_SIZE_4K, g);
}

/* Five pages whose paths diverge at the PT, PD, PDPT and PML4. */
static const mmu_vaddr_t five[5] = {0xfffffff000ull, 0xffffffe000ull, 0xffffdff000ull, 0xffbffff000ull,
				    0x7ffffff000ull};

static bool next_permutation(unsigned *p, unsigned n)
{
	int i = (int)n - 2;
	while (i >= 0 && p[i] >= p[i + 1])
		i--;
	if (i < 0)
		return false;
	int j = (int)n - 1;
	while (p[j] <= p[i])
		j--;
	unsigned x = p[i];
	p[i] = p[j], p[j] = x;
	for (unsigned a = (unsigned)i + 1, b = n - 1; a < b; a++, b--)
		x = p[a], p[a] = p[b], p[b] = x;
	return true;
}

static void check_five(struct mmu_tree *t, const mmu_pa_t *f, const bool *present, bool with_access)
{
	uint64_t va[5];
	enum mmu_size sz[5];
	size_t n = 0;
	for (unsigned i = 0; i < 5; i++) {
		struct mmu_translation tr;
		mmu_err_t err = mmu_walk(t, five[i] + 0x88, &tr);
		if (present[i]) {
			CHECK_OK(err);
			CHECK_EQ(tr.pa.bits, f[i].bits + 0x88);
			va[n] = five[i], sz[n++] = MMU_SIZE_4K;
		} else {
			CHECK_ERR(err, MMU_E_NOTEXIST);
		}
		if (with_access) {
			struct sim_access a = sim_access(sim, 0, SIM_READ, five[i] + 0x88, false, false, 0);
			CHECK_EQ(st_result(a), present[i] ? ST_OK : 0);
			if (present[i])
				CHECK_EQ(a.byte, 0xa0 + i);
		}
	}
	uint64_t want = st_tables_for_leaves(mmu->levels, va, sz, n);
	CHECK_EQ(mmu_user_tables(mmu), want);
	CHECK_EQ(st_count_tables(sim, t), want);
}

static void test_five_paths(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	st_load(sim, 0, &t);
	mmu_pa_t f[5];
	for (unsigned i = 0; i < 5; i++) {
		f[i] = data_frame();
		*sim_phys(sim, mmu_pa_add(f[i], 0x88)) = (uint8_t)(0xa0 + i);
	}
	unsigned ins[5] = {0, 1, 2, 3, 4};
	unsigned combos = 0;
	do {
		unsigned rem[5] = {0, 1, 2, 3, 4};
		do {
			bool present[5] = {0};
			bool access = combos % 5 == 0;
			for (unsigned s = 0; s < 5; s++) {
				unsigned i = ins[s];
				CHECK_OK(mmu_map(&t, five[i], f[i], PAGE, MMU_PROT_R | MMU_PROT_W, NULL, NULL));
				present[i] = true;
				check_five(&t, f, present, access);
			}
			for (unsigned s = 0; s < 5; s++) {
				unsigned i = rem[s];
				CHECK_OK(mmu_unmap(&t, five[i], PAGE, NULL));
				present[i] = false;
				check_five(&t, f, present, access);
			}
			combos++;
			CHECK_STOP_ON_FAILURE();
		} while (next_permutation(rem, 5));
	} while (next_permutation(ins, 5));
	CHECK_EQ(combos, 120 * 120);
	CHECK_EQ(mmu_user_tables(mmu), 1);
	st_load(sim, 0, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&t));
	for (unsigned i = 0; i < 5; i++)
		sim_frame_free(sim, MMU_SIZE_4K, f[i]);
	st_check_sanitizer(sim);
}

/* 13,107 pages, each on its own frame, written through the MMU; then torn
 * down page by page (UNMAP_FIRST) or by dropping the whole tree. */
static void test_teardown(bool unmap_first)
{
	uint64_t tables0 = sim_tables_in_use(sim);
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	st_load(sim, 1, &t);
	mmu_pa_t *frames = malloc(KEOS_PAGES * sizeof(*frames));
	for (uint64_t i = 0; i < KEOS_PAGES; i++) {
		frames[i] = data_frame();
		CHECK_OK(mmu_map(&t, KEOS_START + i * PAGE, frames[i], PAGE, MMU_PROT_R | MMU_PROT_W, NULL, NULL));
	}
	CHECK_EQ(sim_frames_in_use(sim), KEOS_PAGES);
	for (uint64_t i = 0; i < KEOS_PAGES; i++)
		CHECK_EQ(st_result(sim_access(sim, 1, SIM_WRITE, KEOS_START + i * PAGE + 7, false, false, (uint8_t)i)),
			 ST_OK);
	for (uint64_t i = 0; i < KEOS_PAGES; i += 101)
		CHECK_EQ(*sim_phys(sim, mmu_pa_add(frames[i], 7)), (uint8_t)i);
	if (unmap_first) {
		for (uint64_t i = 0; i < KEOS_PAGES; i++)
			CHECK_OK(mmu_unmap(&t, KEOS_START + i * PAGE, PAGE, NULL));
		CHECK_EQ(mmu_user_tables(mmu), 1);
		CHECK_EQ(st_count_tables(sim, &t), 1);
		CHECK_EQ(st_result(sim_access(sim, 1, SIM_READ, KEOS_START, false, false, 0)), 0);
	}
	CHECK_ERR(mmu_tree_destroy(&t), MMU_E_BUSY);
	st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&t));
	CHECK_EQ(mmu_user_tables(mmu), 0);
	CHECK_EQ(sim_tables_in_use(sim), tables0);
	for (uint64_t i = 0; i < KEOS_PAGES; i++)
		sim_frame_free(sim, MMU_SIZE_4K, frames[i]);
	free(frames);
	CHECK_EQ(sim_frames_in_use(sim), 0);
	st_check_sanitizer(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned levels = 4; levels <= 5; levels++) {
		sim = st_default(levels, 2);
		mmu = sim_mmu(sim);
		test_one_page();
		test_permissions();
		test_errors();
		test_five_paths();
		test_teardown(true);
		test_teardown(false);
		CHECK_EQ(mmu_user_tables(mmu), 0);
		CHECK_EQ(sim_frames_in_use(sim), 0);
		st_check_sanitizer(sim);
		sim_destroy(sim);
	}
	/* The permission oracle again with NX, SMEP, SMAP and WP off. */
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.nx = cfg.smep = cfg.smap = cfg.wp = false;
	sim = st_machine(&cfg);
	mmu = sim_mmu(sim);
	test_permissions();
	st_check_sanitizer(sim);
	sim_destroy(sim);
	return 0;
}
