/* SPDX-License-Identifier: MIT */
/* A table's live count, kept in four lanes by entry index mod 4
 * (struct mmu_frame_meta, docs/DESIGN.md "Table lifetime"), checked
 * against the tables themselves: after every step, each table reached from
 * the root holds in lane k exactly its non-zero entries of index k mod 4,
 * counted here by reading the table from physical memory. And the count
 * does its job: a single-page unmap that empties one lane while the others
 * hold entries keeps the table, the unmap of the last entry frees it (at
 * once with nothing owed, after the flush with a batch or a CPU running
 * the tree), and a run that starts at any index mod 4 moves each lane by
 * its share. Each single-page case runs twice: the second time each call
 * finds its table cached by a walk, which leaves the metadata for the
 * change to find. */
#include "simtest.h"

#define PAGE 0x1000ull
#define M2 (2ull << 20)
#define G1 (1ull << 30)
#define RU (MMU_PROT_R | MMU_PROT_U)
#define RWU (MMU_PROT_R | MMU_PROT_W | MMU_PROT_U)
#define ADDR_MASK 0x000ffffffffff000ull

static unsigned checked_tables;

/* Every table below TABLE (at LEVEL, 4 = PML4) within [FIRST, LAST) of its
 * entries: its lanes against its entries, then its tables below. */
static void check_table(struct sim *sim, uint64_t table, unsigned level, unsigned first, unsigned last)
{
	const uint64_t *e = (const uint64_t *)(void *)sim_phys(sim, mmu_pa(table));
	unsigned lane[4] = {0};
	for (unsigned i = 0; i < 512; i++)
		lane[i % 4] += e[i] != 0;
	const struct mmu_frame_meta *meta = sim_frame_meta(sim, mmu_pa(table));
	if (level < 4) { /* the root counts only what the library wrote, not the kernel half it copied */
		for (unsigned k = 0; k < 4; k++) {
			if (meta->live[k] != lane[k]) {
				fprintf(stderr, "table %#llx (level %u): lane %u holds %u, the table %u entries of index %u mod 4\n",
					(unsigned long long)table, level, k, meta->live[k], lane[k], k);
				check_failures++;
			}
		}
		checked_tables++;
	}
	for (unsigned i = first; i < last && level > 1; i++) {
		bool huge = level <= 3 && (e[i] & 0x80);
		if ((e[i] & 1) && !huge)
			check_table(sim, e[i] & ADDR_MASK, level - 1, 0, 512);
	}
}

static void check_lanes(struct sim *sim, struct mmu_tree *t)
{
	check_table(sim, mmu_pa_bits(t->root), 4, 0, 256);
}

/* A 4K and a 2M page mapped far from the others (a PDPT of their own),
 * whose walks make the table cache hold their page table or page
 * directory. */
#define FAR (1024 * G1)
#define FAR_2M (FAR + G1)

/* With WALKED, make the table cache hold the table of VA's page of SIZE
 * as a walk caches it (a page table without its metadata: src/descend.h),
 * so that the next single-page call at VA changes it through that entry
 * of the cache. */
static void cache_by_walk(struct mmu_tree *t, mmu_vaddr_t va, uint64_t size, bool walked)
{
	struct mmu_translation tr;
	if (!walked)
		return;
	CHECK_OK(mmu_walk(t, size == PAGE ? FAR : FAR_2M, &tr));
	mmu_err_t err = mmu_walk(t, va, &tr);
	CHECK(err == MMU_OK || err == MMU_E_NOTEXIST);
}

/* Single pages of SIZE (4K in one page table, 2M in one page directory)
 * at the indices IDX, mapped, then unmapped in that order (with batch B
 * when given, flushed after each): the table's lanes empty one at a time,
 * and the tables go only with the last entry. WALKED: each call after the
 * first finds its table cached by a walk (cache_by_walk). */
static void single_pages(struct sim *sim, struct mmu_tree *t, uint64_t size, const unsigned *idx, unsigned n,
			 struct mmu_tlb_batch *b, bool walked)
{
	struct mmu *mmu = sim_mmu(sim);
	const mmu_vaddr_t va = (size == PAGE ? 8 : 16) * G1;
	int64_t before = mmu_user_tables(mmu);
	for (unsigned i = 0; i < n; i++) {
		cache_by_walk(t, va + idx[i] * size, size, walked && i > 0);
		CHECK_OK(mmu_map(t, va + idx[i] * size, mmu_pa(0x200000000ull + idx[i] * size), size, RWU, NULL, NULL));
		if (walked)
			check_lanes(sim, t);
	}
	check_lanes(sim, t);
	int64_t mapped = mmu_user_tables(mmu);
	CHECK_EQ(mapped, before + (size == PAGE ? 3 : 2)); /* PDPT, PD (and PT) */
	for (unsigned i = 0; i < n; i++) {
		cache_by_walk(t, va + idx[i] * size, size, walked);
		CHECK_OK(mmu_unmap(t, va + idx[i] * size, size, b));
		if (b)
			mmu_tlb_flush(b);
		check_lanes(sim, t);
		CHECK_EQ(mmu_user_tables(mmu), i + 1 < n ? mapped : before);
	}
	CHECK_EQ(st_count_tables(sim, t), (uint64_t)before);
}

/* Runs from every start mod 4 and of every length mod 4: a range map, a
 * range protect, a range unmap cutting it in the middle, a split of a 2M
 * leaf (a full table: every lane 128), and the rest unmapped. */
static void runs(struct sim *sim, struct mmu_tree *t)
{
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_map_opts o4 = {.size = MMU_SIZE_4K};
	int64_t before = mmu_user_tables(mmu);
	for (unsigned start = 0; start < 4; start++) {
		for (unsigned len = 1; len <= 9; len++) {
			const mmu_vaddr_t va = 24 * G1 + start * PAGE;
			CHECK_OK(mmu_map(t, va, mmu_pa(0x100000000ull), len * 8 * PAGE, RWU, &o4, NULL));
			check_lanes(sim, t);
			CHECK_OK(mmu_protect(t, va + PAGE, len * 3 * PAGE, RU, NULL));
			check_lanes(sim, t);
			CHECK_OK(mmu_unmap(t, va + (start + 1) * PAGE, len * 5 * PAGE, NULL));
			check_lanes(sim, t);
			CHECK_OK(mmu_unmap(t, va, len * 8 * PAGE, NULL));
			check_lanes(sim, t);
			CHECK_EQ(mmu_user_tables(mmu), before);
		}
	}
	const mmu_vaddr_t va = 24 * G1;
	struct mmu_map_opts o2 = {.size = MMU_SIZE_2M};
	CHECK_OK(mmu_map(t, va, mmu_pa(0x200000000ull), M2, RWU, &o2, NULL));
	CHECK_OK(mmu_protect(t, va + 5 * PAGE, PAGE, RU, NULL)); /* splits: 512 entries */
	check_lanes(sim, t);
	CHECK_OK(mmu_unmap(t, va + 6 * PAGE, M2 - 7 * PAGE, NULL)); /* leaves indices 0-5, 511 */
	check_lanes(sim, t);
	for (unsigned i = 0; i <= 5; i++) {
		CHECK_OK(mmu_unmap(t, va + i * PAGE, PAGE, NULL));
		check_lanes(sim, t);
	}
	CHECK_OK(mmu_unmap(t, va + M2 - PAGE, PAGE, NULL));
	check_lanes(sim, t);
	CHECK_EQ(mmu_user_tables(mmu), before);
}

static void run(bool loaded, bool pcid)
{
	struct sim_config cfg;
	sim_config_default(&cfg); /* the data PAs mapped are never touched: no memory behind them needed */
	cfg.pcide = pcid;
	struct mmu_tree t;
	struct sim *sim = st_machine_tree(&cfg, &t, loaded);
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_tlb_batch b;
	mmu_tlb_batch_init(&b, &t);
	/* Lane 1 (indices 1, 5, 9) empties first while the others hold
	 * entries, then each lane in turn. */
	const unsigned small[] = {1, 5, 9, 0, 2, 3, 4, 6, 511, 510}, huge[] = {3, 7, 2, 6, 10, 1};
	CHECK_OK(mmu_map(&t, FAR, mmu_pa(0x300000000ull), PAGE, RU, NULL, NULL));
	CHECK_OK(mmu_map(&t, FAR_2M, mmu_pa(0x300200000ull), M2, RU, NULL, NULL));
	for (unsigned walked = 0; walked < 2; walked++) {
		single_pages(sim, &t, PAGE, small, 10, NULL, walked);
		single_pages(sim, &t, PAGE, small, 10, &b, walked);
		single_pages(sim, &t, M2, huge, 6, NULL, walked);
		single_pages(sim, &t, M2, huge, 6, &b, walked);
	}
	CHECK_OK(mmu_unmap(&t, FAR, PAGE, NULL));
	CHECK_OK(mmu_unmap(&t, FAR_2M, M2, NULL));
	runs(sim, &t);
	CHECK_EQ(mmu_user_tables(mmu), 1);
	if (loaded)
		st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&t));
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned v = 0; v < 4; v++)
		run(v & 1, v & 2);
	CHECK(checked_tables > 1000); /* the checks above looked at tables */
	return 0;
}
