/* SPDX-License-Identifier: MIT */
/* The porting contract's fixes (docs/PORTING.md): the 1G-page capability
 * of struct mmu_config, user-accessible pages of the kernel half
 * (mmu_kernel_map_user) with and without KPTI, and fork refusing a child
 * that is already a space, and the table pages the library promises are
 * zero (table_free_zeroed). User-mode reachability is decided by the
 * software machine's walker, entries are read raw from physical memory. */
#include <string.h>

#include "fake_port.h"
#include "simtest.h"

#define PAGE 0x1000ull
#define GIB (1ull << 30)
#define KWIN 0xffffc80000000000ull /* a kernel-half window no other mapping uses */

/* The raw entry at LEVEL on VA's path from ROOT (0 when the path ends
 * above LEVEL), through P2V. */
static mmu_pte_t raw_entry(void *(*p2v)(void *, uint64_t), void *ctx, uint64_t root, unsigned levels, mmu_vaddr_t va,
			   unsigned level)
{
	uint64_t table = root & 0x000ffffffffff000ull;
	for (unsigned l = levels;; l--) {
		mmu_pte_t e = ((const mmu_pte_t *)p2v(ctx, table))[(va >> (12 + 9 * (l - 1))) & 511];
		if (l == level)
			return e;
		if (!(e & MMU_PTE_P) || (e & MMU_PTE_PS))
			return 0;
		table = e & 0x000ffffffffff000ull;
	}
}

/* The level of VA's leaf (0: none). */
static unsigned raw_leaf_level(void *(*p2v)(void *, uint64_t), void *ctx, uint64_t root, unsigned levels,
			       mmu_vaddr_t va)
{
	for (unsigned l = levels; l >= 1; l--) {
		mmu_pte_t e = raw_entry(p2v, ctx, root, levels, va, l);
		if (!(e & MMU_PTE_P))
			return 0;
		if (l == 1 || (e & MMU_PTE_PS))
			return l;
	}
	return 0;
}

static void *fake_raw(void *ctx, uint64_t pa) { return ((struct fake_port *)ctx)->arena + pa; }
static void *sim_raw(void *ctx, uint64_t pa) { return sim_phys(ctx, mmu_pa(pa)); }

/* ---- 1G pages ---- */

static void one_g_machine(struct fake_port *fp, struct mmu *mmu, bool page_1g)
{
	struct mmu_config cfg = {.levels = 4, .ncpus = 1, .nx = true, .page_1g = page_1g};
	CHECK_OK(mmu_init(mmu, &fp->port, &cfg));
	mmu_tree_load(mmu_kernel_tree(mmu));
}

static void test_1g_capability(void)
{
	for (int has = 0; has <= 1; has++) {
		struct fake_port *fp = fake_port_create(4096);
		static struct mmu mmu;
		one_g_machine(fp, &mmu, has);
		struct mmu_tree t;
		CHECK_OK(mmu_tree_create(&mmu, &t));
		uint64_t root = mmu_tree_cr3(&t), tables = mmu_user_tables(&mmu);
		/* Forced 1G: refused without the capability, nothing allocated. */
		const struct mmu_map_opts g1 = {.size = MMU_SIZE_1G};
		CHECK_ERR(mmu_map(&t, GIB, mmu_pa(GIB), GIB, MMU_PROT_R, &g1, NULL), has ? MMU_OK : MMU_E_INVALID);
		CHECK_EQ(raw_leaf_level(fake_raw, fp, root, 4, GIB), has ? 3 : 0);
		if (!has)
			CHECK_EQ(mmu_user_tables(&mmu), tables);
		if (has)
			CHECK_OK(mmu_unmap(&t, GIB, GIB, NULL));
		/* MMU_SIZE_ANY on a 1G-aligned gigabyte: 1G only with the capability. */
		CHECK_OK(mmu_map(&t, GIB, mmu_pa(GIB), GIB, MMU_PROT_R, NULL, NULL));
		CHECK_EQ(raw_leaf_level(fake_raw, fp, root, 4, GIB), has ? 3 : 2);
		CHECK_EQ(raw_leaf_level(fake_raw, fp, root, 4, 2 * GIB - PAGE), has ? 3 : 2);
		CHECK_OK(mmu_unmap(&t, GIB, GIB, NULL));
		/* Promotion of 512 2M leaves stops at 2M without it. */
		const struct mmu_map_opts m2 = {.size = MMU_SIZE_2M}, promote = {.promote = true};
		CHECK_OK(mmu_map(&t, GIB, mmu_pa(GIB), GIB - (2u << 20), MMU_PROT_R, &m2, NULL));
		CHECK_OK(mmu_map(&t, 2 * GIB - (2u << 20), mmu_pa(2 * GIB - (2u << 20)), 2u << 20, MMU_PROT_R, &promote,
				 NULL));
		CHECK_EQ(raw_leaf_level(fake_raw, fp, root, 4, GIB), has ? 3 : 2);
		CHECK_OK(mmu_unmap(&t, GIB, GIB, NULL));
		CHECK_OK(mmu_tree_destroy(&t));
		mmu_fini(&mmu);
		CHECK_EQ(fp->in_use, 0);
		fake_port_destroy(fp);
	}
}

/* ---- the memory figures of docs/PORTING.md ---- */

/* mmu_init pins the root and one table per kernel-half root slot: 257
 * frames with 4 or 5 levels; a tree's root is one more, and a single 4K
 * page costs one table per level below the root. */
static void test_pinned_frames(void)
{
	for (unsigned levels = 4; levels <= 5; levels++) {
		struct fake_port *fp = fake_port_create(4096);
		static struct mmu mmu;
		struct mmu_config cfg = {.levels = levels, .ncpus = 1, .nx = true};
		CHECK_OK(mmu_init(&mmu, &fp->port, &cfg));
		CHECK_EQ(fp->in_use, 257);
		mmu_tree_load(mmu_kernel_tree(&mmu));
		struct mmu_tree t;
		CHECK_OK(mmu_tree_create(&mmu, &t));
		CHECK_EQ(fp->in_use, 258);
		CHECK_OK(mmu_map(&t, 0x400000, mmu_pa(GIB), PAGE, MMU_PROT_R | MMU_PROT_U, NULL, NULL));
		CHECK_EQ(fp->in_use, 258 + levels - 1);
		CHECK_OK(mmu_tree_destroy(&t));
		mmu_fini(&mmu);
		CHECK_EQ(fp->in_use, 0);
		fake_port_destroy(fp);
	}
}

/* ---- user pages in the kernel half ---- */

static uint32_t access_as(struct sim *sim, uint64_t cr3, bool user, enum sim_access_kind kind, mmu_vaddr_t va)
{
	sim_write_cr3(sim, 0, cr3);
	uint32_t r = st_result(sim_access(sim, 0, kind, va, user, false, 0));
	sim_write_cr3(sim, 0, mmu_tree_cr3(mmu_kernel_tree(sim_mmu(sim))));
	return r;
}

static void test_kernel_user_pages(unsigned levels)
{
	struct sim *sim = st_default(levels, 1);
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_tree *k = mmu_kernel_tree(mmu);
	mmu_pa_t code, data, secret;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &code));
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &data));
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &secret));
	mmu_vaddr_t vcode = KWIN, vdata = KWIN + 2 * PAGE, vsecret = KWIN + 4 * PAGE;
	/* A kernel page under the same tables, mapped first and after. */
	CHECK_OK(mmu_map(k, vsecret, secret, PAGE, MMU_PROT_R | MMU_PROT_W, NULL, NULL));
	CHECK_ERR(mmu_kernel_map_user(mmu, 0x400000, code, PAGE, MMU_PROT_R, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_kernel_map_user(mmu, vcode, code, PAGE, MMU_PROT_R | 0x10, NULL), MMU_E_INVALID);
	CHECK_OK(mmu_kernel_map_user(mmu, vcode, code, PAGE, MMU_PROT_R | MMU_PROT_X, NULL));
	CHECK_OK(mmu_kernel_map_user(mmu, vdata, data, PAGE, MMU_PROT_R | MMU_PROT_W, NULL));
	uint64_t kroot = mmu_tree_cr3(k);
	for (unsigned l = levels; l >= 1; l--) {
		CHECK(raw_entry(sim_raw, sim, kroot, levels, vcode, l) & MMU_PTE_US);
		CHECK(raw_entry(sim_raw, sim, kroot, levels, vdata, l) & MMU_PTE_US);
	}
	CHECK(!(raw_entry(sim_raw, sim, kroot, levels, vsecret, 1) & MMU_PTE_US));

	/* A user tree created now reaches the user pages, not the secret. */
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(mmu, &sp));
	st_load(sim, 0, &sp.tree);
	uint64_t cr3 = mmu_tree_cr3(&sp.tree);
	CHECK_EQ(access_as(sim, cr3, true, SIM_EXEC, vcode), ST_OK);
	CHECK_EQ(access_as(sim, cr3, true, SIM_WRITE, vdata), ST_OK);
	CHECK_EQ(access_as(sim, cr3, true, SIM_WRITE, vcode), ST_PF_P | ST_PF_W | ST_PF_U);
	CHECK_EQ(access_as(sim, cr3, true, SIM_READ, vsecret), ST_PF_P | ST_PF_U);
	CHECK_EQ(access_as(sim, cr3, false, SIM_READ, vsecret), ST_OK);

	/* Once a user tree exists: BUSY, nothing mapped. */
	mmu_pa_t late;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &late));
	struct mmu_translation tr;
	CHECK_ERR(mmu_kernel_map_user(mmu, KWIN + 6 * PAGE, late, PAGE, MMU_PROT_R, NULL), MMU_E_BUSY);
	CHECK_ERR(mmu_walk(k, KWIN + 6 * PAGE, &tr), MMU_E_NOTEXIST);

	/* KPTI: the template keeps U on the user pages listed, and the audit
	 * accepts their US bits; the secret is not in the template. */
	struct mmu_kpti t;
	const struct mmu_kpti_range ranges[] = {{vcode, PAGE}, {vdata, PAGE}};
	CHECK_OK(mmu_kpti_init(mmu, &t, ranges, 2));
	CHECK_OK(mmu_vm_kpti_enable(&sp, &t));
	uint64_t user_cr3 = mmu_vm_user_cr3(&sp);
	CHECK_EQ(access_as(sim, user_cr3, true, SIM_EXEC, vcode), ST_OK);
	CHECK_EQ(access_as(sim, user_cr3, true, SIM_WRITE, vdata), ST_OK);
	CHECK_EQ(access_as(sim, user_cr3, false, SIM_READ, vsecret), 0x0u); /* not present in the shadow */
	CHECK_EQ(mmu_vm_kpti_audit(&sp, NULL, NULL), 0);
	/* US on a template leaf that is not a user page is still caught. */
	uint64_t shadow_root = user_cr3 & 0x000ffffffffff000ull;
	mmu_pte_t *leaf = NULL;
	{
		uint64_t table = shadow_root;
		for (unsigned l = levels; l > 1; l--)
			table = ((mmu_pte_t *)sim_phys(sim, mmu_pa(table)))[(vcode >> (12 + 9 * (l - 1))) & 511] &
				0x000ffffffffff000ull;
		leaf = &((mmu_pte_t *)sim_phys(sim, mmu_pa(table)))[(vcode >> 12) & 511];
	}
	mmu_pte_t saved = *leaf;
	/* The neighbouring slot of the code page is not a user page. */
	leaf[1] = saved + PAGE;
	CHECK_EQ(mmu_vm_kpti_audit(&sp, NULL, NULL), 2); /* outside the ranges, and US */
	leaf[1] = 0;

	st_load(sim, 0, k);
	CHECK_OK(mmu_vm_space_exit(&sp));
	mmu_kpti_fini(&t);
	CHECK_OK(mmu_unmap(k, vcode, PAGE, NULL));
	CHECK_OK(mmu_unmap(k, vdata, PAGE, NULL));
	CHECK_OK(mmu_unmap(k, vsecret, PAGE, NULL));
	sim_frame_free(sim, MMU_SIZE_4K, code);
	sim_frame_free(sim, MMU_SIZE_4K, data);
	sim_frame_free(sim, MMU_SIZE_4K, secret);
	sim_frame_free(sim, MMU_SIZE_4K, late);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* At most MMU_KERNEL_USER_WINDOWS calls. */
static void test_kernel_user_windows(void)
{
	struct sim *sim = st_default(4, 1);
	struct mmu *mmu = sim_mmu(sim);
	mmu_pa_t f;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &f));
	for (unsigned i = 0; i < MMU_KERNEL_USER_WINDOWS; i++)
		CHECK_OK(mmu_kernel_map_user(mmu, KWIN + i * PAGE, f, PAGE, MMU_PROT_R, NULL));
	CHECK_ERR(mmu_kernel_map_user(mmu, KWIN + 8 * PAGE, f, PAGE, MMU_PROT_R, NULL), MMU_E_NOMEM);
	struct mmu_translation tr;
	CHECK_ERR(mmu_walk(mmu_kernel_tree(mmu), KWIN + 8 * PAGE, &tr), MMU_E_NOTEXIST);
	CHECK_OK(mmu_unmap(mmu_kernel_tree(mmu), KWIN, MMU_KERNEL_USER_WINDOWS * PAGE, NULL));
	sim_frame_free(sim, MMU_SIZE_4K, f);
	sim_destroy(sim);
}

/* ---- table pages given back zeroed ---- */

/* The tables an unmap empties reach the port through table_free_zeroed,
 * every byte zero (the fake port reads them), and serve the next map as
 * they are; a table that still holds entries when freed (a destroyed
 * tree's page table) goes to frame_free, which poisons it. A port without the hook
 * (the fake port's default) gets every table through frame_free. */
static void test_table_free_zeroed(unsigned levels, bool hook)
{
	struct fake_port *fp = fake_port_create(4096);
	if (hook)
		fake_port_take_zeroed(fp);
	static struct mmu mmu;
	fake_mmu_init(&mmu, fp, levels, 1);
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(&mmu, &t));
	const mmu_vaddr_t a = 0x7f0000201000ull, b = 0x100000003000ull;
	const unsigned below_root = levels - 1;
	CHECK_OK(mmu_map(&t, a, mmu_pa(0x1000000), PAGE, MMU_PROT_R | MMU_PROT_W | MMU_PROT_U, NULL, NULL));
	uint64_t in_use = fp->in_use;
	CHECK_OK(mmu_unmap(&t, a, PAGE, NULL));
	CHECK_EQ(fp->in_use, in_use - below_root);
	CHECK_EQ(fp->zeroed_frees, hook ? below_root : 0);
	CHECK_EQ(fp->zeroed_bad, 0);
	/* Another path: every table it needs comes back uncleared, and only
	 * B's leaf is there. */
	CHECK_OK(mmu_map(&t, b, mmu_pa(0x2000000), PAGE, MMU_PROT_R | MMU_PROT_U, NULL, NULL));
	CHECK_EQ(fp->zeroed_reused, hook ? below_root : 0);
	struct mmu_translation tr;
	CHECK_OK(mmu_walk(&t, b, &tr));
	CHECK_EQ(mmu_pa_bits(tr.pa), 0x2000000);
	CHECK_ERR(mmu_walk(&t, a, &tr), MMU_E_NOTEXIST);
	uint64_t root = mmu_tree_cr3(&t);
	CHECK_EQ(raw_leaf_level(fake_raw, fp, root, levels, a), 0);
	CHECK_EQ(raw_leaf_level(fake_raw, fp, root, levels, b), 1);
	/* A tree destroyed with B mapped: B's page table holds its leaf;
	 * the tables above it held only the links the destroy clears on its
	 * way up, so they are zero when they go. */
	uint64_t frees = fp->zeroed_frees;
	CHECK_OK(mmu_tree_destroy(&t));
	CHECK_EQ(fp->zeroed_frees, frees + (hook ? below_root - 1 : 0));
	CHECK_EQ(fp->zeroed_bad, 0);
	mmu_fini(&mmu);
	CHECK_EQ(fp->in_use, 0);
	fake_port_destroy(fp);
}

/* ---- fork's child ---- */

static void test_fork_child_must_not_exist(void)
{
	struct sim *sim = st_default(4, 1);
	struct mmu *mmu = sim_mmu(sim);
	uint64_t tables0 = sim_tables_in_use(sim);
	struct mmu_vm_space p, c;
	memset(&c, 0xa5, sizeof c); /* storage with leftovers: not a space */
	CHECK_OK(mmu_vm_space_create(mmu, &p));
	CHECK_OK(mmu_vm_region_add(&p, 0x400000, 0x4000, MMU_PROT_R | MMU_PROT_W, MMU_VM_EAGER, 0));
	CHECK_ERR(mmu_vm_fork(&p, &p), MMU_E_INVALID);
	CHECK_OK(mmu_vm_fork(&p, &c));
	uint64_t tables = sim_tables_in_use(sim);
	/* C is live now: a second fork into it would lose its root. */
	CHECK_ERR(mmu_vm_fork(&p, &c), MMU_E_INVALID);
	CHECK_EQ(sim_tables_in_use(sim), tables);
	CHECK_OK(mmu_vm_space_exit(&c));
	/* Exited: storage again. */
	CHECK_OK(mmu_vm_fork(&p, &c));
	CHECK_OK(mmu_vm_space_exit(&c));
	/* Created by hand first: refused, and nothing leaks. */
	CHECK_OK(mmu_vm_space_create(mmu, &c));
	CHECK_ERR(mmu_vm_fork(&p, &c), MMU_E_INVALID);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_EQ(sim_tables_in_use(sim), tables0);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	test_1g_capability();
	test_pinned_frames();
	test_kernel_user_pages(4);
	test_kernel_user_pages(5);
	test_kernel_user_windows();
	for (unsigned levels = 4; levels <= 5; levels++) {
		test_table_free_zeroed(levels, true);
		test_table_free_zeroed(levels, false);
	}
	test_fork_child_must_not_exist();
	return 0;
}
