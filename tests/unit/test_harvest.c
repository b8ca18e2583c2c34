/* SPDX-License-Identifier: MIT */
/* mmu_harvest on the software machine, against an oracle kept here: the
 * machine's CPUs access pages (a read sets A in the leaf, a write A and
 * D, a refused access neither: docs/PAGING.md rule 13) and a model of the
 * bits, updated from the accesses alone, says what each harvest must
 * report and what it must leave. Rounds of random accesses on two CPUs
 * and random harvests (4K, 2M and 1G leaves, sub-ranges cutting huge
 * leaves, A, D or both, the caller's batch or none, plain and _locked)
 * only agree with the model if every cleared bit was invalidated: the
 * machine's TLBs keep every translation until then, and an access through
 * one sets nothing. Then: a write through a translation cached dirty sets
 * D again after the flush (and not without it, made behind the library's
 * back); PCIDs (a CPU that kept the tree's entries while away); the
 * kernel half's global leaves; errors in their order, changing nothing.
 * test_harvest_threads.c races a writing CPU against the harvests. */
#include <string.h>

#include "simtest.h"

#define PAGE 0x1000ull
#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull
#define RWU (MMU_PROT_R | MMU_PROT_W | MMU_PROT_U)
#define RU (MMU_PROT_R | MMU_PROT_U)
#define BOTH (MMU_HARVEST_ACCESSED | MMU_HARVEST_DIRTY)
#define KWIN 0xffffc80000000000ull

/* ---- what a harvest reported ---- */

#define SEEN_MAX 256
struct report {
	mmu_vaddr_t va;
	unsigned had, prot;
	enum mmu_size size;
	mmu_pa_t pa;
	mmu_pte_t leaf;
};
struct seen {
	unsigned n;
	struct report e[SEEN_MAX];
};

static void note(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t, unsigned had)
{
	struct seen *s = ctx;
	CHECK(s->n < SEEN_MAX);
	if (s->n < SEEN_MAX)
		s->e[s->n++] = (struct report){va, had, t->prot, t->size, t->pa, t->leaf};
}

/* ---- the oracle: the leaves mapped and their bits ---- */

struct page {
	mmu_vaddr_t va;
	enum mmu_size size;
	mmu_pa_t pa;
	unsigned prot;
	unsigned bits; /* MMU_HARVEST_*: what the accesses set since the last harvest took it */
};

#define NPAGES 80
struct world {
	struct sim *sim;
	struct mmu_tree tree;
	struct page page[NPAGES];
	unsigned n;
	mmu_pa_t frame4k[NPAGES], frame2m[2], frame1g;
};

static void add_page(struct world *wd, mmu_vaddr_t va, enum mmu_size size, mmu_pa_t pa, unsigned prot)
{
	struct mmu_map_opts o = {.size = size};
	CHECK_OK(mmu_map(&wd->tree, va, pa, mmu_size_bytes(size), prot, &o, NULL));
	wd->page[wd->n++] = (struct page){va, size, pa, prot, 0};
}

/* 72 4K leaves across two page tables (every fourth read-only), two 2M
 * leaves, one 1G leaf; the tree loaded on both CPUs. */
static void world_build(struct world *wd, unsigned levels)
{
	memset(wd, 0, sizeof *wd);
	wd->sim = st_default(levels, 2);
	CHECK_OK(mmu_tree_create(sim_mmu(wd->sim), &wd->tree));
	for (unsigned i = 0; i < 72; i++) {
		CHECK_OK(sim_frame_alloc(wd->sim, MMU_SIZE_4K, &wd->frame4k[i]));
		add_page(wd, 0x101c0000 + i * PAGE, MMU_SIZE_4K, wd->frame4k[i], i % 4 == 3 ? RU : RWU);
	}
	for (unsigned i = 0; i < 2; i++) {
		CHECK_OK(sim_frame_alloc(wd->sim, MMU_SIZE_2M, &wd->frame2m[i]));
		add_page(wd, 0x40000000 + i * SZ_2M, MMU_SIZE_2M, wd->frame2m[i], i ? RU : RWU);
	}
	CHECK_OK(sim_frame_alloc(wd->sim, MMU_SIZE_1G, &wd->frame1g));
	add_page(wd, 0x80000000, MMU_SIZE_1G, wd->frame1g, RWU);
	st_load(wd->sim, 0, &wd->tree);
	st_load(wd->sim, 1, &wd->tree);
}

/* The tree and its frames gone; the machine stays. */
static void world_release(struct world *wd)
{
	struct mmu *mmu = sim_mmu(wd->sim);
	st_load(wd->sim, 0, mmu_kernel_tree(mmu));
	st_load(wd->sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&wd->tree));
	for (unsigned i = 0; i < 72; i++)
		sim_frame_free(wd->sim, MMU_SIZE_4K, wd->frame4k[i]);
	for (unsigned i = 0; i < 2; i++)
		sim_frame_free(wd->sim, MMU_SIZE_2M, wd->frame2m[i]);
	sim_frame_free(wd->sim, MMU_SIZE_1G, wd->frame1g);
}

static void world_free(struct world *wd)
{
	world_release(wd);
	st_check_sanitizer(wd->sim);
	sim_destroy(wd->sim);
}

/* A user access by CPU to a random byte of page P; the model learns what
 * the SDM says it sets. */
static void access_page(struct world *wd, struct st_rng *rng, unsigned cpu, struct page *p, bool write)
{
	mmu_vaddr_t va = p->va + st_rng_below(rng, mmu_size_bytes(p->size));
	uint32_t r = st_result(sim_access(wd->sim, cpu, write ? SIM_WRITE : SIM_READ, va, true, false, 0x5a));
	bool allowed = !write || (p->prot & MMU_PROT_W);
	CHECK_EQ(r, allowed ? ST_OK : ST_PF_P | ST_PF_W | ST_PF_U);
	if (allowed)
		p->bits |= MMU_HARVEST_ACCESSED | (write ? MMU_HARVEST_DIRTY : 0);
}

/* What a harvest of [VA, LAST] for WHAT must report (in address order,
 * the pages are), and the model after it. False: NOTEXIST. */
static bool expect_harvest(struct world *wd, mmu_vaddr_t va, mmu_vaddr_t last, unsigned what, struct seen *want)
{
	bool any = false;
	want->n = 0;
	for (unsigned i = 0; i < wd->n; i++) {
		struct page *p = &wd->page[i];
		if (p->va > last || p->va + mmu_size_bytes(p->size) - 1 < va)
			continue;
		any = true;
		if (!(p->bits & what))
			continue;
		want->e[want->n++] = (struct report){.va = p->va, .had = p->bits & what, .prot = p->prot,
						     .size = p->size, .pa = p->pa};
		p->bits &= ~what;
	}
	return any;
}

static void check_reports(const struct seen *got, const struct seen *want, unsigned what)
{
	CHECK_EQ(got->n, want->n);
	for (unsigned i = 0; i < got->n && i < want->n; i++) {
		CHECK_EQ(got->e[i].va, want->e[i].va);
		CHECK_EQ(got->e[i].had, want->e[i].had);
		CHECK_EQ(got->e[i].size, want->e[i].size);
		CHECK_EQ(got->e[i].pa.bits, want->e[i].pa.bits);
		CHECK_EQ(got->e[i].prot, want->e[i].prot);
		/* The leaf as it was: the bits reported are in it. */
		unsigned in_leaf = ((got->e[i].leaf & MMU_PTE_A) ? MMU_HARVEST_ACCESSED : 0) |
				   ((got->e[i].leaf & MMU_PTE_D) ? MMU_HARVEST_DIRTY : 0);
		CHECK_EQ(in_leaf & what, got->e[i].had);
	}
}

/* Every leaf's A and D as the model says (the walk reads them raw). */
static void check_bits(struct world *wd)
{
	for (unsigned i = 0; i < wd->n; i++) {
		struct mmu_translation t;
		CHECK_OK(mmu_walk(&wd->tree, wd->page[i].va, &t));
		unsigned bits = ((t.leaf & MMU_PTE_A) ? MMU_HARVEST_ACCESSED : 0) |
				((t.leaf & MMU_PTE_D) ? MMU_HARVEST_DIRTY : 0);
		CHECK_EQ(bits, wd->page[i].bits);
	}
}

/* One harvest in one of the four forms: plain or _locked, with the
 * caller's batch (flushed after) or none. */
static mmu_err_t harvest_form(struct mmu_tree *tree, unsigned form, mmu_vaddr_t va, uint64_t len, unsigned what,
			      struct seen *got)
{
	struct mmu_tlb_batch b;
	mmu_tlb_batch_init(&b, tree);
	struct mmu_tlb_batch *batch = (form & 1) ? &b : NULL;
	mmu_err_t err;
	if (form & 2) {
		struct mmu_tree_locked held = mmu_tree_lock(tree);
		err = mmu_harvest_locked(held, va, len, what, note, got, batch);
		mmu_tree_unlock(held);
	} else {
		err = mmu_harvest(tree, va, len, what, note, got, batch);
	}
	mmu_tlb_flush(&b);
	mmu_tlb_batch_done(&b);
	return err;
}

static void test_rounds(unsigned levels, uint64_t seed)
{
	struct world wd;
	world_build(&wd, levels);
	struct st_rng rng;
	st_rng_seed(&rng, seed);
	const mmu_vaddr_t lo = 0x10000000, hi = 0xc0000000;
	uint64_t reported = 0;
	for (unsigned round = 0; round < 300; round++) {
		unsigned accesses = (unsigned)st_rng_below(&rng, 24);
		for (unsigned k = 0; k < accesses; k++) {
			/* Mostly the 4K pages, now and then a huge leaf. */
			unsigned i = st_rng_below(&rng, 4) ? (unsigned)st_rng_below(&rng, 72)
							   : 72 + (unsigned)st_rng_below(&rng, 3);
			access_page(&wd, &rng, (unsigned)st_rng_below(&rng, 2), &wd.page[i], st_rng_below(&rng, 3) == 0);
		}
		unsigned what = 1 + (unsigned)st_rng_below(&rng, 3);
		mmu_vaddr_t va = lo, last = hi - 1;
		if (st_rng_below(&rng, 2)) {
			/* A sub-range, page-aligned, anywhere in the layout: it may
			 * cut a huge leaf or hold nothing. */
			const struct page *p = &wd.page[st_rng_below(&rng, wd.n)];
			va = p->va + (st_rng_below(&rng, mmu_size_bytes(p->size)) & ~(PAGE - 1));
			last = va + (1 + st_rng_below(&rng, 48)) * PAGE * (st_rng_below(&rng, 4) ? 1 : 512) - 1;
		}
		struct seen want, got = {0};
		bool any = expect_harvest(&wd, va, last, what, &want);
		mmu_err_t err = harvest_form(&wd.tree, (unsigned)st_rng_below(&rng, 4), va, last - va + 1, what, &got);
		CHECK_EQ(err, any ? MMU_OK : MMU_E_NOTEXIST);
		check_reports(&got, &want, what);
		reported += got.n;
		if (round % 16 == 0)
			check_bits(&wd);
	}
	check_bits(&wd);
	CHECK(reported > 1000);
	world_free(&wd);
}

/* A huge leaf the range cuts is reported whole, at its first address. */
static void test_huge_whole(void)
{
	struct world wd;
	world_build(&wd, 4);
	struct page *two = &wd.page[72], *one = &wd.page[74];
	CHECK_EQ(st_result(sim_access(wd.sim, 1, SIM_WRITE, two->va + 0x12345, true, false, 1)), ST_OK);
	CHECK_EQ(st_result(sim_access(wd.sim, 0, SIM_READ, one->va + 0x23456789, true, false, 0)), ST_OK);
	struct seen got = {0};
	CHECK_OK(mmu_harvest(&wd.tree, two->va + SZ_2M - PAGE, 2 * PAGE, BOTH, note, &got, NULL));
	CHECK_EQ(got.n, 1);
	CHECK_EQ(got.e[0].va, two->va);
	CHECK_EQ(got.e[0].size, MMU_SIZE_2M);
	CHECK_EQ(got.e[0].had, BOTH);
	got.n = 0;
	CHECK_OK(mmu_harvest(&wd.tree, one->va + 0x30000000, PAGE, MMU_HARVEST_DIRTY, note, &got, NULL));
	CHECK_EQ(got.n, 0); /* read only: no D, and A not asked for */
	CHECK_OK(mmu_harvest(&wd.tree, one->va + 0x30000000, PAGE, MMU_HARVEST_ACCESSED, note, &got, NULL));
	CHECK_EQ(got.n, 1);
	CHECK_EQ(got.e[0].va, one->va);
	CHECK_EQ(got.e[0].size, MMU_SIZE_1G);
	CHECK_EQ(got.e[0].pa.bits, wd.frame1g.bits);
	/* FN NULL: cleared, nothing reported. */
	CHECK_EQ(st_result(sim_access(wd.sim, 0, SIM_WRITE, wd.page[0].va, true, false, 1)), ST_OK);
	CHECK_OK(mmu_harvest(&wd.tree, wd.page[0].va, PAGE, BOTH, NULL, NULL, NULL));
	struct mmu_translation t;
	CHECK_OK(mmu_walk(&wd.tree, wd.page[0].va, &t));
	CHECK_EQ(t.leaf & (MMU_PTE_A | MMU_PTE_D), 0);
	world_free(&wd);
}

/* ---- D and the TLB ---- */

/* The 4K leaf that maps VA in TREE, read from physical memory with a walk
 * written here (the root's PA is the tree's CR3). */
static uint64_t *raw_leaf(struct sim *sim, struct mmu_tree *tree, mmu_vaddr_t va)
{
	uint64_t table = mmu_tree_cr3(tree) & 0x000ffffffffff000ull;
	for (int l = (int)sim_config(sim)->levels; l > 1; l--) {
		uint64_t *e = (uint64_t *)(void *)sim_phys(sim, mmu_pa(table + ((va >> (12 + 9 * (l - 1))) & 511) * 8));
		table = *e & 0x000ffffffffff000ull;
	}
	return (uint64_t *)(void *)sim_phys(sim, mmu_pa(table + ((va >> 12) & 511) * 8));
}

static bool dirty(struct sim *sim, struct mmu_tree *tree, mmu_vaddr_t va)
{
	return (__atomic_load_n(raw_leaf(sim, tree, va), __ATOMIC_RELAXED) & MMU_PTE_D) != 0;
}

static uint64_t misses(struct sim *sim, unsigned cpu) { return sim_cpu_events(sim, cpu).tlb_misses; }

/* A write through a translation both CPUs cached dirty sets D again once
 * the harvest's batch is flushed: the write walks the tables (a miss). */
static void test_dirty_after_flush(void)
{
	struct world wd;
	world_build(&wd, 4);
	mmu_vaddr_t va = wd.page[1].va;
	for (unsigned cpu = 0; cpu < 2; cpu++)
		CHECK_EQ(st_result(sim_access(wd.sim, cpu, SIM_WRITE, va, true, false, 1)), ST_OK);
	struct mmu_tlb_batch b;
	mmu_tlb_batch_init(&b, &wd.tree);
	struct seen got = {0};
	CHECK_OK(mmu_harvest(&wd.tree, va, PAGE, MMU_HARVEST_DIRTY, note, &got, &b));
	CHECK_EQ(got.n, 1);
	CHECK(!dirty(wd.sim, &wd.tree, va));
	CHECK(mmu_tlb_batch_pending(&b)); /* recorded, not yet done */
	CHECK(sim_tlb_size(wd.sim, 1) > 0);
	mmu_tlb_flush(&b);
	mmu_tlb_batch_done(&b);
	/* CPU 1 first: its entry went with the shootdown. */
	for (unsigned cpu = 2; cpu-- > 0;) {
		uint64_t m = misses(wd.sim, cpu);
		CHECK_EQ(st_result(sim_access(wd.sim, cpu, SIM_WRITE, va + 8, true, false, 2)), ST_OK);
		CHECK_EQ(misses(wd.sim, cpu), m + 1);
		CHECK(dirty(wd.sim, &wd.tree, va));
	}
	st_check_sanitizer(wd.sim);
	world_free(&wd);
}

/* The same clear made behind the library's back, with no invalidation:
 * the write goes through the cached dirty translation, D stays clear (a
 * writeback would call the page clean and lose the write), and the
 * sanitizer says so. What the test above relies on is real. */
static void test_dirty_without_flush_is_lost(void)
{
	struct world wd;
	world_build(&wd, 4);
	mmu_vaddr_t va = wd.page[1].va;
	CHECK_EQ(st_result(sim_access(wd.sim, 0, SIM_WRITE, va, true, false, 1)), ST_OK);
	__atomic_fetch_and(raw_leaf(wd.sim, &wd.tree, va), ~MMU_PTE_D, __ATOMIC_RELAXED);
	uint64_t m = misses(wd.sim, 0);
	CHECK_EQ(st_result(sim_access(wd.sim, 0, SIM_WRITE, va, true, false, 2)), ST_OK);
	CHECK_EQ(misses(wd.sim, 0), m);
	CHECK(!dirty(wd.sim, &wd.tree, va));
	CHECK_EQ(sim_tlbsan_reports(wd.sim), 1);
	CHECK(strstr(sim_tlbsan_last(wd.sim), "D clear") != NULL);
	/* The stale entry goes before the teardown, which reports no more. */
	sim_invlpg(wd.sim, 0, va);
	world_release(&wd);
	CHECK_EQ(sim_tlbsan_reports(wd.sim), 1);
	sim_destroy(wd.sim);
}

/* With PCIDs a CPU that left the tree keeps its entries under the tree's
 * PCID (lazy): the harvest does not interrupt it, and it catches up when
 * it comes back (the flush generation moved), so its next write sets D. */
static void test_dirty_lazy_pcid(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.pcide = true;
	struct sim *sim = st_machine(&cfg);
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_tree t;
	mmu_pa_t f;
	CHECK_OK(mmu_tree_create(mmu, &t));
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &f));
	CHECK_OK(mmu_map(&t, 0x5000, f, PAGE, RWU, NULL, NULL));
	st_load(sim, 1, &t);
	CHECK_EQ(st_result(sim_access(sim, 1, SIM_WRITE, 0x5000, true, false, 1)), ST_OK);
	st_load(sim, 1, mmu_kernel_tree(mmu)); /* CPU 1 keeps 0x5000 cached dirty under t's PCID */
	(void)mmu_counters_take(mmu);
	struct seen got = {0};
	CHECK_OK(mmu_harvest(&t, 0x5000, PAGE, BOTH, note, &got, NULL));
	CHECK_EQ(got.n, 1);
	CHECK_EQ(got.e[0].had, BOTH);
	CHECK_EQ(mmu_counters_take(mmu).ipis, 0);
	st_load(sim, 1, &t);
	CHECK_EQ(st_result(sim_access(sim, 1, SIM_WRITE, 0x5000, true, false, 2)), ST_OK);
	got.n = 0;
	CHECK_OK(mmu_harvest(&t, 0x5000, PAGE, MMU_HARVEST_DIRTY, note, &got, NULL));
	CHECK_EQ(got.n, 1);
	st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&t));
	sim_frame_free(sim, MMU_SIZE_4K, f);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* The kernel tree: a global leaf's cleared A reaches every CPU. */
static void test_kernel_global(void)
{
	struct sim *sim = st_default(4, 2);
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_tree *k = mmu_kernel_tree(mmu);
	mmu_pa_t f;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &f));
	struct mmu_map_opts o = {.global = true};
	CHECK_OK(mmu_map(k, KWIN, f, PAGE, MMU_PROT_R | MMU_PROT_W, &o, NULL));
	for (unsigned round = 0; round < 3; round++) {
		CHECK_EQ(st_result(sim_access(sim, 1, SIM_READ, KWIN, false, false, 0)), ST_OK);
		struct seen got = {0};
		CHECK_OK(mmu_harvest(k, KWIN, PAGE, MMU_HARVEST_ACCESSED, note, &got, NULL));
		CHECK_EQ(got.n, 1);
		CHECK(got.e[0].leaf & MMU_PTE_G);
	}
	/* The user half is not the kernel tree's. */
	CHECK_ERR(mmu_harvest(k, 0x1000, PAGE, BOTH, NULL, NULL, NULL), MMU_E_INVALID);
	CHECK_OK(mmu_unmap(k, KWIN, PAGE, NULL));
	sim_frame_free(sim, MMU_SIZE_4K, f);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* Errors in their order (INVALID, UNALIGNED, NOTEXIST); none changes a
 * bit of the tree. */
static void test_errors(void)
{
	struct world wd;
	world_build(&wd, 4);
	struct mmu *mmu = sim_mmu(wd.sim);
	for (unsigned i = 0; i < wd.n; i++)
		access_page(&wd, &(struct st_rng){i + 1}, 0, &wd.page[i], (wd.page[i].prot & MMU_PROT_W) != 0);
	struct st_snapshot before = {0}, after = {0};
	st_snapshot_take(wd.sim, &wd.tree, &before);
	struct mmu_tree *t = &wd.tree;
	mmu_vaddr_t hole = 1ull << 47, va = wd.page[0].va;
	struct seen got = {0};
	CHECK_ERR(mmu_harvest(t, va, 0, BOTH, note, &got, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_harvest(t, hole, PAGE, BOTH, note, &got, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_harvest(t, hole - PAGE, 2 * PAGE, BOTH, note, &got, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_harvest(t, KWIN, PAGE, BOTH, note, &got, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_harvest(t, ~0ull - PAGE + 1, 2 * PAGE, BOTH, note, &got, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_harvest(t, va, PAGE, 0, note, &got, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_harvest(t, va, PAGE, BOTH | 4, note, &got, NULL), MMU_E_INVALID);
	/* INVALID comes before UNALIGNED. */
	CHECK_ERR(mmu_harvest(t, hole + 1, PAGE, BOTH, note, &got, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_harvest(t, va + 1, PAGE, 0, note, &got, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_harvest(t, va + 1, PAGE, BOTH, note, &got, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_harvest(t, va, PAGE + 1, BOTH, note, &got, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_harvest(t, 0x20000000, 16 * PAGE, BOTH, note, &got, NULL), MMU_E_NOTEXIST);
	struct mmu_tree_locked held = mmu_tree_lock(t);
	CHECK_ERR(mmu_harvest_locked(held, va + 1, PAGE, BOTH, note, &got, NULL), MMU_E_UNALIGNED);
	CHECK_ERR(mmu_harvest_locked(held, 0x20000000, PAGE, BOTH, note, &got, NULL), MMU_E_NOTEXIST);
	mmu_tree_unlock(held);
	CHECK_EQ(got.n, 0);
	st_snapshot_take(wd.sim, &wd.tree, &after);
	CHECK(st_snapshot_equal(&before, &after));
	st_snapshot_free(&before);
	st_snapshot_free(&after);
	/* A destroyed tree: INVALID. */
	struct mmu_tree dead;
	CHECK_OK(mmu_tree_create(mmu, &dead));
	CHECK_OK(mmu_tree_destroy(&dead));
	CHECK_ERR(mmu_harvest(&dead, va, PAGE, BOTH, note, &got, NULL), MMU_E_INVALID);
	world_free(&wd);
}

int test_main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x4a7e5;
	test_rounds(4, seed);
	test_rounds(5, seed + 1);
	test_huge_whole();
	test_dirty_after_flush();
	test_dirty_without_flush_is_lost();
	test_dirty_lazy_pcid();
	test_kernel_global();
	test_errors();
	return 0;
}
