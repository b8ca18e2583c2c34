/* SPDX-License-Identifier: MIT */
/* mmu_leaves (include/mmu64/pt.h) against two oracles, on random trees
 * with 4K, 2M and 1G leaves in a user tree and in the kernel half, with 4
 * and 5 levels: the property test's reference model (refmodel.h: the
 * exact leaves the rules give, written apart from the library) says which
 * leaves a range holds, where each one starts in it, its PA, size and
 * permissions; mmu_walk at each reported address must give the very same
 * translation, raw leaf included. Then: stopping early, the _locked form,
 * every argument error (nothing called, nothing changed, not even an A
 * bit), and the frames contract of pt.h ("Who owns the frames"): frames
 * freed through the unmap's batch, or after mmu_tree_destroy, with the
 * TLB sanitizer silent, and a free before the flush caught. */
#include <inttypes.h>
#include <string.h>

#include "refmodel.h"
#include "simtest.h"

/* Arenas straddle a PML4 boundary (512 GiB) so that ranges cross it. */
#define USER_BASE (0x8000000000ull - 2 * SZ_1G)
#define KERN_BASE (0xffffc80000000000ull + 0x8000000000ull - 2 * SZ_1G)
#define RW (MMU_PROT_R | MMU_PROT_W)
#define RWU (RW | MMU_PROT_U)

/* One reported leaf. */
struct rec {
	mmu_vaddr_t va;
	struct mmu_translation t;
};

struct recs {
	struct rec *v;
	size_t n, cap;
	size_t stop_after; /* the collector returns false at this record (0: never) */
};

static void recs_add(struct recs *r, mmu_vaddr_t va, const struct mmu_translation *t)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 256;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		if (!r->v) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	r->v[r->n++] = (struct rec){va, *t};
}

static bool collect(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t)
{
	struct recs *r = ctx;
	recs_add(r, va, t);
	return r->stop_after == 0 || r->n < r->stop_after;
}

/* ---- random trees ---- */

struct run {
	uint64_t seed;
	struct st_rng rng;
	struct sim *sim;
	struct mmu *mmu;
	struct mmu_tree user;
	struct model *model[2]; /* [0] the user tree's arena, [1] the kernel half's */
	mmu_pa_t data;          /* one 1 GiB frame every mapping points into */
	bool nx;
	uint64_t compared[MMU_SIZE_1G + 1]; /* leaves compared, by size */
	uint64_t cut;                       /* of them, entered past their start */
};

static uint64_t rnd(struct run *r, uint64_t n) { return st_rng_below(&r->rng, n); }

static struct mmu_tree *tree_of(struct run *r, unsigned t) { return t ? mmu_kernel_tree(r->mmu) : &r->user; }

/* [*VA, *VA + *LEN) cut to the arena of M. */
static void clamp(const struct model *m, mmu_vaddr_t *va, uint64_t *len)
{
	if (*va < m->base || *va >= m->base + ARENA)
		*va = m->base;
	if (*len > m->base + ARENA - *va)
		*len = m->base + ARENA - *va;
}

/* A map of a few 4K pages, 2M leaves with 4K pages around them, a whole 1G
 * leaf, or forced 4K leaves; skipped where anything is mapped already.
 * Smaller leaves stay out of the arena's last GiB, so that 1G leaves keep
 * finding room there (until a change splits them). */
static void random_map(struct run *r, unsigned t)
{
	struct model *m = r->model[t];
	struct mmu_map_opts o = {0};
	const uint64_t small_room = (ARENA - SZ_1G) / PAGE;
	mmu_vaddr_t va;
	uint64_t len;
	switch (rnd(r, 4)) {
	case 0:
		va = m->base + rnd(r, small_room) * PAGE;
		len = (1 + rnd(r, 16)) * PAGE;
		break;
	case 1:
		va = m->base + rnd(r, small_room / 512 - 4) * SZ_2M - rnd(r, 4) * PAGE;
		len = (1 + rnd(r, 3)) * SZ_2M + rnd(r, 8) * PAGE;
		break;
	case 2: /* the last GiB half the time */
		va = m->base + (rnd(r, 2) ? ARENA / SZ_1G - 1 : rnd(r, ARENA / SZ_1G)) * SZ_1G;
		len = SZ_1G;
		break;
	default:
		o.size = MMU_SIZE_4K;
		va = m->base + rnd(r, small_room) * PAGE;
		len = (1 + rnd(r, 600)) * PAGE;
		break;
	}
	clamp(m, &va, &len);
	if (model_any(m, va, len))
		return;
	/* PA congruent to VA modulo 1G where the frame has room, so that huge
	 * leaves fit. */
	uint64_t off = va % SZ_1G;
	if (off + len > SZ_1G)
		off = SZ_1G - ((len + PAGE - 1) & ~(PAGE - 1));
	unsigned prot = MMU_PROT_R | (unsigned)rnd(r, 8) << 1;
	o.global = t == 1 && rnd(r, 4) == 0;
	CHECK_OK(mmu_map(tree_of(r, t), va, mmu_pa(r->data.bits + off), len, prot, &o, NULL));
	model_map(m, va, r->data.bits + off, len, prot, o.global, o.size);
}

/* An unmap or protect of a few pages, of 2M multiples (both split huge
 * leaves they cut), or of a whole GiB of the arena. */
static void random_change(struct run *r, unsigned t)
{
	struct model *m = r->model[t];
	mmu_vaddr_t va = m->base + rnd(r, ARENA / PAGE) * PAGE;
	uint64_t len;
	switch (rnd(r, 10)) {
	case 0: /* the last GiB half the time: room for 1G leaves again */
		va = m->base + (rnd(r, 2) ? ARENA / SZ_1G - 1 : rnd(r, ARENA / SZ_1G)) * SZ_1G;
		len = SZ_1G;
		break;
	case 1: case 2: case 3: case 4:
		len = (1 + rnd(r, 4)) * SZ_2M;
		break;
	default:
		len = (1 + rnd(r, 1024)) * PAGE;
		break;
	}
	clamp(m, &va, &len);
	if (!model_any(m, va, len))
		return;
	bool unmap = rnd(r, 2);
	unsigned prot = MMU_PROT_R | (unsigned)rnd(r, 8) << 1;
	CHECK_OK(unmap ? mmu_unmap(tree_of(r, t), va, len, NULL) : mmu_protect(tree_of(r, t), va, len, prot, NULL));
	model_change(m, va, len, unmap, prot);
}

/* ---- the oracles ---- */

/* What the model says mmu_leaves must report for [VA, END): each leaf
 * once, at the first address of it inside the range. */
static void model_leaves(const struct model *m, mmu_vaddr_t va, mmu_vaddr_t end, struct recs *out)
{
	struct mleaf l;
	for (; model_next_leaf(m, &va, end, &l); va = model_leaf_end(va, &l)) {
		struct mmu_translation t = {.pa = mmu_pa(l.pa), .size = l.size, .prot = l.prot};
		recs_add(out, va, &t);
	}
}

/* Effective permissions: no U through the kernel half's tables, X
 * everywhere without NX. */
static unsigned effective(const struct run *r, unsigned t, unsigned prot)
{
	if (t == 1)
		prot &= ~MMU_PROT_U;
	return r->nx ? prot : prot | MMU_PROT_X;
}

static bool same_translation(const struct mmu_translation *a, const struct mmu_translation *b)
{
	return a->pa.bits == b->pa.bits && a->size == b->size && a->prot == b->prot && a->leaf == b->leaf;
}

/* GOT (mmu_leaves) against WANT (the model) record by record, and each
 * record against mmu_walk at its address. */
static void compare(struct run *r, unsigned t, const struct recs *got, const struct recs *want, mmu_vaddr_t va,
		    uint64_t len)
{
	if (got->n != want->n)
		fprintf(stderr, "seed 0x%" PRIx64 " tree %u [0x%" PRIx64 ", +0x%" PRIx64 "): %zu leaves, model %zu\n",
			r->seed, t, va, len, got->n, want->n);
	CHECK_EQ(got->n, want->n);
	for (size_t i = 0; i < got->n && i < want->n; i++) {
		const struct rec *g = &got->v[i], *w = &want->v[i];
		struct mmu_translation walked;
		CHECK_EQ(g->va, w->va);
		CHECK_EQ(g->t.pa.bits, w->t.pa.bits);
		CHECK_EQ(g->t.size, w->t.size);
		CHECK_EQ(g->t.prot, effective(r, t, w->t.prot));
		CHECK_OK(mmu_walk(tree_of(r, t), g->va, &walked));
		CHECK(same_translation(&g->t, &walked));
		CHECK_STOP_ON_FAILURE();
		r->compared[g->t.size]++;
		r->cut += (g->va & (mmu_size_bytes(g->t.size) - 1)) != 0;
	}
}

/* A random range of tree T's arena (sometimes all of it, sometimes one
 * entry's worth), listed by mmu_leaves or by mmu_leaves_locked. */
static void check_range(struct run *r, unsigned t)
{
	const struct model *m = r->model[t];
	mmu_vaddr_t va = m->base + rnd(r, ARENA / PAGE) * PAGE;
	uint64_t len = (1 + rnd(r, 4096)) * PAGE;
	switch (rnd(r, 4)) {
	case 0:
		va = m->base, len = ARENA;
		break;
	case 1:
		len = (1 + rnd(r, 3)) * SZ_1G;
		break;
	}
	clamp(m, &va, &len);
	struct recs got = {0}, want = {0};
	if (rnd(r, 2)) {
		CHECK_OK(mmu_leaves(tree_of(r, t), va, len, collect, &got));
	} else {
		struct mmu_tree_locked held = mmu_tree_lock(tree_of(r, t));
		CHECK_OK(mmu_leaves_locked(held, va, len, collect, &got));
		mmu_tree_unlock(held);
	}
	model_leaves(m, va, va + len, &want);
	compare(r, t, &got, &want, va, len);
	free(got.v);
	free(want.v);
}

/* Stopping at the K-th leaf: exactly the first K of the full list. */
static void check_stop(struct run *r, unsigned t)
{
	const struct model *m = r->model[t];
	struct recs all = {0}, some = {0};
	CHECK_OK(mmu_leaves(tree_of(r, t), m->base, ARENA, collect, &all));
	if (all.n == 0)
		return;
	some.stop_after = 1 + rnd(r, all.n);
	CHECK_OK(mmu_leaves(tree_of(r, t), m->base, ARENA, collect, &some));
	CHECK_EQ(some.n, some.stop_after);
	for (size_t i = 0; i < some.n; i++) {
		CHECK_EQ(some.v[i].va, all.v[i].va);
		CHECK(same_translation(&some.v[i].t, &all.v[i].t));
	}
	free(all.v);
	free(some.v);
}

static void random_trees(uint64_t seed, unsigned levels, bool nx)
{
	struct run r = {.seed = seed, .nx = nx};
	st_rng_seed(&r.rng, seed);
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.levels = levels;
	cfg.nx = nx;
	cfg.mem = SZ_1G;
	r.sim = st_machine(&cfg);
	r.mmu = sim_mmu(r.sim);
	CHECK_OK(sim_frame_alloc(r.sim, MMU_SIZE_1G, &r.data));
	CHECK_OK(mmu_tree_create(r.mmu, &r.user));
	for (unsigned t = 0; t < 2; t++) {
		r.model[t] = calloc(1, sizeof(*r.model[t]));
		r.model[t]->base = t ? KERN_BASE : USER_BASE;
		r.model[t]->kernel = t;
	}
	for (unsigned round = 0; round < 100; round++) {
		for (unsigned i = 0; i < 12; i++) {
			unsigned t = (unsigned)rnd(&r, 2);
			if (rnd(&r, 3))
				random_map(&r, t);
			else
				random_change(&r, t);
		}
		for (unsigned t = 0; t < 2; t++) {
			check_range(&r, t);
			check_stop(&r, t);
		}
	}
	printf("seed 0x%" PRIx64 " levels=%u nx=%u: leaves compared 4K %" PRIu64 " 2M %" PRIu64 " 1G %" PRIu64
	       " (%" PRIu64 " entered past their start)\n",
	       seed, levels, nx, r.compared[MMU_SIZE_4K], r.compared[MMU_SIZE_2M], r.compared[MMU_SIZE_1G], r.cut);
	/* A run that compared no leaf of some size proves little. */
	CHECK(r.compared[MMU_SIZE_4K] > 1000 && r.compared[MMU_SIZE_2M] > 100 && r.compared[MMU_SIZE_1G] > 10 &&
	      r.cut > 10);
	for (unsigned t = 0; t < 2; t++) {
		if (model_any(r.model[t], r.model[t]->base, ARENA))
			CHECK_OK(mmu_unmap(tree_of(&r, t), r.model[t]->base, ARENA, NULL));
		model_clear(r.model[t]);
		free(r.model[t]);
	}
	CHECK_OK(mmu_tree_destroy(&r.user));
	sim_frame_free(r.sim, MMU_SIZE_1G, r.data);
	st_check_sanitizer(r.sim);
	sim_destroy(r.sim);
}

/* ---- errors: refused before anything is read ---- */

static bool never(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t)
{
	(void)va, (void)t;
	(*(unsigned *)ctx)++;
	return true;
}

static void test_errors(void)
{
	struct sim *sim = st_default(4, 1);
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_tree tree, dead;
	mmu_pa_t frame;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &frame));
	CHECK_OK(mmu_tree_create(mmu, &tree));
	CHECK_OK(mmu_tree_create(mmu, &dead));
	CHECK_OK(mmu_tree_destroy(&dead));
	CHECK_OK(mmu_map(&tree, 0x400000, frame, SZ_2M, RWU, NULL, NULL));
	mmu_vaddr_t hole = 1ull << 47, user_last_page = hole - PAGE;
	const struct {
		struct mmu_tree *tree;
		mmu_vaddr_t va;
		uint64_t len;
		bool no_fn;
		mmu_err_t want;
	} c[] = {
		{&tree, 0x400000, 0, false, MMU_E_INVALID},                      /* empty */
		{&tree, 0x400000, SZ_2M, true, MMU_E_INVALID},                   /* no function */
		{&tree, ~0ull - PAGE + 1, 2 * PAGE, false, MMU_E_INVALID},       /* wraps */
		{&tree, hole, PAGE, false, MMU_E_INVALID},                       /* non-canonical */
		{&tree, user_last_page, 2 * PAGE, false, MMU_E_INVALID},         /* into the hole */
		{&tree, 0xffffc80000000000ull, PAGE, false, MMU_E_INVALID},      /* kernel half, user tree */
		{mmu_kernel_tree(mmu), 0x400000, PAGE, false, MMU_E_INVALID},    /* user half, kernel tree */
		{&dead, 0x400000, PAGE, false, MMU_E_INVALID},                   /* destroyed */
		{&tree, hole + 1, PAGE, false, MMU_E_INVALID},                   /* INVALID before UNALIGNED */
		{&tree, 0x400001, PAGE, false, MMU_E_UNALIGNED},
		{&tree, 0x400000, PAGE + 1, false, MMU_E_UNALIGNED},
		{&tree, 0x400000, SZ_2M, false, MMU_OK},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct st_snapshot before = {0}, after = {0};
		unsigned calls = 0;
		st_snapshot_take(sim, &tree, &before);
		CHECK_ERR(mmu_leaves(c[i].tree, c[i].va, c[i].len, c[i].no_fn ? NULL : never, &calls), c[i].want);
		struct mmu_tree_locked held = mmu_tree_lock(c[i].tree);
		CHECK_ERR(mmu_leaves_locked(held, c[i].va, c[i].len, c[i].no_fn ? NULL : never, &calls), c[i].want);
		mmu_tree_unlock(held);
		st_snapshot_take(sim, &tree, &after);
		CHECK(st_snapshot_equal(&before, &after));
		CHECK_EQ(calls, c[i].want == MMU_OK ? 2 : 0);
		st_snapshot_free(&before);
		st_snapshot_free(&after);
	}
	/* An empty range of the tree: no call, no error. */
	unsigned calls = 0;
	CHECK_OK(mmu_leaves(&tree, 0x40000000, SZ_1G, never, &calls));
	CHECK_EQ(calls, 0);
	CHECK_OK(mmu_unmap(&tree, 0x400000, SZ_2M, NULL));
	CHECK_OK(mmu_tree_destroy(&tree));
	sim_frame_free(sim, MMU_SIZE_2M, frame);
	st_check_sanitizer(sim);
	sim_destroy(sim);
}

/* A huge leaf the range cuts is reported once, at the range's start,
 * with the translation of that address and the leaf's size. */
static void test_cut_huge_leaf(void)
{
	struct sim *sim = st_default(4, 1);
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_tree tree;
	mmu_pa_t frame;
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_1G, &frame));
	CHECK_OK(mmu_tree_create(mmu, &tree));
	CHECK_OK(mmu_map(&tree, SZ_1G, frame, SZ_1G, RWU, NULL, NULL));
	struct recs got = {0};
	CHECK_OK(mmu_leaves(&tree, SZ_1G + 5 * SZ_2M + 3 * PAGE, 2 * SZ_2M, collect, &got));
	CHECK_EQ(got.n, 1);
	CHECK_EQ(got.v[0].va, SZ_1G + 5 * SZ_2M + 3 * PAGE);
	CHECK_EQ(got.v[0].t.pa.bits, frame.bits + 5 * SZ_2M + 3 * PAGE);
	CHECK_EQ(got.v[0].t.size, MMU_SIZE_1G);
	CHECK_OK(mmu_unmap(&tree, SZ_1G, SZ_1G, NULL));
	CHECK_OK(mmu_tree_destroy(&tree));
	sim_frame_free(sim, MMU_SIZE_1G, frame);
	free(got.v);
	sim_destroy(sim);
}

/* ---- who owns the frames (include/mmu64/pt.h) ---- */

#define OWN_VA 0x10000000ull
#define OWN_SMALL 48 /* 4K frames, then one 2M frame after them */

/* Queue each leaf's frame on the batch (the pt.h example: the ranges
 * here cut no huge leaf). */
static bool queue(void *b, mmu_vaddr_t va, const struct mmu_translation *t)
{
	(void)va;
	mmu_tlb_batch_defer_free(b, MMU_FRAME_DATA, t->size, t->pa);
	return true;
}

/* A kernel's own frames: 48 4K frames and a 2M one mapped in TREE, touched
 * through both CPUs so both TLBs hold them. */
static void own_map(struct sim *sim, struct mmu_tree *tree)
{
	mmu_pa_t pa;
	for (unsigned i = 0; i < OWN_SMALL; i++) {
		CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &pa));
		CHECK_OK(mmu_map(tree, OWN_VA + i * PAGE, pa, PAGE, RWU, NULL, NULL));
	}
	CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &pa));
	CHECK_OK(mmu_map(tree, OWN_VA + SZ_2M, pa, SZ_2M, RWU, NULL, NULL));
	for (unsigned cpu = 0; cpu < 2; cpu++) {
		st_load(sim, cpu, tree);
		for (unsigned i = 0; i < OWN_SMALL; i++)
			CHECK_EQ(st_result(sim_access(sim, cpu, SIM_READ, OWN_VA + i * PAGE, true, false, 0)), ST_OK);
		CHECK_EQ(st_result(sim_access(sim, cpu, SIM_WRITE, OWN_VA + SZ_2M + PAGE, true, false, 1)), ST_OK);
	}
}

static void leave_tree(struct sim *sim)
{
	for (unsigned cpu = 0; cpu < 2; cpu++)
		st_load(sim, cpu, mmu_kernel_tree(sim_mmu(sim)));
}

/* Unmap with the frames on the batch, under one hold: every frame back,
 * no frame freed while a TLB held it (the tree still loaded on both). */
static void own_unmap(struct sim *sim, struct mmu_tree *tree)
{
	struct mmu_tlb_batch b;
	mmu_tlb_batch_init(&b, tree);
	struct mmu_tree_locked held = mmu_tree_lock(tree);
	CHECK_OK(mmu_leaves_locked(held, OWN_VA, 2 * SZ_2M, queue, &b));
	CHECK_OK(mmu_unmap_locked(held, OWN_VA, 2 * SZ_2M, &b));
	mmu_tree_unlock(held);
	CHECK_EQ(sim_frames_in_use(sim), OWN_SMALL + 1); /* nothing freed before the flush */
	mmu_tlb_flush(&b);
	mmu_tlb_batch_done(&b);
	CHECK_EQ(sim_frames_in_use(sim), 0);
	st_check_sanitizer(sim);
}

/* The frames listed before mmu_tree_destroy, freed after it returned:
 * nothing left in any TLB, lazy PCIDs included. */
static void own_destroy(struct sim *sim, struct mmu_tree *tree)
{
	struct recs frames = {0};
	CHECK_OK(mmu_leaves(tree, 0, 1ull << 47, collect, &frames));
	CHECK_EQ(frames.n, OWN_SMALL + 1);
	leave_tree(sim);
	CHECK_OK(mmu_tree_destroy(tree));
	for (size_t i = 0; i < frames.n; i++)
		sim_frame_free(sim, frames.v[i].t.size, frames.v[i].t.pa);
	CHECK_EQ(sim_frames_in_use(sim), 0);
	st_check_sanitizer(sim);
	free(frames.v);
}

/* The control: the same frames freed before the destroy, while a lazy
 * PCID (or the running tree) still caches them, are reported. */
static void own_free_too_early(struct sim *sim, struct mmu_tree *tree)
{
	struct recs frames = {0};
	CHECK_OK(mmu_leaves(tree, 0, 1ull << 47, collect, &frames));
	leave_tree(sim);
	unsigned before = sim_tlbsan_reports(sim);
	fprintf(stderr, "test_leaves: tlbsan reports expected below (frames freed before the destroy)\n");
	for (size_t i = 0; i < frames.n; i++)
		sim_frame_free(sim, frames.v[i].t.size, frames.v[i].t.pa);
	CHECK(sim_tlbsan_reports(sim) > before);
	CHECK_OK(mmu_tree_destroy(tree));
	free(frames.v);
}

static void test_frames(bool pcid)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 2;
	cfg.pcide = pcid;
	struct sim *sim = st_machine(&cfg);
	struct mmu_tree tree;
	CHECK_OK(mmu_tree_create(sim_mmu(sim), &tree));
	own_map(sim, &tree);
	own_unmap(sim, &tree);
	leave_tree(sim);
	CHECK_OK(mmu_tree_destroy(&tree));

	CHECK_OK(mmu_tree_create(sim_mmu(sim), &tree));
	own_map(sim, &tree);
	own_destroy(sim, &tree);

	if (pcid) { /* without PCIDs the CR3 writes of leave_tree emptied the TLBs */
		CHECK_OK(mmu_tree_create(sim_mmu(sim), &tree));
		own_map(sim, &tree);
		own_free_too_early(sim, &tree);
	}
	sim_destroy(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	static const struct {
		uint64_t seed;
		unsigned levels;
		bool nx;
	} runs[] = {{0x1eaf0001, 4, true}, {0x1eaf0002, 5, true}, {0x1eaf0003, 4, false}, {0x1eaf0004, 5, true}};
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		random_trees(runs[i].seed, runs[i].levels, runs[i].nx);
	test_errors();
	test_cut_huge_leaf();
	test_frames(false);
	test_frames(true);
	return 0;
}
