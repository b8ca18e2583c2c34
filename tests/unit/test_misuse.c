/* SPDX-License-Identifier: MIT */
/* Calls a kernel can get wrong, each refused with a clear error or a panic
 * that names it, never silent damage: a destroyed tree or an exited space
 * used again (even after its root page became another tree's root), huge
 * leaves and promotion in a process space's tree, physical addresses at or
 * above MAXPHYADDR, and a load that races with the exit of its space. On
 * the software machine, 4 and 5 levels, PCIDs off and on; the TLB
 * sanitizer stays silent. */
#include "fake_port.h"
#include "vmtest.h"

#define SZ_2M 0x200000ull
#define RW (MMU_PROT_R | MMU_PROT_W)
#define RWU (MMU_PROT_R | MMU_PROT_W | MMU_PROT_U)
#define KWIN 0xffffc80000000000ull /* the kernel-half window tests may use */
#define VA2M 0x40000000ull         /* 2M-aligned */

static uint32_t user_read(unsigned cpu, mmu_vaddr_t va)
{
	return st_result(sim_access(vt_sim, cpu, SIM_READ, va, true, false, 0));
}

static mmu_pa_t data_frame(enum mmu_size size)
{
	mmu_pa_t pa = mmu_pa(0);
	CHECK_OK(sim_frame_alloc(vt_sim, size, &pa));
	return pa;
}

/* ---- process spaces hold 4K leaves only ---- */

static bool contiguous_2m(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	mmu_pa_t first = pa_of(sp, va);
	bool ok = mmu_is_aligned(first.bits, SZ_2M);
	for (uint64_t off = PAGE; ok && off < SZ_2M; off += PAGE)
		ok = pa_of(sp, va + off).bits == first.bits + off;
	return ok;
}

/* The case that panicked in exit, fork and region protect: promotion
 * turned on for the space's tree, then an eager region whose 512 frames
 * are one aligned run. Promotion is refused, the leaves stay 4K. */
static void test_process_tree_refuses_promotion(void)
{
	struct mmu_vm_space sp, child;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_ERR(mmu_tree_set_promote(&sp.tree, true), MMU_E_INVALID);
	CHECK_OK(mmu_tree_set_promote(&sp.tree, false));
	CHECK_OK(mmu_vm_region_add(&sp, VA2M, SZ_2M, RW, MMU_VM_EAGER, 0));
	CHECK(contiguous_2m(&sp, VA2M)); /* what made a 2M leaf possible */
	struct mmu_translation t;
	CHECK_OK(mmu_walk(&sp.tree, VA2M + SZ_2M - PAGE, &t));
	CHECK_EQ(t.size, MMU_SIZE_4K);
	CHECK_OK(mmu_vm_fork(&sp, &child));
	CHECK_OK(mmu_vm_region_protect(&sp, VA2M, SZ_2M, MMU_PROT_R));
	st_load(vt_sim, 0, &sp.tree);
	CHECK_EQ(ur(&sp, 0, VA2M + 0x1234), 0);
	CHECK_EQ(uw(&sp, 0, VA2M, 1), 0x1000 | ST_PF_P | ST_PF_W | ST_PF_U);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&child));
	CHECK_OK(mmu_vm_space_exit(&sp));
}

/* A map straight into a space's tree: promote or a forced 2M/1G leaf is
 * INVALID, and without options the largest leaf is 4K (the single-page 2M
 * path included). */
static void test_process_tree_maps_4k_only(void)
{
	struct mmu_vm_space sp;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	mmu_pa_t big = data_frame(MMU_SIZE_2M);
	struct mmu_map_opts promote = {.promote = true}, huge = {.size = MMU_SIZE_2M}, giant = {.size = MMU_SIZE_1G};
	uint64_t tables = sim_tables_in_use(vt_sim);
	CHECK_ERR(mmu_map(&sp.tree, VA2M, big, SZ_2M, RWU, &promote, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&sp.tree, VA2M, big, SZ_2M, RWU, &huge, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&sp.tree, VA2M, big, SZ_2M, RWU, &giant, NULL), MMU_E_INVALID);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables);
	CHECK_OK(mmu_map(&sp.tree, VA2M, big, SZ_2M, RWU, NULL, NULL));
	struct mmu_translation t;
	CHECK_OK(mmu_walk(&sp.tree, VA2M, &t));
	CHECK_EQ(t.size, MMU_SIZE_4K);
	CHECK_OK(mmu_unmap(&sp.tree, VA2M, SZ_2M, NULL));
	CHECK_OK(mmu_map(&sp.tree, VA2M, big, SZ_2M, RWU, &(struct mmu_map_opts){.size = MMU_SIZE_4K}, NULL));
	CHECK_OK(mmu_unmap(&sp.tree, VA2M, SZ_2M, NULL));
	CHECK_OK(mmu_vm_space_exit(&sp));
	sim_frame_free(vt_sim, MMU_SIZE_2M, big);
}

/* ---- destroyed trees are dead ---- */

static void load_tree(void *tree) { mmu_tree_load(tree); }

/* Every call on a dead tree A: INVALID before any argument error, through
 * the single-page paths (A's table cache was warm) and the general ones. */
static void check_dead(struct mmu_tree *a, mmu_pa_t f)
{
	struct mmu_translation t;
	mmu_pte_t e;
	CHECK_ERR(mmu_tree_destroy(a), MMU_E_INVALID);
	CHECK_ERR(mmu_map(a, 0x11000, f, PAGE, RWU, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(a, VA2M, mmu_pa(SZ_2M), SZ_2M, RWU, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(a, 0x11000, f, PAGE, RWU, &(struct mmu_map_opts){.global = true}, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(a, 0x11001, f, PAGE, MMU_PROT_W, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_walk(a, 0x10000, &t), MMU_E_INVALID);
	CHECK_ERR(mmu_walk(a, KWIN, &t), MMU_E_INVALID);
	CHECK_ERR(mmu_entry(a, 0x10000, MMU_LEVEL_PT, &e), MMU_E_INVALID);
	CHECK_ERR(mmu_unmap(a, 0x10000, PAGE, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_unmap(a, 0, SZ_2M, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_protect(a, 0x10000, PAGE, MMU_PROT_R, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_protect(a, 0x10000, 3 * PAGE, MMU_PROT_R, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_tree_set_promote(a, true), MMU_E_INVALID);
	struct mmu_tree_locked held = mmu_tree_lock(a);
	CHECK_ERR(mmu_map_locked(held, 0x11000, f, PAGE, RWU, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_walk_locked(held, 0x10000, &t), MMU_E_INVALID);
	CHECK_ERR(mmu_unmap_locked(held, 0x10000, PAGE, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_protect_locked(held, 0x10000, PAGE, MMU_PROT_R, NULL), MMU_E_INVALID);
	mmu_tree_unlock(held);
	CHECK_EQ(mmu_tree_cr3(a), 0);
	CHECK(check_aborts(load_tree, a));
}

/* A destroyed twice after its root page became B's root (B mapped and
 * loaded on CPU 1): the second destroy used to free B's tables and return
 * OK. Now every call on A is refused and B is untouched. */
static void test_destroyed_tree_is_dead(void)
{
	struct mmu_tree a, b;
	mmu_pa_t f = data_frame(MMU_SIZE_4K);
	struct mmu_translation t;
	CHECK_OK(mmu_tree_create(vt_mmu, &a));
	uint64_t a_root = mmu_tree_cr3(&a);
	CHECK_OK(mmu_map(&a, 0x10000, f, PAGE, RWU, NULL, NULL));
	CHECK_OK(mmu_walk(&a, 0x10000, &t)); /* A's table cache holds the page table */
	CHECK_OK(mmu_tree_destroy(&a));
	CHECK_OK(mmu_tree_create(vt_mmu, &b));
	CHECK_EQ(mmu_tree_cr3(&b), a_root); /* the case of the report */
	CHECK_OK(mmu_map(&b, 0x10000, f, PAGE, RWU, NULL, NULL));
	st_load(vt_sim, 1, &b);
	CHECK_EQ(user_read(1, 0x10000), ST_OK);
	struct st_snapshot before = {0}, after = {0};
	st_snapshot_take(vt_sim, &b, &before);
	uint64_t tables = sim_tables_in_use(vt_sim);
	check_dead(&a, f);
	CHECK_EQ(sim_tables_in_use(vt_sim), tables);
	st_snapshot_take(vt_sim, &b, &after);
	CHECK(st_snapshot_equal(&before, &after));
	CHECK_EQ(user_read(1, 0x10000), ST_OK);
	unload(1);
	CHECK_OK(mmu_tree_destroy(&b));
	/* mmu_tree_create makes the storage a tree again. */
	CHECK_OK(mmu_tree_create(vt_mmu, &a));
	CHECK_OK(mmu_map(&a, 0x10000, f, PAGE, RWU, NULL, NULL));
	CHECK_OK(mmu_tree_destroy(&a));
	sim_frame_free(vt_sim, MMU_SIZE_4K, f);
	st_snapshot_free(&before);
	st_snapshot_free(&after);
	st_check_sanitizer(vt_sim);
}

static uint32_t store_nothing(void *ctx, mmu_vaddr_t va, const uint8_t *src, size_t len)
{
	(void)ctx, (void)va, (void)src, (void)len;
	CHECK(!"copy-to-user stored into an exited space");
	return 0;
}

/* P exits twice, the second time after its root page became Q's root: it
 * used to zap Q's pages and free Q's tables. Now every call on P is
 * INVALID and Q is untouched. */
static void test_exited_space_is_dead(void)
{
	struct mmu_vm_space p, q, r;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	uint64_t p_root = mmu_tree_cr3(&p.tree);
	CHECK_OK(mmu_vm_region_add(&p, 0x10000, 0x10000, RW, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &p.tree);
	CHECK_EQ(uw(&p, 0, 0x10000, 1), R_OK);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &q));
	CHECK_EQ(mmu_tree_cr3(&q.tree), p_root); /* the case of the report */
	CHECK_OK(mmu_vm_region_add(&q, 0x10000, 0x10000, RW, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &q.tree);
	CHECK_EQ(uw(&q, 0, 0x10000, 0x5a), R_OK);
	struct state before;
	state_take(&q, &before);

	CHECK_ERR(mmu_vm_space_exit(&p), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_add(&p, 0x30000, PAGE, RW, MMU_VM_EAGER, 0), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_remove(&p, 0x10000, 0x10000), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_region_protect(&p, 0x10000, 0x10000, MMU_PROT_R), MMU_E_INVALID);
	struct mmu_vm_fault f = mmu_vm_fault_decode(MMU_PF_U | MMU_PF_W, 0x11000, MMU_VM_FAULT_ACCESS);
	CHECK_EQ(mmu_vm_handle_fault(&p, &f), MMU_VM_DEAD);
	CHECK_ERR(mmu_vm_fork(&p, &r), MMU_E_INVALID);
	uint8_t byte = 7;
	uint32_t code = 0;
	CHECK_ERR(mmu_vm_copy_to_user(&p, 0x10000, &byte, 1, store_nothing, NULL, &code), MMU_E_INVALID);
	struct mmu_kpti k;
	CHECK_OK(mmu_kpti_init(vt_mmu, &k, NULL, 0));
	CHECK_ERR(mmu_vm_kpti_enable(&p, &k), MMU_E_INVALID);
	mmu_kpti_fini(&k);

	CHECK(state_same(&q, &before));
	st_snapshot_free(&before.snap);
	CHECK_EQ(ur(&q, 0, 0x10000), 0x5a);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&q));
	st_check_sanitizer(vt_sim);
}

/* ---- a load racing with exit ----
 * Exit used to check BUSY under the space lock only, then release the
 * space in steps, each under the tree lock: a CPU loading the space
 * between two steps (mmu_tree_load takes only the tree lock) turned the
 * final destroy into BUSY and a panic. The port hook below plays that
 * CPU: at every frame the exit frees, CPU 1 loads the space if it can get
 * in, i.e. when the tree lock is free. */
static struct {
	const struct mmu_port_ops *real;
	struct mmu_port_ops ops;
	struct mmu_tree *tree;
	unsigned loads;
} race;

static void racing_frame_free(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa)
{
	race.real->frame_free(ctx, use, size, pa);
	if (race.loads == 0 && !atomic_load(&race.tree->locked)) {
		unsigned cpu = sim_cpu(vt_sim);
		sim_set_cpu(vt_sim, 1);
		mmu_tree_load(race.tree);
		sim_set_cpu(vt_sim, cpu);
		race.loads++;
	}
}

static void test_exit_leaves_no_window_for_a_load(void)
{
	struct mmu_kpti k;
	struct mmu_vm_space sp;
	CHECK_OK(mmu_kpti_init(vt_mmu, &k, NULL, 0));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_kpti_enable(&sp, &k)); /* the shadow root is freed too */
	CHECK_OK(mmu_vm_region_add(&sp, 0x10000, 0x10000, RW, MMU_VM_EAGER, 0));
	race.real = vt_mmu->port.ops;
	race.ops = *race.real;
	race.ops.frame_free = racing_frame_free;
	race.tree = &sp.tree;
	race.loads = 0;
	vt_mmu->port.ops = &race.ops;
	CHECK_OK(mmu_vm_space_exit(&sp));
	vt_mmu->port.ops = race.real;
	CHECK_EQ(race.loads, 0);
	mmu_kpti_fini(&k);
	st_check_sanitizer(vt_sim);
}

/* ---- MAXPHYADDR ---- */

/* A machine with 40 physical address bits: a physical range reaching 2^40
 * is INVALID (its leaf would have reserved bits set and every access
 * would fault with RSVD), first in the error order, on every path. */
static void test_maxphyaddr_refused(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.maxphyaddr = 40;
	struct sim *sim = st_machine(&cfg);
	struct mmu *mmu = sim_mmu(sim);
	const uint64_t top = 1ull << 40;
	struct mmu_tree t;
	CHECK_OK(mmu_tree_create(mmu, &t));
	struct mmu_map_opts small = {.size = MMU_SIZE_4K};
	uint64_t tables = sim_tables_in_use(sim);
	CHECK_ERR(mmu_map(&t, 0x10000, mmu_pa(top), PAGE, MMU_PROT_R, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&t, VA2M, mmu_pa(top), SZ_2M, MMU_PROT_R, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&t, 0x10000, mmu_pa(top), PAGE, MMU_PROT_R, &small, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&t, 0x10000, mmu_pa(top - PAGE), 2 * PAGE, MMU_PROT_R, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&t, 0x10001, mmu_pa(top), PAGE, MMU_PROT_R, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(&t, 0x10000, mmu_pa(top), PAGE, MMU_PROT_W, NULL, NULL), MMU_E_INVALID);
	CHECK_ERR(mmu_map(mmu_kernel_tree(mmu), KWIN, mmu_pa(1ull << 51), PAGE, MMU_PROT_R, NULL, NULL),
		  MMU_E_INVALID);
	CHECK_EQ(sim_tables_in_use(sim), tables);
	/* The last page below the limit is a valid address (not memory of
	 * this machine: mapped, never accessed). */
	CHECK_OK(mmu_map(&t, 0x10000, mmu_pa(top - PAGE), PAGE, MMU_PROT_R, NULL, NULL));
	CHECK_OK(mmu_unmap(&t, 0x10000, PAGE, NULL));
	CHECK_OK(mmu_tree_destroy(&t));
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* mmu_config.maxphyaddr: 0 (the architectural 52) or 32..52. */
static void test_maxphyaddr_config(void)
{
	struct fake_port *fp = fake_port_create(2048);
	struct mmu mmu;
	struct mmu_config cfg = {.levels = 4, .ncpus = 1, .nx = true};
	const unsigned refused[] = {1, 31, 53, 64};
	for (unsigned i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		cfg.maxphyaddr = refused[i];
		CHECK_ERR(mmu_init(&mmu, &fp->port, &cfg), MMU_E_INVALID);
	}
	CHECK_EQ(fp->in_use, 0);
	const unsigned accepted[] = {0, 32, 52};
	for (unsigned i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
		cfg.maxphyaddr = accepted[i];
		CHECK_OK(mmu_init(&mmu, &fp->port, &cfg));
		unsigned bits = accepted[i] ? accepted[i] : 52;
		struct mmu_tree t;
		CHECK_OK(mmu_tree_create(&mmu, &t));
		CHECK_OK(mmu_map(&t, 0x10000, mmu_pa((1ull << bits) - PAGE), PAGE, MMU_PROT_R, NULL, NULL));
		CHECK_ERR(mmu_map(&t, 0x20000, mmu_pa(1ull << bits), PAGE, MMU_PROT_R, NULL, NULL), MMU_E_INVALID);
		CHECK_OK(mmu_unmap(&t, 0x10000, PAGE, NULL));
		CHECK_OK(mmu_tree_destroy(&t));
		mmu_fini(&mmu);
	}
	fake_port_destroy(fp);
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_process_tree_refuses_promotion();
	test_process_tree_maps_4k_only();
	test_destroyed_tree_is_dead();
	test_exited_space_is_dead();
	test_exit_leaves_no_window_for_a_load();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	test_maxphyaddr_refused();
	test_maxphyaddr_config();
	return 0;
}
