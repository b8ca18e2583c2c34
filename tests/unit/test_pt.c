/* SPDX-License-Identifier: MIT */
/* Library unit tests on the fake port: entries, map/unmap/protect/walk,
 * leaf sizes, splits, kernel-half sharing, failure injection. Mappings are
 * checked with an oracle walker written here, not with mmu_walk. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fake_port.h"

static struct fake_port *fp;
static struct mmu mmu;

/* The oracle: follows raw entries from ROOT; returns the leaf entry and its
 * level, or 0. */
static mmu_pte_t oracle_leaf(mmu_pa_t root, mmu_vaddr_t va, enum mmu_level *level)
{
	const mmu_pte_t *table = (const mmu_pte_t *)(fp->arena + root.bits);
	for (int l = (int)mmu.levels; l >= 1; l--) {
		unsigned idx = (unsigned)(va >> (12 + 9 * (l - 1))) & 511;
		mmu_pte_t e = table[idx];
		if (!(e & 1))
			return 0;
		if (l == 1 || ((l == 2 || l == 3) && (e & 0x80))) {
			*level = (enum mmu_level)l;
			return e;
		}
		table = (const mmu_pte_t *)(fp->arena + (e & 0x000ffffffffff000ull));
	}
	return 0;
}

static void test_pte_accessors(void)
{
	mmu_pte_t e = MMU_PTE_XD | MMU_PTE_RW;
	mmu_pa_t pa;
	CHECK_ERR(mmu_pte_addr(e, MMU_LEVEL_PT, &pa), MMU_E_NOTEXIST);
	e |= MMU_PTE_P | 0x1234000;
	CHECK_OK(mmu_pte_addr(e, MMU_LEVEL_PT, &pa));
	CHECK_EQ(pa.bits, 0x1234000);
	CHECK_EQ(mmu_pte_flags(e, MMU_LEVEL_PT), MMU_PTE_XD | MMU_PTE_RW | MMU_PTE_P);
	CHECK_ERR(mmu_pte_next_table(e, MMU_LEVEL_PT, &pa), MMU_E_NOTEXIST);
	CHECK_OK(mmu_pte_next_table(e, MMU_LEVEL_PD, &pa));
	CHECK_EQ(pa.bits, 0x1234000);

	mmu_pte_t huge = MMU_PTE_PS | MMU_PTE_PAT_HUGE | MMU_PTE_XD | MMU_PTE_P | 0x400000;
	CHECK_OK(mmu_pte_addr(huge, MMU_LEVEL_PD, &pa));
	CHECK_EQ(pa.bits, 0x400000); /* bit 12 is PAT, not address */
	CHECK_EQ(mmu_pte_flags(huge, MMU_LEVEL_PD), MMU_PTE_PS | MMU_PTE_PAT_HUGE | MMU_PTE_XD | MMU_PTE_P);
	CHECK_ERR(mmu_pte_next_table(huge, MMU_LEVEL_PD, &pa), MMU_E_NOTEXIST);
	CHECK_EQ(mmu_pte_leaf_flags_for(MMU_PTE_PS | MMU_PTE_PAT_HUGE | MMU_PTE_G, MMU_LEVEL_PD, MMU_LEVEL_PT),
		 MMU_PTE_PAT_4K | MMU_PTE_G);
}

static void test_map_walk_unmap_one(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_OK(mmu_map(&t, 0x1000, mmu_pa(0x5000000), 0x1000, MMU_PROT_R | MMU_PROT_W, NULL, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), mmu.levels); /* one table per level */
	enum mmu_level lvl;
	mmu_pte_t e = oracle_leaf(t.root, 0x1000, &lvl);
	CHECK_EQ(e, 0x5000000 | MMU_PTE_P | MMU_PTE_RW | MMU_PTE_XD);
	CHECK_EQ(lvl, MMU_LEVEL_PT);
	struct mmu_translation tr;
	CHECK_OK(mmu_walk(&t, 0x1234, &tr));
	CHECK_EQ(tr.pa.bits, 0x5000234);
	CHECK_EQ(tr.prot, MMU_PROT_R | MMU_PROT_W);
	CHECK_EQ(tr.size, MMU_SIZE_4K);
	mmu_pte_t raw;
	CHECK_OK(mmu_entry(&t, 0x1000, MMU_LEVEL_PD, &raw));
	CHECK_EQ(raw & 0xfff, MMU_PTE_P | MMU_PTE_RW | MMU_PTE_US);
	CHECK_ERR(mmu_map(&t, 0x1000, mmu_pa(0x6000000), 0x1000, MMU_PROT_R, NULL, NULL), MMU_E_DUPLICATED);
	CHECK_ERR(mmu_unmap(&t, 0x2000, 0x1000, NULL), MMU_E_NOTEXIST);
	CHECK_OK(mmu_unmap(&t, 0x1000, 0x1000, NULL));
	CHECK_ERR(mmu_walk(&t, 0x1000, &tr), MMU_E_NOTEXIST);
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_OK(mmu_tree_destroy(&t));
	CHECK_EQ(mmu_user_tables(&mmu), 0);
}

static void test_errors_and_precedence(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	mmu_pa_t pa = mmu_pa(0x8000000);
	mmu_vaddr_t hole = 1ull << (mmu_va_bits(mmu.levels) - 1); /* first non-canonical address */
	/* INVALID beats UNALIGNED beats INVALID_PERMISSION. */
	CHECK_ERR(mmu_map(&t, hole, pa, 0x1000, MMU_PROT_R, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&t, 0xffff800000000123ull, pa, 0x1000, 0, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&t, hole - 0x1000, pa, 0x2000, MMU_PROT_R, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&t, 0x1000, pa, 0, MMU_PROT_R, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&t, 0x1001, pa, 0x1000, 0, NULL, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_map(&t, 0x1000, mmu_pa(0x8000010), 0x1000, 0, NULL, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_map(&t, 0x1000, pa, 0x1000, MMU_PROT_W, NULL, NULL), MMU_E_INVALID_PERMISSION);
	struct mmu_map_opts o = {.size = MMU_SIZE_2M};
	CHECK_ERR(mmu_map(&t, 0x1000, pa, 0x200000, MMU_PROT_R, &o, NULL), MMU_E_UNALIGNED);
	o.pkey = 16;
	CHECK_ERR(mmu_map(&t, 0x200000, pa, 0x200000, MMU_PROT_R, &o, NULL), MMU_E_INVALID);
	/* The kernel tree takes the kernel half only. */
	CHECK_ERR(mmu_map(mmu_kernel_tree(&mmu), 0x1000, pa, 0x1000, MMU_PROT_R, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_protect(&t, 0x1000, 0x1000, MMU_PROT_R, NULL), MMU_E_NOTEXIST);
	CHECK_ERR(mmu_protect(&t, 0x1000, 0x1000, MMU_PROT_W, NULL), MMU_E_INVALID_PERMISSION);
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_OK(mmu_tree_destroy(&t));
}

/* Leaf sizes chosen position by position: largest aligned leaf inside. */
static void test_leaf_sizes(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	mmu_vaddr_t va = 0x40000000 - 0x1000; /* 4K, then a 1G, then 2M, then 4K */
	uint64_t len = 0x1000 + 0x40000000 + 0x200000 + 0x1000;
	CHECK_OK(mmu_map(&t, va, mmu_pa(0x80000000 - 0x1000), len, MMU_PROT_R | MMU_PROT_X, NULL, NULL));
	struct mmu_translation tr;
	CHECK_OK(mmu_walk(&t, va, &tr));
	CHECK_EQ(tr.size, MMU_SIZE_4K);
	CHECK_OK(mmu_walk(&t, 0x40000000 + 0x123456, &tr));
	CHECK_EQ(tr.size, MMU_SIZE_1G);
	CHECK_EQ(tr.pa.bits, 0x80000000 + 0x123456);
	CHECK_EQ(tr.leaf & (MMU_PTE_PS | MMU_PTE_XD | MMU_PTE_RW), MMU_PTE_PS);
	CHECK_OK(mmu_walk(&t, 0x80000000, &tr));
	CHECK_EQ(tr.size, MMU_SIZE_2M);
	CHECK_OK(mmu_walk(&t, 0x80200000, &tr));
	CHECK_EQ(tr.size, MMU_SIZE_4K);
	/* PA misaligned against VA: 4K leaves only. */
	CHECK_OK(mmu_map(&t, 0x100000000ull, mmu_pa(0x1000), 0x400000, MMU_PROT_R, NULL, NULL));
	CHECK_OK(mmu_walk(&t, 0x100200000ull, &tr));
	CHECK_EQ(tr.size, MMU_SIZE_4K);
	CHECK_OK(mmu_unmap(&t, 0, 0x200000000ull, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_OK(mmu_tree_destroy(&t));
}

/* Partial unmap and protect split huge leaves; split leaves keep every bit. */
static void test_splits(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	struct mmu_map_opts o = {.size = MMU_SIZE_1G, .global = true, .cache = MMU_CACHE_UC};
	CHECK_OK(mmu_map(&t, 0x40000000, mmu_pa(0x40000000), 0x40000000, MMU_PROT_R | MMU_PROT_W, &o, NULL));
	/* Root down to the PDPT that holds the 1G leaf. */
	int64_t tables_1g = mmu.levels - 2;
	CHECK_EQ(mmu_user_tables(&mmu), tables_1g);
	/* Protect one 4K page in the middle: 1G → 512×2M, one 2M → 512×4K. */
	CHECK_OK(mmu_protect(&t, 0x40301000, 0x1000, MMU_PROT_R, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), tables_1g + 2);
	enum mmu_level lvl;
	mmu_pte_t e = oracle_leaf(t.root, 0x40301000, &lvl);
	CHECK_EQ(lvl, MMU_LEVEL_PT);
	CHECK_EQ(e, 0x40301000 | MMU_PTE_P | MMU_PTE_G | MMU_PTE_PCD | MMU_PTE_PWT | MMU_PTE_XD);
	e = oracle_leaf(t.root, 0x40302000, &lvl);
	CHECK_EQ(e, 0x40302000 | MMU_PTE_P | MMU_PTE_RW | MMU_PTE_G | MMU_PTE_PCD | MMU_PTE_PWT | MMU_PTE_XD);
	e = oracle_leaf(t.root, 0x40600000, &lvl);
	CHECK_EQ(lvl, MMU_LEVEL_PD);
	CHECK_EQ(e, 0x40600000 | MMU_PTE_P | MMU_PTE_RW | MMU_PTE_PS | MMU_PTE_G | MMU_PTE_PCD | MMU_PTE_PWT |
			    MMU_PTE_XD);
	/* Unmap everything but one 4K page: the tables stay for it. */
	CHECK_OK(mmu_unmap(&t, 0x40000000, 0x301000, NULL));
	CHECK_OK(mmu_unmap(&t, 0x40302000, 0x40000000 - 0x302000, NULL));
	CHECK(oracle_leaf(t.root, 0x40301000, &lvl) != 0);
	CHECK_EQ(mmu_user_tables(&mmu), tables_1g + 2);
	CHECK_OK(mmu_unmap(&t, 0x40301000, 0x1000, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_OK(mmu_tree_destroy(&t));
}

static void test_kernel_half_shared(void)
{
	struct mmu_tree a, b;
	CHECK_OK(mmu_tree_create(&mmu, &a));
	mmu_vaddr_t kva = 0xffffc80000200000ull;
	CHECK_OK(mmu_map(mmu_kernel_tree(&mmu), kva, mmu_pa(0x200000), 0x200000, MMU_PROT_R, NULL, NULL));
	CHECK_OK(mmu_tree_create(&mmu, &b));
	struct mmu_translation tr;
	CHECK_OK(mmu_walk(&a, kva + 0x10, &tr));
	CHECK_EQ(tr.pa.bits, 0x200010);
	CHECK_OK(mmu_walk(&b, kva, &tr));
	CHECK_EQ(tr.prot, MMU_PROT_R);
	CHECK_ERR(mmu_map(&a, kva + 0x200000, mmu_pa(0), 0x1000, MMU_PROT_R, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_unmap(&a, kva, 0x1000, NULL), MMU_E_INVALID);
	uint64_t before = fp->in_use;
	CHECK_OK(mmu_tree_destroy(&a));
	CHECK_OK(mmu_walk(&b, kva, &tr));
	CHECK_EQ(fp->in_use, before - 1);
	/* Kernel entries are never US; intermediate kernel entries are P|RW. */
	mmu_pte_t raw;
	CHECK_OK(mmu_entry(&b, kva, MMU_LEVEL_PML4, &raw));
	CHECK_EQ(raw & 0xfff, MMU_PTE_P | MMU_PTE_RW);
	CHECK_OK(mmu_unmap(mmu_kernel_tree(&mmu), kva, 0x200000, NULL));
	CHECK_OK(mmu_tree_destroy(&b));
}

/* Every allocation point of map, protect and unmap fails once: the error
 * comes back, the tree is unchanged and nothing leaks. */
static void test_alloc_failure(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	CHECK_OK(mmu_map(&t, 0x7000, mmu_pa(0x7000), 0x1000, MMU_PROT_R, NULL, NULL));
	uint64_t base = fp->in_use;
	struct mmu_map_opts o4k = {.size = MMU_SIZE_4K};
	for (long k = 0;; k++) {
		fp->fail_after = k;
		mmu_err_t err = mmu_map(&t, 0x40000000, mmu_pa(0x40000000), 0x40000000, MMU_PROT_R, &o4k, NULL);
		fp->fail_after = -1;
		if (err == MMU_OK) {
			CHECK_EQ(k, 513); /* a PD and 512 PTs under the existing PDPT */
			break;
		}
		CHECK_ERR(err, MMU_E_NOMEM);
		CHECK_EQ(fp->in_use, base);
		enum mmu_level lvl;
		CHECK_EQ(oracle_leaf(t.root, 0x40000000, &lvl), 0);
		CHECK_STOP_ON_FAILURE();
	}
	CHECK_OK(mmu_unmap(&t, 0x40000000, 0x40000000, NULL));
	struct mmu_map_opts o1g = {.size = MMU_SIZE_1G};
	CHECK_OK(mmu_map(&t, 0x40000000, mmu_pa(0x40000000), 0x40000000, MMU_PROT_R, &o1g, NULL));
	base = fp->in_use;
	for (long k = 0; k < 2; k++) {
		fp->fail_after = k;
		CHECK_ERR(mmu_protect(&t, 0x40201000, 0x1000, MMU_PROT_R | MMU_PROT_W, NULL), MMU_E_NOMEM);
		CHECK_ERR(mmu_unmap(&t, 0x40201000, 0x1000, NULL), MMU_E_NOMEM);
		fp->fail_after = -1;
		CHECK_EQ(fp->in_use, base);
		enum mmu_level lvl;
		CHECK(oracle_leaf(t.root, 0x40201000, &lvl) != 0);
		CHECK_EQ(lvl, MMU_LEVEL_PDPT);
	}
	fp->fail_after = 2;
	CHECK_OK(mmu_unmap(&t, 0x40201000, 0x1000, NULL));
	fp->fail_after = -1;
	CHECK_OK(mmu_unmap(&t, 0, 0x800000000ull, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_OK(mmu_tree_destroy(&t));
}

static void test_batch_ceiling(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	mmu_tree_load(&t);
	CHECK_OK(mmu_map(&t, 0x100000, mmu_pa(0x100000), 0x100000, MMU_PROT_R, NULL, NULL));
	(void)mmu_counters_take(&mmu);
	CHECK_OK(mmu_unmap(&t, 0x100000, 33 * 0x1000, NULL));
	struct mmu_counters c = mmu_counters_take(&mmu);
	CHECK_EQ(c.invlpg, 33);
	CHECK_EQ(c.full, 0);
	CHECK_OK(mmu_unmap(&t, 0x100000 + 33 * 0x1000, 34 * 0x1000, NULL));
	c = mmu_counters_take(&mmu);
	CHECK_EQ(c.invlpg, 0);
	CHECK_EQ(c.full, 1);
	CHECK_ERR(mmu_tree_destroy(&t), MMU_E_BUSY);
	mmu_tree_load(mmu_kernel_tree(&mmu));
	CHECK_OK(mmu_unmap(&t, 0x100000, 0x100000, NULL));
	c = mmu_counters_take(&mmu);
	CHECK_EQ(c.invlpg + c.full, 0); /* not loaded anywhere: nothing to invalidate */
	CHECK_OK(mmu_tree_destroy(&t));
}

struct lines {
	char text[8][160];
	unsigned n;
};

static void collect_line(void *ctx, const char *line)
{
	struct lines *l = ctx;
	if (l->n < 8)
		snprintf(l->text[l->n], sizeof(l->text[0]), "%s", line);
	l->n++;
}

/* Runs with equal attributes merge; the audit lists only W+X runs. */
static void test_dump_and_wx_audit(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	const unsigned rw = MMU_PROT_R | MMU_PROT_W, rwx = rw | MMU_PROT_X;
	CHECK_OK(mmu_map(&t, 0x1000, mmu_pa(0x1000), 0x2000, rw, NULL, NULL));
	CHECK_OK(mmu_map(&t, 0x3000, mmu_pa(0x9000), 0x1000, rw, NULL, NULL));
	CHECK_OK(mmu_map(&t, 0x5000, mmu_pa(0x5000), 0x1000, rwx | MMU_PROT_U, NULL, NULL));
	CHECK_OK(mmu_map(&t, 0x200000, mmu_pa(0x200000), 0x200000, MMU_PROT_R | MMU_PROT_X, NULL, NULL));
	struct lines l = {0};
	mmu_dump(&t, 0, 0x0000800000000000ull, collect_line, &l);
	CHECK_EQ(l.n, 3);
	CHECK(strcmp(l.text[0], "0x0000000000001000-0x0000000000004000       12K     RW NX            pte") == 0);
	CHECK(strcmp(l.text[1], "0x0000000000005000-0x0000000000006000        4K USR RW x             pte") == 0);
	CHECK(strcmp(l.text[2], "0x0000000000200000-0x0000000000400000        2M     ro x      PSE    pd") == 0);
	struct lines wx = {0};
	CHECK_EQ(mmu_audit_wx(&t, 0, 0x0000800000000000ull, collect_line, &wx), 1);
	CHECK_EQ(wx.n, 1);
	CHECK(strcmp(wx.text[0], l.text[1]) == 0);
	CHECK_OK(mmu_unmap(&t, 0, 0x400000, NULL));
	CHECK_OK(mmu_tree_destroy(&t));
}

/* Loading the active tree again writes no CR3. */
static void test_load_writes_cr3_once(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	uint64_t writes = fp->cr3_writes;
	mmu_tree_load(&t);
	mmu_tree_load(&t);
	CHECK_EQ(fp->cr3_writes, writes + 1);
	CHECK(mmu_tree_active(&mmu) == &t);
	CHECK(mmu_tree_active_on(&t, 0));
	CHECK_ERR(mmu_tree_destroy(&t), MMU_E_BUSY);
	mmu_tree_load(mmu_kernel_tree(&mmu));
	CHECK_EQ(fp->cr3_writes, writes + 2);
	CHECK(!mmu_tree_active_on(&t, 0));
	CHECK_OK(mmu_tree_destroy(&t));
}

/* A batch dropped with work in it is a hard error, like a stale TLB entry
 * nobody will invalidate: the port's panic hook runs (it aborts here). */
static void drop_unflushed_batch(void *unused)
{
	(void)unused;
	/* An unmap that records its invalidation in the caller's batch,
	 * which is then dropped unflushed (a failed setup returns: no abort). */
	struct mmu_tlb_batch b;
	struct mmu_tree *k = mmu_kernel_tree(&mmu);
	mmu_tlb_batch_init(&b, k);
	if (mmu_map(k, 0xffffc80000000000ull, mmu_pa(0x5000000), 0x1000, MMU_PROT_R, NULL, NULL) != MMU_OK ||
	    mmu_unmap(k, 0xffffc80000000000ull, 0x1000, &b) != MMU_OK)
		return;
	mmu_tlb_batch_done(&b);
}

static void test_dropped_batch_panics(void) { CHECK(check_aborts(drop_unflushed_batch, NULL)); }

/* Single pages whose tables are missing or emptied (src/page.c's path
 * cases): every allocation point fails once and changes nothing; an unmap
 * of the last page releases every table it empties; a huge leaf above
 * makes a 4K map DUPLICATED. */
static void test_single_page_tables(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	const mmu_vaddr_t va = 0x7f1234567000ull;
	uint64_t base = fp->in_use;
	for (long k = 0;; k++) {
		fp->fail_after = k;
		mmu_err_t err = mmu_map(&t, va, mmu_pa(0x5000000), 0x1000, MMU_PROT_R, NULL, NULL);
		fp->fail_after = -1;
		if (err == MMU_OK) {
			CHECK_EQ(k, (long)mmu.levels - 1); /* every table below the root */
			break;
		}
		CHECK_ERR(err, MMU_E_NOMEM);
		CHECK_EQ(fp->in_use, base);
		enum mmu_level lvl;
		CHECK_EQ(oracle_leaf(t.root, va, &lvl), 0);
		CHECK_STOP_ON_FAILURE();
	}
	CHECK_EQ(mmu_user_tables(&mmu), mmu.levels);
	CHECK_OK(mmu_map(&t, va + 0x1000, mmu_pa(0x5001000), 0x1000, MMU_PROT_R, NULL, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), mmu.levels);
	CHECK_OK(mmu_unmap(&t, va, 0x1000, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), mmu.levels);
	CHECK_OK(mmu_unmap(&t, va + 0x1000, 0x1000, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_EQ(fp->in_use, base);
	/* A 2M page: no page table, the rest released again by its unmap. */
	CHECK_OK(mmu_map(&t, 0x7f0000200000ull, mmu_pa(0x40000000), 0x200000, MMU_PROT_R, NULL, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), mmu.levels - 1);
	CHECK_OK(mmu_unmap(&t, 0x7f0000200000ull, 0x200000, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	struct mmu_map_opts o1g = {.size = MMU_SIZE_1G};
	CHECK_OK(mmu_map(&t, 0x40000000, mmu_pa(0x40000000), 0x40000000, MMU_PROT_R, &o1g, NULL));
	CHECK_ERR(mmu_map(&t, 0x40005000, mmu_pa(0x5000000), 0x1000, MMU_PROT_R, NULL, NULL), MMU_E_DUPLICATED);
	CHECK_OK(mmu_unmap(&t, 0x40000000, 0x40000000, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_OK(mmu_tree_destroy(&t));
}

/* The _locked calls under one hold of the tree lock: the same results and
 * errors as the plain calls, a kernel-half walk still goes to the kernel
 * tree's lock, and the plain calls work again after the unlock. */
static void test_locked_calls(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	const unsigned rw = MMU_PROT_R | MMU_PROT_W;
	struct mmu_tree_locked held = mmu_tree_lock(&t);
	for (unsigned i = 0; i < 4; i++)
		CHECK_OK(mmu_map_locked(held, 0x400000 + i * 0x1000, mmu_pa(0x9000000 + i * 0x1000), 0x1000, rw, NULL,
					NULL));
	CHECK_OK(mmu_map_locked(held, 0x800000, mmu_pa(0xa000000), 0x200000, MMU_PROT_R, NULL, NULL));
	CHECK_ERR(mmu_map_locked(held, 0x401000, mmu_pa(0x6000000), 0x1000, rw, NULL, NULL), MMU_E_DUPLICATED);
	CHECK_ERR(mmu_map_locked(held, 0xffff800000000000ull, mmu_pa(0x6000000), 0x1000, rw, NULL, NULL),
		  MMU_E_INVALID);
	CHECK_ERR(mmu_map_locked(held, 0x404800, mmu_pa(0x6000000), 0x1000, rw, NULL, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_map_locked(held, 0x404000, mmu_pa(0x6000000), 0x1000, MMU_PROT_W, NULL, NULL),
		  MMU_E_INVALID_PERMISSION);
	struct mmu_translation tr;
	CHECK_OK(mmu_walk_locked(held, 0x402abc, &tr));
	CHECK_EQ(tr.pa.bits, 0x9002abc);
	CHECK_EQ(tr.prot, rw);
	CHECK_OK(mmu_walk_locked(held, 0x9fffff, &tr));
	CHECK_EQ(tr.pa.bits, 0xa1fffff);
	CHECK_EQ(tr.size, MMU_SIZE_2M);
	CHECK_ERR(mmu_walk_locked(held, 0xffff900000000000ull, &tr), MMU_E_NOTEXIST);
	CHECK_OK(mmu_protect_locked(held, 0x401000, 0x1000, MMU_PROT_R, NULL));
	CHECK_ERR(mmu_protect_locked(held, 0x404000, 0x1000, MMU_PROT_R, NULL), MMU_E_NOTEXIST);
	struct mmu_tlb_batch b;
	mmu_tlb_batch_init(&b, &t);
	CHECK_OK(mmu_unmap_locked(held, 0x400000, 0x1000, &b));
	CHECK_OK(mmu_unmap_locked(held, 0x800000, 0x200000, &b));
	mmu_tlb_flush(&b);
	mmu_tlb_batch_done(&b);
	mmu_tree_unlock(held);
	enum mmu_level lvl;
	CHECK_EQ(oracle_leaf(t.root, 0x400000, &lvl), 0);
	CHECK_EQ(oracle_leaf(t.root, 0x800000, &lvl), 0);
	CHECK_EQ(oracle_leaf(t.root, 0x401000, &lvl), 0x9001000 | MMU_PTE_P | MMU_PTE_XD);
	CHECK_EQ(oracle_leaf(t.root, 0x403000, &lvl), 0x9003000 | MMU_PTE_P | MMU_PTE_RW | MMU_PTE_XD);
	CHECK_OK(mmu_unmap(&t, 0x401000, 0x3000, NULL));
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_OK(mmu_tree_destroy(&t));
}

/* A _locked call with a handle whose lock is not held is a caller bug. */
static void map_with_released_handle(void *tree)
{
	struct mmu_tree_locked held = mmu_tree_lock(tree);
	mmu_tree_unlock(held);
	(void)mmu_map_locked(held, 0x1000, mmu_pa(0x5000000), 0x1000, MMU_PROT_R, NULL, NULL);
}

static void test_locked_call_unheld_panics(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	CHECK(check_aborts(map_with_released_handle, &t));
	CHECK_OK(mmu_tree_destroy(&t));
}

/* A single-page change of a tree no CPU runs owes the TLBs nothing; the
 * same change while it is loaded invalidates the page. */
static void test_idle_tree_skips_invalidation(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	for (unsigned i = 0; i < 3; i++)
		CHECK_OK(mmu_map(&t, 0x10000 + i * 0x1000, mmu_pa(0x5000000 + i * 0x1000), 0x1000, MMU_PROT_R, NULL,
				 NULL));
	(void)mmu_counters_take(&mmu);
	CHECK_OK(mmu_protect(&t, 0x10000, 0x1000, MMU_PROT_R | MMU_PROT_W, NULL));
	CHECK_OK(mmu_unmap(&t, 0x11000, 0x1000, NULL));
	struct mmu_counters c = mmu_counters_take(&mmu);
	CHECK_EQ(c.invlpg + c.full, 0);
	mmu_tree_load(&t);
	CHECK_OK(mmu_protect(&t, 0x10000, 0x1000, MMU_PROT_R, NULL));
	CHECK_OK(mmu_unmap(&t, 0x12000, 0x1000, NULL));
	c = mmu_counters_take(&mmu);
	CHECK_EQ(c.invlpg, 2);
	mmu_tree_load(mmu_kernel_tree(&mmu));
	CHECK_OK(mmu_unmap(&t, 0x10000, 0x1000, NULL));
	/* A range change of the idle tree still invalidates global leaves:
	 * every CPU may hold them, whatever it runs. */
	struct mmu_map_opts g = {.global = true};
	CHECK_OK(mmu_map(&t, 0x20000, mmu_pa(0x6000000), 0x2000, MMU_PROT_R, &g, NULL));
	CHECK_OK(mmu_map(&t, 0x22000, mmu_pa(0x6002000), 0x2000, MMU_PROT_R, NULL, NULL));
	(void)mmu_counters_take(&mmu);
	CHECK_OK(mmu_protect(&t, 0x22000, 0x2000, MMU_PROT_R | MMU_PROT_W, NULL));
	c = mmu_counters_take(&mmu);
	CHECK_EQ(c.invlpg + c.full, 0);
	CHECK_OK(mmu_unmap(&t, 0x20000, 0x4000, NULL));
	c = mmu_counters_take(&mmu);
	CHECK(c.invlpg + c.full > 0);
	/* Whole page tables, one page of them global: the unmap cannot drop
	 * them unread, the global leaf must be invalidated. */
	struct mmu_map_opts o4k = {.size = MMU_SIZE_4K};
	CHECK_OK(mmu_map(&t, 0x40000000, mmu_pa(0x40000000), 0x1000, MMU_PROT_R, &g, NULL));
	CHECK_OK(mmu_map(&t, 0x40001000, mmu_pa(0x40001000), 0x3ff000, MMU_PROT_R, &o4k, NULL));
	(void)mmu_counters_take(&mmu);
	CHECK_OK(mmu_unmap(&t, 0x40000000, 0x400000, NULL));
	c = mmu_counters_take(&mmu);
	CHECK(c.invlpg + c.full > 0);
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_OK(mmu_tree_destroy(&t));
}

/* A tree no CPU runs and that never held a global leaf: an unmap that
 * covers whole page tables drops them uncleared, owes nothing to the TLBs,
 * and the tables the next map gets are zeroed. */
static void test_idle_unmap_drops_tables(void)
{
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	struct mmu_map_opts o4k = {.size = MMU_SIZE_4K};
	uint64_t base = fp->in_use;
	CHECK_OK(mmu_map(&t, 0x40000000, mmu_pa(0x40000000), 0x400000, MMU_PROT_R, &o4k, NULL));
	(void)mmu_counters_take(&mmu);
	CHECK_OK(mmu_unmap(&t, 0x40000000, 0x400000, NULL));
	struct mmu_counters c = mmu_counters_take(&mmu);
	CHECK_EQ(c.invlpg + c.full, 0);
	CHECK_EQ(mmu_user_tables(&mmu), 1);
	CHECK_EQ(fp->in_use, base);
	CHECK_OK(mmu_map(&t, 0x40001000, mmu_pa(0x50001000), 0x1000, MMU_PROT_R, NULL, NULL));
	enum mmu_level lvl;
	for (unsigned i = 0; i < 1024; i++) {
		mmu_pte_t e = oracle_leaf(t.root, 0x40000000 + i * 0x1000ull, &lvl);
		CHECK_EQ(e, i == 1 ? (0x50001000 | MMU_PTE_P | MMU_PTE_XD) : 0);
		CHECK_STOP_ON_FAILURE();
	}
	CHECK_OK(mmu_unmap(&t, 0x40001000, 0x1000, NULL));
	CHECK_OK(mmu_tree_destroy(&t));
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned levels = 4; levels <= 5; levels++) {
		fp = fake_port_create(16384);
		fake_mmu_init(&mmu, fp, levels, 1);
		test_pte_accessors();
		test_map_walk_unmap_one();
		test_errors_and_precedence();
		test_leaf_sizes();
		test_splits();
		test_kernel_half_shared();
		test_alloc_failure();
		test_batch_ceiling();
		test_dump_and_wx_audit();
		test_load_writes_cr3_once();
		test_dropped_batch_panics();
		test_single_page_tables();
		test_locked_calls();
		test_locked_call_unheld_panics();
		test_idle_tree_skips_invalidation();
		test_idle_unmap_drops_tables();
		mmu_fini(&mmu);
		CHECK_EQ(fp->in_use, 0);
		fake_port_destroy(fp);
	}
	return 0;
}
