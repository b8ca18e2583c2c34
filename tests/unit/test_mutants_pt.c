/* SPDX-License-Identifier: MIT */
/* Page-table behaviours a mutation run over src/ (issue 9) showed no test
 * noticed, one test each, every one written to fail when the behaviour is
 * broken:
 *   - a user-tree range from the user half's last page to a canonical byte
 *     of the kernel half is INVALID for every range call (range_check);
 *   - mmu_walk_locked of a kernel-half VA takes the kernel tree's lock (the
 *     caller holds only its own tree's): seen through the port's relax
 *     hook, which the lock's spin calls and which then lets it go;
 *   - promotion on a tree with mmu_tree_set_promote is reached through
 *     single-page maps without options (the short path of page.c);
 *   - a dump prints two lines for two identical runs with a hole between;
 *   - PCID MMU_PCID_MAX is handed out before a CPU rolls over to 1. */
#include <string.h>

#include "fake_port.h"
#include "simtest.h"

#define PAGE 0x1000ull
#define SZ_2M 0x200000ull
#define RWU (MMU_PROT_R | MMU_PROT_W | MMU_PROT_U)
#define KWIN 0xffffc80000000000ull

static void test_range_ends_in_kernel_half(unsigned levels)
{
	struct sim *sim = st_default(levels, 1);
	struct mmu *mmu = sim_mmu(sim);
	uint64_t half = 1ull << (mmu_va_bits(levels) - 1);
	mmu_vaddr_t va = half - PAGE, kernel = mmu_va_canonicalize(half, levels);
	uint64_t len = kernel - va + PAGE; /* last byte: kernel + 0xfff, canonical */
	CHECK(mmu_va_canonical(va + len - 1, levels) && mmu_va_is_kernel(va + len - 1));
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	mmu_pa_t f;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &f));
	/* Something mapped at both ends, so a call that went ahead would find it. */
	CHECK_OK(mmu_map(&t, va, f, PAGE, RWU, NULL, NULL));
	CHECK_OK(mmu_map(mmu_kernel_tree(mmu), KWIN, f, PAGE, MMU_PROT_R, NULL, NULL));
	CHECK_ERR(mmu_map(&t, va, f, len, RWU, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_unmap(&t, va, len, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_protect(&t, va, len, MMU_PROT_R, NULL), MMU_E_INVALID);
	struct mmu_translation tr;
	CHECK_OK(mmu_walk(&t, va, &tr)); /* still there */
	CHECK_EQ(tr.prot, RWU);
	CHECK_OK(mmu_unmap(&t, va, PAGE, NULL));
	CHECK_OK(mmu_unmap(mmu_kernel_tree(mmu), KWIN, PAGE, NULL));
	CHECK_OK(mmu_tree_destroy(&t));

	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(mmu, &sp));
	CHECK_OK(mmu_vm_region_add(&sp, va, PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	CHECK_ERR(mmu_vm_region_add(&sp, va - PAGE, len + PAGE, MMU_PROT_R, MMU_VM_ANON, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_remove(&sp, va, len), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&sp, va, len, MMU_PROT_R), MMU_E_INVALID);
	CHECK_EQ(sp.nregions, 1);
	CHECK_EQ(sp.region[0].prot, MMU_PROT_R | MMU_PROT_W);
	CHECK_OK(mmu_vm_space_exit(&sp));
	sim_frame_free(sim, MMU_SIZE_4K, f);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* ---- mmu_walk_locked and the kernel tree's lock ---- */

static struct mmu_tree_locked kernel_held;
static bool kernel_is_held;
static unsigned relax_calls;

/* The spin of a contended lock: the first time, let the kernel tree go. */
static void relax_releasing_kernel(void *ctx)
{
	(void)ctx;
	relax_calls++;
	if (kernel_is_held) {
		kernel_is_held = false;
		mmu_tree_unlock(kernel_held);
	}
}

static void test_walk_locked_takes_kernel_lock(void)
{
	struct fake_port *fp = fake_port_create(1024);
	static struct mmu_port_ops ops;
	ops = *fp->port.ops;
	ops.cpu_relax = relax_releasing_kernel;
	fp->port.ops = &ops;
	static struct mmu mmu;
	fake_mmu_init(&mmu, fp, 4, 1);
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	CHECK_OK(mmu_map(&t, 0x400000, mmu_pa(0x5000), PAGE, RWU, NULL, NULL));
	CHECK_OK(mmu_map(mmu_kernel_tree(&mmu), KWIN, mmu_pa(0x6000), PAGE, MMU_PROT_R, NULL, NULL));

	struct mmu_tree_locked held = mmu_tree_lock(&t);
	struct mmu_translation tr;
	/* The user half: the held lock is enough, nothing spins. */
	CHECK_OK(mmu_walk_locked(held, 0x400000, &tr));
	CHECK_EQ(relax_calls, 0);
	/* The kernel half: the walk must wait for the kernel tree's lock. */
	kernel_held = mmu_tree_lock(mmu_kernel_tree(&mmu));
	kernel_is_held = true;
	CHECK_OK(mmu_walk_locked(held, KWIN, &tr));
	CHECK_EQ(tr.pa.bits, 0x6000);
	CHECK(relax_calls >= 1);
	CHECK(!kernel_is_held);
	/* ... and must have let it go again. */
	unsigned before = relax_calls;
	kernel_held = mmu_tree_lock(mmu_kernel_tree(&mmu));
	mmu_tree_unlock(kernel_held);
	CHECK_EQ(relax_calls, before);
	mmu_tree_unlock(held);

	CHECK_OK(mmu_unmap(&t, 0x400000, PAGE, NULL));
	CHECK_OK(mmu_unmap(mmu_kernel_tree(&mmu), KWIN, PAGE, NULL));
	CHECK_OK(mmu_tree_destroy(&t));
	mmu_fini(&mmu);
	fake_port_destroy(fp);
}

/* ---- promotion through single-page maps ---- */

static void test_promote_single_pages(void)
{
	struct sim *sim = st_default(4, 2);
	struct mmu *mmu = sim_mmu(sim);
	mmu_pa_t big;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &big));
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	mmu_tree_set_promote(&t, true);
	(void)mmu_counters_take(mmu);
	const mmu_vaddr_t va = 0x40000000;
	/* Page by page, no options: the last page completes the table. */
	for (unsigned i = 0; i < 512; i++)
		CHECK_OK(mmu_map(&t, va + i * PAGE, mmu_pa_add(big, i * PAGE), PAGE, RWU, NULL, NULL));
	struct mmu_translation tr;
	CHECK_OK(mmu_walk(&t, va + 0x1234, &tr));
	CHECK_EQ(tr.size, MMU_SIZE_2M);
	CHECK_EQ(tr.pa.bits, big.bits + 0x1234);
	CHECK_EQ(mmu_counters_take(mmu).promotions, 1);
	CHECK_EQ(st_count_tables(sim, &t), 3); /* root, PDPT, PD: no page table left */
	/* The promoted leaf serves accesses (and the sanitizer sees nothing stale). */
	st_load(sim, 1, &t);
	CHECK_EQ(st_result(sim_access(sim, 1, SIM_WRITE, va + 0x1ff000, true, false, 7)), ST_OK);
	st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_unmap(&t, va, SZ_2M, NULL));
	CHECK_OK(mmu_tree_destroy(&t));
	sim_frame_free(sim, MMU_SIZE_2M, big);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* ---- dump ---- */

struct text {
	char s[1024];
	size_t n;
};

static void append_line(void *ctx, const char *line)
{
	struct text *t = ctx;
	t->n += (size_t)snprintf(t->s + t->n, sizeof(t->s) - t->n, "%s\n", line);
}

static void test_dump_hole_between_identical_runs(void)
{
	struct sim *sim = st_default(4, 1);
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	/* Same attributes, PAs contiguous across the hole: only the hole
	 * separates the runs. */
	CHECK_OK(mmu_map(&t, 0x400000, mmu_pa(0x100000), 2 * PAGE, RWU, NULL, NULL));
	CHECK_OK(mmu_map(&t, 0x403000, mmu_pa(0x102000), 2 * PAGE, RWU, NULL, NULL));
	struct text d = {.n = 0};
	mmu_dump(&t, 0, 0x0000800000000000ull, append_line, &d);
	const char *want = "0x0000000000400000-0x0000000000402000        8K USR RW NX            pte\n"
			   "0x0000000000403000-0x0000000000405000        8K USR RW NX            pte\n";
	if (strcmp(d.s, want) != 0)
		fprintf(stderr, "dump:\n%s", d.s);
	CHECK(strcmp(d.s, want) == 0);
	CHECK_OK(mmu_unmap(&t, 0x400000, 5 * PAGE, NULL));
	CHECK_OK(mmu_tree_destroy(&t));
	sim_destroy(sim);
}

/* ---- the last PCID ---- */

static void test_last_pcid_before_rollover(bool invpcid)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 1;
	cfg.pcide = true;
	cfg.no_invpcid = !invpcid;
	struct sim *sim = st_machine(&cfg);
	struct mmu *mmu = sim_mmu(sim);
	unsigned prev = 0, highest = 0, after = 0;
	bool rolled = false;
	for (unsigned i = 0; i < MMU_PCID_MAX + 8 && !rolled; i++) {
		struct mmu_tree t;
		CHECK_OK(mmu_tree_create(mmu, &t));
		mmu_tree_load(&t);
		/* What the hardware got: CR3's PCID field. */
		unsigned pcid = (unsigned)(sim_cpu_regs(sim, 0).cr3 & 0xfff);
		CHECK(pcid >= 1 && pcid <= MMU_PCID_MAX);
		if (pcid < prev) {
			rolled = true;
			after = pcid;
		} else {
			highest = pcid;
		}
		prev = pcid;
		mmu_tree_load(mmu_kernel_tree(mmu));
		CHECK_OK(mmu_tree_destroy(&t));
	}
	CHECK(rolled);
	CHECK_EQ(highest, MMU_PCID_MAX);
	CHECK_EQ(after, 1);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	test_range_ends_in_kernel_half(4);
	test_range_ends_in_kernel_half(5);
	test_walk_locked_takes_kernel_lock();
	test_promote_single_pages();
	test_dump_hole_between_identical_runs();
	test_last_pcid_before_rollover(true);
	test_last_pcid_before_rollover(false);
	return 0;
}
