/* SPDX-License-Identifier: MIT */
/* Property test: random map / unmap / protect / walk / load / drop and CPU
 * accesses over several trees and the shared kernel window, 2-4 CPUs, with
 * and without PCIDs (and INVPCID), global leaves in the kernel window and
 * in the user trees, against a reference model (refmodel.c: the exact
 * leaves the library must build, from the rules alone), with the TLB
 * sanitizer on. Every result is compared: error codes
 * (with the precedence of VECTORS.md), walks (PA, size, effective
 * permissions, leaf bits), access outcomes (the #PF error code from the
 * oracle in simtest.c, the byte read or written), table counts (user tables
 * and the kernel half, from the model's leaves), BUSY for a loaded tree.
 * CPUs leave trees for others and come back (lazy CPUs with PCIDs); a G
 * leaf of a user tree must never serve another tree. Process spaces have
 * their own property test (test_property_vm.c).
 *
 *   test_property                 fixed seeds (CI), 6 x 120,000 operations
 *   test_property SEED [OPS]      one run; SEED decides the machine too
 *
 * On failure it prints the seed, the operation number and the operation.
 * Environment: PROPERTY_TRACE=VA prints every operation on VA's page (and
 * every load); PROPERTY_NO_KERNEL_GLOBAL=1 maps no global kernel pages. */
#include <inttypes.h>
#include <string.h>

#include "refmodel.h"
#include "simtest.h"

#define NTREES 3 /* user trees; index NTREES is the kernel tree */
#define KTREE NTREES
/* Arenas straddle a PML4 boundary (512 GiB) so that ranges cross it. */
#define USER_BASE (0x8000000000ull - 2 * SZ_1G)
#define KERN_BASE (0xffffc80000000000ull + 0x8000000000ull - 2 * SZ_1G)

/* ---- the run ---- */

struct run {
	uint64_t seed;
	unsigned long op;
	char desc[256];
	struct st_rng rng;
	struct sim *sim;
	struct mmu *mmu;
	unsigned levels, ncpus;
	struct st_cpu_mode mode;
	struct mmu_tree trees[NTREES];
	struct model *model[NTREES + 1];
	unsigned loaded[MMU_MAX_CPUS]; /* tree index per CPU, KTREE for the kernel tree */
	mmu_pa_t data;                 /* one 1 GiB data frame every mapping points into */
	uint64_t kernel_tables0;
	unsigned long counts[16];
};

static struct run R;
static bool kernel_global = true;
static bool user_global = true; /* PROPERTY_NO_USER_GLOBAL=1: no global leaves in user trees */
static mmu_vaddr_t trace_va = 1; /* PROPERTY_TRACE=VA: print every operation on VA's page */

static void trace(unsigned t, mmu_vaddr_t va, uint64_t len, mmu_err_t err)
{
	if (trace_va - va < len)
		fprintf(stderr, "  trace op %lu tree %u: %s -> %s\n", R.op, t, R.desc, mmu_err_name(err));
}

#define FAIL(...)                                                                                    \
	do {                                                                                         \
		fprintf(stderr, "test_property: seed=0x%" PRIx64 " op=%lu: ", R.seed, R.op);           \
		fprintf(stderr, __VA_ARGS__);                                                        \
		fprintf(stderr, "\n  operation: %s\n  rerun: test_property 0x%" PRIx64 "\n", R.desc, R.seed); \
		exit(1);                                                                             \
	} while (0)

static uint64_t rnd(uint64_t n) { return st_rng_below(&R.rng, n); }
static bool chance(unsigned percent) { return rnd(100) < percent; }

static struct mmu_tree *tree_of(unsigned t) { return t == KTREE ? mmu_kernel_tree(R.mmu) : &R.trees[t]; }

static void expect_err(mmu_err_t got, mmu_err_t want)
{
	if (got != want)
		FAIL("returned %s, expected %s", mmu_err_name(got), mmu_err_name(want));
}

static void check_sanitizer(void)
{
	if (sim_tlbsan_reports(R.sim))
		FAIL("%s", sim_tlbsan_last(R.sim));
}

/* Effective permissions through the levels: the kernel half's non-leaf
 * entries have no US, so U never survives there; X without NX. */
static unsigned effective_prot(unsigned t, unsigned prot)
{
	if (t == KTREE)
		prot &= ~MMU_PROT_U;
	if (!R.mode.nx)
		prot |= MMU_PROT_X;
	return prot;
}

static uint64_t leaf_bits(const struct mleaf *l)
{
	static const uint64_t cache[] = {0, MMU_PTE_PWT, MMU_PTE_PCD | MMU_PTE_PWT, 0};
	uint64_t e = MMU_PTE_P | (l->prot & MMU_PROT_W ? MMU_PTE_RW : 0) | (l->prot & MMU_PROT_U ? MMU_PTE_US : 0) |
		     (R.mode.nx && !(l->prot & MMU_PROT_X) ? MMU_PTE_XD : 0) | (l->attr & 1 ? MMU_PTE_G : 0) |
		     cache[(l->attr >> 1) & 3] | ((uint64_t)(l->attr >> 3) << MMU_PTE_PK_SHIFT);
	if (l->size != MMU_SIZE_4K)
		e |= MMU_PTE_PS;
	return e;
}

/* The model that answers for VA in tree T (the kernel window is shared). */
static unsigned owner(unsigned t, mmu_vaddr_t va) { return (va >> 63) ? KTREE : t; }

static void check_walk(unsigned t, mmu_vaddr_t va)
{
	unsigned o = owner(t, va);
	struct mleaf l = model_lookup(R.model[o], va);
	struct mmu_translation tr;
	mmu_err_t err = mmu_walk(tree_of(t), va, &tr);
	snprintf(R.desc, sizeof(R.desc), "walk tree %u va 0x%" PRIx64, t, va);
	if (!l.present) {
		expect_err(err, MMU_E_NOTEXIST);
		return;
	}
	expect_err(err, MMU_OK);
	uint64_t leaf_pa = l.pa & ~(mmu_size_bytes(l.size) - 1);
	uint64_t want = leaf_bits(&l) | leaf_pa;
	uint64_t mask = ~(MMU_PTE_A | MMU_PTE_D);
	if (tr.pa.bits != l.pa || tr.size != l.size || tr.prot != effective_prot(o, l.prot) ||
	    (tr.leaf & mask) != want)
		FAIL("walk gave pa 0x%" PRIx64 " size %u prot 0x%x leaf 0x%" PRIx64 ", model pa 0x%" PRIx64
		     " size %u prot 0x%x leaf 0x%" PRIx64,
		     tr.pa.bits, tr.size, tr.prot, tr.leaf, l.pa, l.size, effective_prot(o, l.prot), want);
}

static void check_access(unsigned cpu, mmu_vaddr_t va)
{
	static const enum sim_access_kind kinds[] = {SIM_READ, SIM_WRITE, SIM_EXEC};
	enum sim_access_kind kind = kinds[rnd(3)];
	bool user = chance(40), ac = !user && chance(30);
	uint8_t byte = (uint8_t)rnd(256);
	unsigned t = R.loaded[cpu];
	/* With the kernel tree loaded the user half is empty. */
	unsigned o = owner(t, va);
	struct mleaf l = (o == KTREE || t != KTREE) ? model_lookup(R.model[o], va) : (struct mleaf){0};
	snprintf(R.desc, sizeof(R.desc), "access cpu %u (tree %u) %s va 0x%" PRIx64 " user %u ac %u", cpu, t,
		 kind == SIM_READ ? "read" : kind == SIM_WRITE ? "write" : "exec", va, user, ac);
	uint32_t want = st_expect(R.mode, l.present, effective_prot(o, l.prot), kind, user, ac);
	struct sim_access a = sim_access(R.sim, cpu, kind, va, user, ac, byte);
	trace(t, va & ~(PAGE - 1), PAGE, MMU_OK);
	check_sanitizer(); /* a stale hit explains a wrong outcome best */
	if (st_result(a) != want)
		FAIL("access gave 0x%x, expected 0x%x (model: present %u pa 0x%" PRIx64 " prot 0x%x)", st_result(a),
		     want, l.present, l.pa, l.prot);
	if (a.outcome == SIM_PF && a.cr2 != va)
		FAIL("cr2 0x%" PRIx64, a.cr2);
	if (a.outcome == SIM_OK) {
		uint8_t mem = *sim_phys(R.sim, mmu_pa(l.pa));
		if (kind == SIM_READ && a.byte != mem)
			FAIL("read 0x%02x, memory at 0x%" PRIx64 " holds 0x%02x", a.byte, l.pa, mem);
		if (kind == SIM_WRITE && mem != byte)
			FAIL("wrote 0x%02x, memory at 0x%" PRIx64 " holds 0x%02x", byte, l.pa, mem);
	}
	R.counts[a.outcome == SIM_OK ? 8 : 9]++;
}

/* Allocation failure injected into one call: the table allocator fails
 * after K successes. A refused call must return NOMEM after exactly K+1
 * attempts and leave the tree (raw snapshot) and the table count alone. */
struct inject {
	long k; /* < 0: none */
	struct st_snapshot before, after;
	uint64_t tables, allocs;
};

static void inject_begin(struct inject *in, unsigned t)
{
	*in = (struct inject){.k = chance(4) ? (long)rnd(4) : -1};
	if (in->k < 0)
		return;
	st_snapshot_take(R.sim, tree_of(t), &in->before);
	in->tables = sim_tables_in_use(R.sim);
	in->allocs = sim_alloc_count(R.sim, MMU_FRAME_TABLE);
	sim_fail_alloc_after(R.sim, MMU_FRAME_TABLE, in->k);
}

/* Returns the error the model must expect now (NOMEM when the call was
 * rightly refused). */
static mmu_err_t inject_end(struct inject *in, unsigned t, mmu_err_t got, mmu_err_t want)
{
	if (in->k < 0)
		return want;
	sim_fail_alloc_after(R.sim, MMU_FRAME_TABLE, -1);
	uint64_t made = sim_alloc_count(R.sim, MMU_FRAME_TABLE) - in->allocs;
	if (want == MMU_OK && got == MMU_E_NOMEM) {
		st_snapshot_take(R.sim, tree_of(t), &in->after);
		if (made != (uint64_t)in->k + 1)
			FAIL("NOMEM after %" PRIu64 " allocation attempts, %ld allowed", made, in->k);
		if (!st_snapshot_equal(&in->before, &in->after))
			FAIL("a call refused with NOMEM changed the tree");
		if (sim_tables_in_use(R.sim) != in->tables)
			FAIL("a call refused with NOMEM leaked %" PRId64 " tables",
			     (int64_t)(sim_tables_in_use(R.sim) - in->tables));
		R.counts[10]++;
		want = MMU_E_NOMEM;
	} else if (got == MMU_OK && made > (uint64_t)in->k) {
		FAIL("succeeded after %" PRIu64 " allocations with %ld allowed", made, in->k);
	}
	st_snapshot_free(&in->before);
	st_snapshot_free(&in->after);
	return want;
}

/* A VA in tree T's arena: near a random page of a random block (dense
 * enough that ranges meet each other), aligned to ALIGN. */
static mmu_vaddr_t pick_va(unsigned t, uint64_t align)
{
	const struct model *m = R.model[t];
	uint64_t off;
	if (chance(70)) {
		/* the first 32 MiB of each 1G region: crowded */
		off = rnd(4) * SZ_1G + rnd(16 * 512) * PAGE;
	} else {
		off = rnd(ARENA / PAGE) * PAGE;
	}
	off &= ~(align - 1);
	return m->base + off;
}

/* Mostly a VA the model has mapped in tree T's arena (a few tries), else
 * any VA there. */
static mmu_vaddr_t pick_mapped(unsigned t)
{
	mmu_vaddr_t va = pick_va(t, PAGE) + rnd(PAGE);
	for (unsigned i = 0; i < 24 && chance(97); i++) {
		if (model_lookup(R.model[t], va).present)
			break;
		va = pick_va(t, PAGE) + rnd(PAGE);
	}
	return va;
}

static uint64_t clamp_len(unsigned t, mmu_vaddr_t va, uint64_t len)
{
	uint64_t room = R.model[t]->base + ARENA - va;
	return len < room ? len : room;
}

static void do_map(unsigned t)
{
	struct model *m = R.model[t];
	struct mmu_map_opts o = {0};
	uint64_t va, len, pa_off;
	unsigned cls = (unsigned)rnd(100);
	if (cls < 55) { /* 4K-ish: a few pages */
		va = pick_va(t, PAGE);
		len = (1 + rnd(chance(80) ? 8 : 64)) * PAGE;
	} else if (cls < 85) { /* 2M leaves, maybe with 4K pages at either end */
		va = pick_va(t, SZ_2M) - (chance(30) ? rnd(4) * PAGE : 0);
		if (!in_arena(m, va))
			va = m->base;
		len = (1 + rnd(3)) * SZ_2M + (chance(30) ? rnd(8) * PAGE : 0);
	} else if (cls < 90) { /* a whole 1G leaf */
		va = m->base + rnd(4) * SZ_1G;
		len = SZ_1G;
	} else { /* a forced size */
		o.size = chance(50) ? MMU_SIZE_4K : MMU_SIZE_2M;
		va = pick_va(t, o.size == MMU_SIZE_2M ? SZ_2M : PAGE);
		len = (1 + rnd(2)) * SZ_2M;
		if (o.size == MMU_SIZE_2M && chance(10))
			va += PAGE; /* UNALIGNED */
	}
	len = clamp_len(t, va, len);
	/* PA congruent to VA modulo 1G most of the time (so huge leaves fit),
	 * else only modulo 4K; always inside the data frame. */
	uint64_t mod = chance(80) ? SZ_1G : PAGE;
	uint64_t slack = SZ_1G - len;
	pa_off = (va % mod) % SZ_1G;
	if (pa_off > slack)
		pa_off = slack & ~(PAGE - 1);
	else if (mod == PAGE)
		pa_off = rnd(slack / PAGE + 1) * PAGE;
	uint64_t pa = R.data.bits + pa_off;
	unsigned prot = (unsigned)rnd(16);
	if (chance(70))
		prot |= MMU_PROT_R;
	unsigned attr = 0;
	if (t == KTREE ? kernel_global && chance(20) : user_global && chance(6))
		attr |= 1, o.global = true;
	if (chance(10)) {
		unsigned c = (unsigned)(1 + rnd(2));
		attr |= c << 1;
		o.cache = c == 1 ? MMU_CACHE_WC : MMU_CACHE_UC;
	}
	if (chance(10)) {
		o.pkey = (unsigned)rnd(16);
		attr |= o.pkey << 3;
	}
	snprintf(R.desc, sizeof(R.desc), "map tree %u va 0x%" PRIx64 " pa 0x%" PRIx64 " len 0x%" PRIx64
		 " prot 0x%x size %u global %u cache %u pkey %u",
		 t, va, pa, len, prot, o.size, o.global, o.cache, o.pkey);
	mmu_err_t want = MMU_OK;
	uint64_t align = o.size ? mmu_size_bytes(o.size) : PAGE;
	if (va % align || pa % align || len % align)
		want = MMU_E_UNALIGNED;
	else if (!(prot & MMU_PROT_R))
		want = MMU_E_INVALID_PERMISSION;
	else if (model_any(m, va, len))
		want = MMU_E_DUPLICATED;
	struct inject in;
	inject_begin(&in, t);
	/* Default options go in as NULL half the time: that is the call the
	 * single-page paths (src/page.c) take. */
	bool plain = !o.size && !o.global && !o.cache && !o.pkey && chance(50);
	mmu_err_t got = mmu_map(tree_of(t), va, mmu_pa(pa), len, prot, plain ? NULL : &o, NULL);
	trace(t, va, len, got);
	want = inject_end(&in, t, got, want);
	expect_err(got, want);
	if (want == MMU_OK)
		model_map(m, va, pa, len, prot, attr, o.size);
	R.counts[want == MMU_OK ? 0 : 1]++;
}

/* Unmap or protect; BATCH may be NULL. */
static void do_change(unsigned t, bool unmap, struct mmu_tlb_batch *batch)
{
	struct model *m = R.model[t];
	uint64_t va, len;
	unsigned cls = (unsigned)rnd(100);
	if (cls < 50) {
		va = pick_va(t, PAGE);
		len = (1 + rnd(16)) * PAGE;
	} else if (cls < 80) {
		va = pick_va(t, PAGE);
		len = (1 + rnd(1024)) * PAGE; /* up to 4 MiB, crossing 2M leaves */
	} else if (cls < 95) {
		va = pick_va(t, SZ_2M);
		len = (1 + rnd(4)) * SZ_2M;
	} else {
		va = m->base + rnd(4) * SZ_1G + (chance(50) ? rnd(512) * SZ_2M : 0);
		len = SZ_1G;
	}
	len = clamp_len(t, va, len);
	unsigned prot = (unsigned)rnd(16) | (chance(90) ? MMU_PROT_R : 0);
	snprintf(R.desc, sizeof(R.desc), "%s tree %u va 0x%" PRIx64 " len 0x%" PRIx64 " prot 0x%x%s",
		 unmap ? "unmap" : "protect", t, va, len, prot, batch ? " (batched)" : "");
	mmu_err_t want = MMU_OK;
	if (!unmap && !(prot & MMU_PROT_R))
		want = MMU_E_INVALID_PERMISSION;
	else if (!model_any(m, va, len))
		want = MMU_E_NOTEXIST;
	struct inject in;
	inject_begin(&in, t);
	mmu_err_t got = unmap ? mmu_unmap(tree_of(t), va, len, batch) : mmu_protect(tree_of(t), va, len, prot, batch);
	trace(t, va & ~(SZ_2M - 1), ((va + len + SZ_2M - 1) & ~(SZ_2M - 1)) - (va & ~(SZ_2M - 1)), got);
	want = inject_end(&in, t, got, want);
	expect_err(got, want);
	if (want == MMU_OK)
		model_change(m, va, len, unmap, prot);
	R.counts[unmap ? 2 : 3]++;
}

/* Calls that must be refused before anything is looked at. */
static void do_invalid(unsigned t)
{
	struct mmu_tree *tree = tree_of(t);
	mmu_vaddr_t hole = 1ull << (mmu_va_bits(R.levels) - 1);
	mmu_vaddr_t other = t == KTREE ? USER_BASE : KERN_BASE; /* the wrong half for T */
	mmu_pa_t pa = R.data;
	uint64_t va = pick_va(t, PAGE);
	struct mmu_map_opts bad_key = {.pkey = 16};
	struct {
		mmu_vaddr_t va;
		uint64_t len;
		mmu_err_t want;
		const struct mmu_map_opts *o;
	} c[] = {
		{hole, PAGE, MMU_E_INVALID, NULL},
		{hole - PAGE, 2 * PAGE, MMU_E_INVALID, NULL},
		/* from the user half's last page to a canonical kernel-half byte */
		{hole - PAGE, mmu_va_canonicalize(hole, R.levels) - hole + 2 * PAGE, MMU_E_INVALID, NULL},
		{other, PAGE, MMU_E_INVALID, NULL},
		{va, 0, MMU_E_INVALID, NULL},
		{~0ull - PAGE + 1, 2 * PAGE, MMU_E_INVALID, NULL}, /* wraps */
		{va, PAGE, MMU_E_INVALID, &bad_key},
		{va + 0x10, PAGE, MMU_E_UNALIGNED, NULL},
		{va, PAGE + 8, MMU_E_UNALIGNED, NULL},
	};
	unsigned i = (unsigned)rnd(sizeof(c) / sizeof(c[0]));
	unsigned what = (unsigned)rnd(3);
	snprintf(R.desc, sizeof(R.desc), "invalid case %u op %u tree %u va 0x%" PRIx64 " len 0x%" PRIx64, i, what, t,
		 c[i].va, c[i].len);
	if (what == 0)
		expect_err(mmu_map(tree, c[i].va, pa, c[i].len, MMU_PROT_R, c[i].o, NULL), c[i].want);
	else if (c[i].o)
		return;
	else if (what == 1)
		expect_err(mmu_unmap(tree, c[i].va, c[i].len, NULL), c[i].want);
	else
		expect_err(mmu_protect(tree, c[i].va, c[i].len, MMU_PROT_R, NULL), c[i].want);
	R.counts[4]++;
}

static void do_load(void)
{
	unsigned cpu = (unsigned)rnd(R.ncpus), t = (unsigned)rnd(NTREES + 1);
	snprintf(R.desc, sizeof(R.desc), "load cpu %u tree %u", cpu, t);
	st_load(R.sim, cpu, tree_of(t));
	R.loaded[cpu] = t;
	if (trace_va != 1)
		fprintf(stderr, "  trace op %lu: %s\n", R.op, R.desc);
	for (unsigned u = 0; u <= KTREE; u++)
		if (mmu_tree_active_on(tree_of(u), cpu) != (u == t))
			FAIL("mmu_tree_active_on(tree %u, cpu %u) wrong", u, cpu);
	R.counts[5]++;
}

static void check_tables(void)
{
	uint64_t user = 0;
	for (unsigned t = 0; t < NTREES; t++) {
		uint64_t want = model_tables(R.model[t], R.levels - 1);
		uint64_t raw = st_count_tables(R.sim, &R.trees[t]);
		if (raw != want)
			FAIL("tree %u holds %" PRIu64 " tables, the model needs %" PRIu64, t, raw, want);
		user += want;
	}
	if ((uint64_t)mmu_user_tables(R.mmu) != user)
		FAIL("mmu_user_tables %" PRId64 ", expected %" PRIu64, mmu_user_tables(R.mmu), user);
	/* The kernel half: its root, the 256 shared top tables, and below. */
	uint64_t kwant = 256 + model_tables(R.model[KTREE], R.levels - 2);
	uint64_t kraw = st_count_tables(R.sim, mmu_kernel_tree(R.mmu));
	if (kraw != kwant)
		FAIL("kernel half holds %" PRIu64 " tables, the model needs %" PRIu64, kraw, kwant);
	if (sim_tables_in_use(R.sim) != R.kernel_tables0 - 257 + kwant + user)
		FAIL("sim_tables_in_use %" PRIu64 ", expected %" PRIu64, sim_tables_in_use(R.sim),
		     R.kernel_tables0 - 257 + kwant + user);
}

static void do_drop(void)
{
	unsigned t = (unsigned)rnd(NTREES);
	bool busy = false;
	for (unsigned c = 0; c < R.ncpus; c++)
		busy |= R.loaded[c] == t;
	snprintf(R.desc, sizeof(R.desc), "drop tree %u (busy %u)", t, busy);
	uint64_t tables = sim_tables_in_use(R.sim);
	uint64_t mine = model_tables(R.model[t], R.levels - 1);
	expect_err(mmu_tree_destroy(&R.trees[t]), busy ? MMU_E_BUSY : MMU_OK);
	if (busy) {
		if (sim_tables_in_use(R.sim) != tables)
			FAIL("a refused destroy freed tables");
		return;
	}
	if (sim_tables_in_use(R.sim) != tables - mine)
		FAIL("destroy freed %" PRIu64 " tables, the tree held %" PRIu64, tables - sim_tables_in_use(R.sim),
		     mine);
	model_clear(R.model[t]);
	expect_err(mmu_tree_create(R.mmu, &R.trees[t]), MMU_OK);
	R.counts[6]++;
}

static void check_everything(void)
{
	check_tables();
	/* Walk one random page of every block of every tree. */
	for (unsigned t = 0; t <= KTREE; t++)
		for (uint64_t i = 0; i < NBLK; i++)
			check_walk(t, R.model[t]->base + i * SZ_2M + rnd(512) * PAGE + rnd(PAGE));
}

static void one_op(void)
{
	unsigned cpu = (unsigned)rnd(R.ncpus);
	sim_set_cpu(R.sim, cpu); /* library calls run on a random CPU */
	unsigned t = (unsigned)rnd(NTREES + 1);
	unsigned k = (unsigned)rnd(1000);
	if (k < 220) {
		do_map(t);
	} else if (k < 340) {
		do_change(t, true, NULL);
	} else if (k < 450) {
		do_change(t, false, NULL);
	} else if (k < 480) {
		/* several changes in one batch, one flush */
		struct mmu_tlb_batch b;
		mmu_tlb_batch_init(&b, tree_of(t));
		unsigned n = 2 + (unsigned)rnd(3);
		for (unsigned i = 0; i < n; i++)
			do_change(t, chance(50), &b);
		mmu_tlb_flush(&b);
		mmu_tlb_batch_done(&b);
	} else if (k < 500) {
		do_invalid(t);
	} else if (k < 600) {
		/* sometimes the other half: the kernel window from a user tree,
		 * a user address in the kernel tree */
		unsigned where = chance(20) ? (t == KTREE ? 0 : KTREE) : t;
		check_walk(t, pick_mapped(where));
		R.counts[7]++;
	} else if (k < 960) {
		unsigned c = (unsigned)rnd(R.ncpus);
		unsigned lt = R.loaded[c];
		unsigned where = lt == KTREE ? (chance(80) ? KTREE : (unsigned)rnd(NTREES)) : (chance(25) ? KTREE : lt);
		check_access(c, pick_mapped(where));
	} else if (k < 995) {
		do_load();
	} else {
		do_drop();
	}
	check_sanitizer();
}

static void setup(uint64_t seed)
{
	memset(&R, 0, sizeof(R));
	R.seed = seed;
	st_rng_seed(&R.rng, seed);
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.levels = chance(50) ? 5 : 4;
	cfg.ncpus = 2 + (unsigned)rnd(3);
	cfg.nx = chance(85);
	cfg.smep = chance(85);
	cfg.smap = chance(85);
	cfg.wp = chance(85);
	cfg.mem = SZ_1G;
	cfg.pcide = chance(50);
	cfg.no_invpcid = cfg.pcide && chance(50);
	R.sim = st_machine(&cfg);
	R.mmu = sim_mmu(R.sim);
	R.levels = cfg.levels;
	R.ncpus = cfg.ncpus;
	R.mode = st_mode_of(&cfg);
	R.kernel_tables0 = sim_tables_in_use(R.sim);
	if (sim_frame_alloc(R.sim, MMU_SIZE_1G, &R.data) != MMU_OK)
		FAIL("no 1G data frame");
	for (unsigned t = 0; t <= KTREE; t++) {
		R.model[t] = calloc(1, sizeof(*R.model[t]));
		R.model[t]->base = t == KTREE ? KERN_BASE : USER_BASE;
		R.model[t]->kernel = t == KTREE;
	}
	for (unsigned t = 0; t < NTREES; t++)
		expect_err(mmu_tree_create(R.mmu, &R.trees[t]), MMU_OK);
	for (unsigned c = 0; c < R.ncpus; c++)
		R.loaded[c] = KTREE;
	printf("seed 0x%" PRIx64 ": levels=%u cpus=%u nx=%u smep=%u smap=%u wp=%u pcid=%u invpcid=%u\n", seed,
	       cfg.levels, cfg.ncpus, cfg.nx, cfg.smep, cfg.smap, cfg.wp, cfg.pcide, cfg.pcide && !cfg.no_invpcid);
}

static void teardown(void)
{
	sim_set_cpu(R.sim, 0);
	snprintf(R.desc, sizeof(R.desc), "teardown");
	for (unsigned c = 0; c < R.ncpus; c++) {
		st_load(R.sim, c, mmu_kernel_tree(R.mmu));
		R.loaded[c] = KTREE;
	}
	for (unsigned t = 0; t <= KTREE; t++) {
		bool any = model_any(R.model[t], R.model[t]->base, ARENA);
		expect_err(mmu_unmap(tree_of(t), R.model[t]->base, ARENA, NULL), any ? MMU_OK : MMU_E_NOTEXIST);
		model_clear(R.model[t]);
	}
	check_tables();
	if (mmu_user_tables(R.mmu) != NTREES)
		FAIL("%" PRId64 " user tables left for %u empty trees", mmu_user_tables(R.mmu), NTREES);
	for (unsigned t = 0; t < NTREES; t++)
		expect_err(mmu_tree_destroy(&R.trees[t]), MMU_OK);
	if (mmu_user_tables(R.mmu) != 0 || sim_tables_in_use(R.sim) != R.kernel_tables0)
		FAIL("tables left after teardown: user %" PRId64 ", in use %" PRIu64 " (started with %" PRIu64 ")",
		     mmu_user_tables(R.mmu), sim_tables_in_use(R.sim), R.kernel_tables0);
	sim_frame_free(R.sim, MMU_SIZE_1G, R.data);
	if (sim_frames_in_use(R.sim) != 0)
		FAIL("data frames left");
	check_sanitizer();
	for (unsigned t = 0; t <= KTREE; t++)
		free(R.model[t]);
	sim_destroy(R.sim);
}

static void run(uint64_t seed, unsigned long ops)
{
	setup(seed);
	for (R.op = 0; R.op < ops; R.op++) {
		one_op();
		if (R.op % 5000 == 4999)
			check_everything();
	}
	check_everything();
	struct mmu_counters c = mmu_counters_take(R.mmu);
	printf("  %lu ops: map %lu (refused %lu) unmap %lu protect %lu invalid %lu NOMEM %lu walk %lu access ok %lu "
	       "fault %lu load %lu drop %lu; invlpg %" PRIu64 " full %" PRIu64 " ipis %" PRIu64 "\n",
	       ops, R.counts[0] + R.counts[1], R.counts[1], R.counts[2], R.counts[3], R.counts[4], R.counts[10],
	       R.counts[7], R.counts[8], R.counts[9], R.counts[5], R.counts[6], c.invlpg, c.full, c.ipis);
	/* A run that never got past the checks proves nothing. */
	if (R.counts[0] < ops / 20 || R.counts[8] < ops / 50 || R.counts[9] < ops / 50 || c.ipis == 0 ||
	    R.counts[10] < ops / 5000)
		FAIL("the run exercised too little");
	teardown();
}

int test_main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* the seed line before any failure */
	if (getenv("PROPERTY_NO_KERNEL_GLOBAL"))
		kernel_global = false;
	if (getenv("PROPERTY_NO_USER_GLOBAL"))
		user_global = false;
	if (getenv("PROPERTY_TRACE"))
		trace_va = strtoull(getenv("PROPERTY_TRACE"), NULL, 0);
	if (argc > 1) {
		uint64_t seed = strtoull(argv[1], NULL, 0);
		unsigned long ops = argc > 2 ? strtoul(argv[2], NULL, 0) : 100000;
		run(seed, ops);
		return 0;
	}
	/* Fixed seeds for CI (machines with 4 and 5 levels, 2-4 CPUs). */
	static const uint64_t seeds[] = {0x6d6d753634ull, 0x1badb002ull, 0x5eed0003ull,
					 0xc0ffee04ull,   0x7e57ab1eull, 0xdecade06ull};
	for (unsigned i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		run(seeds[i], 120000);
	return 0;
}
