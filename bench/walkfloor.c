/* SPDX-License-Identifier: MIT */
/* C2 walk floor: W2's walk (65,536 pages in a sparse 4-level tree, walked
 * in the shuffled order) from the bare loads to the library, one step at
 * a time, so that W2's `walk-locked` over `walk-raw` can be read: what a
 * walk must do costs time even with no library around it. Rows:
 *
 *   checked-inline  the loads, each entry tested as the hardware tests it
 *                   (present; a 1G or 2M leaf ends the walk), and the
 *                   translation (address, size, permissions folded over
 *                   the levels, the leaf) computed, in the caller's loop;
 *   checked-call    the same walk in a function of its own, which writes
 *                   the translation to the caller's struct;
 *   checked-cached  that function with the library's one-entry cache of
 *                   the last page table: tested first, filled by a walk;
 *   library         mmu_walk_locked.
 *
 * Each loop adds every field of the answer to a checksum, so that none is
 * optimized away. A row is timed right after a pass of the bare loads (the
 * loads of W2's `walk-raw`), and reports the median over the repetitions
 * of its time over that pass's: alternating, the two see the same machine
 * speed, which drifts. At least 11 repetitions. Not a phase of
 * docs/BENCH.md: a reference, like `walk-raw`. */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "bench/vmbench.h"
#include "sim/sim.h"

#define C2_MIN_REPS 11u

/* The library's cache of the last page table a walk went through. */
struct floor_cache {
	mmu_vaddr_t base; /* the VA its first entry maps; 1: none */
	const mmu_pte_t *entries;
	uint64_t upper; /* the entries above it, each with XD inverted, ANDed */
};

struct floor {
	struct sim *sim;
	const struct mmu_tree *tree;
	const uint8_t *arena; /* physical address 0 */
	const mmu_pte_t *root;
	const mmu_vaddr_t *va;
	const uint32_t *order;
	uint64_t n;
};

static const mmu_pte_t *floor_table(const struct floor *f, mmu_pte_t e)
{
	return (const mmu_pte_t *)(f->arena + (e & MMU_PTE_ADDR_MASK));
}

/* The MMU_PROT_* of a leaf by its folded bits rotated left by one (the
 * library's trick: not-XD lands on bit 0, RW on bit 2, US on bit 3), a
 * lookup. */
#define FLOOR_PROT(i)                                                                                               \
	(MMU_PROT_R | ((i) & 1 ? MMU_PROT_X : 0) | ((i) & 4 ? MMU_PROT_W : 0) | ((i) & 8 ? MMU_PROT_U : 0))
static const uint8_t floor_prot[16] = {
	FLOOR_PROT(0), FLOOR_PROT(1), FLOOR_PROT(2),  FLOOR_PROT(3),  FLOOR_PROT(4),  FLOOR_PROT(5),
	FLOOR_PROT(6), FLOOR_PROT(7), FLOOR_PROT(8),  FLOOR_PROT(9),  FLOOR_PROT(10), FLOOR_PROT(11),
	FLOOR_PROT(12), FLOOR_PROT(13), FLOOR_PROT(14), FLOOR_PROT(15)};

/* The translation of VA through leaf E (OFFSET: the leaf's span - 1),
 * UPPER the entries above it, each with XD inverted, ANDed: so RW and US
 * are ANDed over the levels and XD ORed. */
static inline __attribute__((always_inline)) void floor_answer(mmu_vaddr_t va, mmu_pte_t e, uint64_t upper,
							     uint64_t offset, enum mmu_size size,
							     struct mmu_translation *out)
{
	uint64_t allow = upper & (e ^ MMU_PTE_XD);
	out->pa = mmu_pa((e & MMU_PTE_ADDR_MASK & ~offset) | (va & offset));
	out->size = size;
	out->prot = floor_prot[(allow << 1 | allow >> 63) & 0xd];
	out->leaf = e;
}

/* One checked walk of VA; false for a hole. CACHE (or NULL) gets the page
 * table the walk went through. */
static inline __attribute__((always_inline)) bool floor_walk(const struct floor *f, mmu_vaddr_t va,
							    struct floor_cache *cache, struct mmu_translation *out)
{
	mmu_pte_t e4 = f->root[(va >> 39) & 511];
	if (!(e4 & MMU_PTE_P))
		return false;
	mmu_pte_t e3 = floor_table(f, e4)[(va >> 30) & 511];
	if (!(e3 & MMU_PTE_P))
		return false;
	if (e3 & MMU_PTE_PS) {
		floor_answer(va, e3, e4 ^ MMU_PTE_XD, (1ull << 30) - 1, MMU_SIZE_1G, out);
		return true;
	}
	mmu_pte_t e2 = floor_table(f, e3)[(va >> 21) & 511];
	if (!(e2 & MMU_PTE_P))
		return false;
	if (e2 & MMU_PTE_PS) {
		floor_answer(va, e2, (e4 ^ MMU_PTE_XD) & (e3 ^ MMU_PTE_XD), (1ull << 21) - 1, MMU_SIZE_2M, out);
		return true;
	}
	const mmu_pte_t *pt = floor_table(f, e2);
	mmu_pte_t e1 = pt[(va >> 12) & 511];
	uint64_t upper = (e4 ^ MMU_PTE_XD) & (e3 ^ MMU_PTE_XD) & (e2 ^ MMU_PTE_XD);
	if (cache)
		*cache = (struct floor_cache){.base = va & ~((1ull << 21) - 1), .entries = pt, .upper = upper};
	if (!(e1 & MMU_PTE_P))
		return false;
	floor_answer(va, e1, upper, (1ull << 12) - 1, MMU_SIZE_4K, out);
	return true;
}

static uint64_t floor_sum(const struct mmu_translation *t)
{
	return t->pa.bits + t->size + t->prot + t->leaf;
}

static void floor_must(bool ok, mmu_vaddr_t va)
{
	if (!ok) {
		fprintf(stderr, "bench C2: no translation of %#llx\n", (unsigned long long)va);
		exit(1);
	}
}

__attribute__((noinline)) static uint64_t floor_checked_inline(const struct floor *f)
{
	uint64_t sum = 0;
	struct mmu_translation t;
	for (uint64_t i = 0; i < f->n; i++) {
		mmu_vaddr_t va = f->va[f->order[i]];
		floor_must(floor_walk(f, va, NULL, &t), va);
		sum += floor_sum(&t);
	}
	return sum;
}

__attribute__((noinline)) static bool floor_walk_call(const struct floor *f, mmu_vaddr_t va,
						      struct mmu_translation *out)
{
	return floor_walk(f, va, NULL, out);
}

__attribute__((noinline)) static uint64_t floor_checked_call(const struct floor *f)
{
	uint64_t sum = 0;
	struct mmu_translation t;
	for (uint64_t i = 0; i < f->n; i++) {
		mmu_vaddr_t va = f->va[f->order[i]];
		floor_must(floor_walk_call(f, va, &t), va);
		sum += floor_sum(&t);
	}
	return sum;
}

/* A walk that first looks in CACHE, as the library's single-page walk
 * does (W2's random pages never find their table there). */
__attribute__((noinline)) static bool floor_walk_cached(const struct floor *f, struct floor_cache *cache,
							mmu_vaddr_t va, struct mmu_translation *out)
{
	if ((va & ~((1ull << 21) - 1)) == cache->base) {
		mmu_pte_t e = cache->entries[(va >> 12) & 511];
		if (!(e & MMU_PTE_P))
			return false;
		floor_answer(va, e, cache->upper, (1ull << 12) - 1, MMU_SIZE_4K, out);
		return true;
	}
	return floor_walk(f, va, cache, out);
}

__attribute__((noinline)) static uint64_t floor_checked_cached(const struct floor *f)
{
	uint64_t sum = 0;
	struct mmu_translation t;
	struct floor_cache cache = {.base = 1};
	for (uint64_t i = 0; i < f->n; i++) {
		mmu_vaddr_t va = f->va[f->order[i]];
		floor_must(floor_walk_cached(f, &cache, va, &t), va);
		sum += floor_sum(&t);
	}
	return sum;
}

__attribute__((noinline)) static uint64_t floor_library(const struct floor *f, struct mmu_tree_locked h)
{
	uint64_t sum = 0;
	struct mmu_translation t;
	for (uint64_t i = 0; i < f->n; i++) {
		mmu_vaddr_t va = f->va[f->order[i]];
		floor_must(mmu_walk_locked(h, va, &t) == MMU_OK, va);
		sum += floor_sum(&t);
	}
	return sum;
}

/* The walk the rows time answers as the library does, for every page
 * (else the rows would not compare like with like). */
static void floor_check(const struct floor *f, struct mmu_tree_locked h)
{
	for (uint64_t i = 0; i < f->n; i++) {
		struct mmu_translation want, got;
		mmu_vaddr_t va = f->va[i];
		floor_must(floor_walk(f, va, NULL, &got) && mmu_walk_locked(h, va, &want) == MMU_OK, va);
		if (got.pa.bits != want.pa.bits || got.size != want.size || got.prot != want.prot || got.leaf != want.leaf) {
			fprintf(stderr, "bench C2: %#llx: pa %#llx size %u prot %#x, the library's %#llx %u %#x\n",
				(unsigned long long)va, (unsigned long long)got.pa.bits, (unsigned)got.size, got.prot,
				(unsigned long long)want.pa.bits, (unsigned)want.size, want.prot);
			exit(1);
		}
	}
}

enum { FLOOR_INLINE, FLOOR_CALL, FLOOR_CACHED, FLOOR_LIBRARY, FLOOR_ROWS };
static const char *const floor_rows[FLOOR_ROWS] = {"checked-inline", "checked-call", "checked-cached", "library"};

static uint64_t floor_run(const struct floor *f, struct mmu_tree_locked h, unsigned row)
{
	switch (row) {
	case FLOOR_INLINE:
		return floor_checked_inline(f);
	case FLOOR_CALL:
		return floor_checked_call(f);
	case FLOOR_CACHED:
		return floor_checked_cached(f);
	default:
		return floor_library(f, h);
	}
}

void bench_c2(const struct bench_opts *o)
{
	const uint64_t n = o->small ? 1024 : 65536;
	unsigned reps = bench_vm_reps(o) < C2_MIN_REPS ? C2_MIN_REPS : bench_vm_reps(o);
	struct sim *sim = bench_machine(1, false, !o->small, false);
	if (sim_mmu(sim)->levels != 4) {
		fprintf(stderr, "bench C2: the reference walk is 4-level\n");
		exit(1);
	}
	mmu_vaddr_t *va = malloc(n * sizeof(*va));
	uint32_t *order = malloc(n * sizeof(*order));
	double *ratio[FLOOR_ROWS], *raw_ns = malloc(reps * sizeof(double));
	for (unsigned r = 0; r < FLOOR_ROWS; r++)
		ratio[r] = malloc(reps * sizeof(double));
	if (!va || !order || !raw_ns || !ratio[FLOOR_ROWS - 1]) {
		fprintf(stderr, "bench C2: out of memory\n");
		exit(1);
	}
	bench_w2_addresses(n, va, order);
	struct mmu_tree t;
	bench_vm_must("C2", mmu_tree_create(sim_mmu(sim), &t), "tree");
	struct mmu_tree_locked h = mmu_tree_lock(&t);
	for (uint64_t i = 0; i < n; i++)
		bench_vm_must("C2", mmu_map_locked(h, va[i], mmu_pa(0x100000000ull + i * 4096), 4096,
						   MMU_PROT_R | MMU_PROT_W | MMU_PROT_U, NULL, NULL),
			      "map");
	const uint8_t *arena = sim_phys(sim, mmu_pa(0));
	struct floor f = {.sim = sim, .tree = &t, .arena = arena, .root = (const mmu_pte_t *)(arena + mmu_tree_cr3(&t)),
			  .va = va, .order = order, .n = n};
	floor_check(&f, h);
	/* Untimed: every row then starts where a whole walk left the caches. */
	uint64_t sum = bench_w2_raw_walk(f.sim, f.tree, f.va, f.order, f.n);
	for (unsigned i = 0; i < reps; i++) {
		for (unsigned r = 0; r < FLOOR_ROWS; r++) {
			double t0 = bench_vm_now_ns();
			sum += bench_w2_raw_walk(f.sim, f.tree, f.va, f.order, f.n);
			double t1 = bench_vm_now_ns();
			sum += floor_run(&f, h, r);
			double t2 = bench_vm_now_ns();
			ratio[r][i] = (t2 - t1) / (t1 - t0);
			if (r == 0)
				raw_ns[i] = (t1 - t0) / (double)n;
		}
	}
	mmu_tree_unlock(h);
	bench_vm_must("C2", mmu_tree_destroy(&t), "destroy");
	char extra[64];
	snprintf(extra, sizeof(extra), "(checksum %llx)", (unsigned long long)sum);
	bench_vm_report(o, "C2", "raw", "ns/page", raw_ns, reps, extra);
	for (unsigned r = 0; r < FLOOR_ROWS; r++)
		bench_vm_report(o, "C2", floor_rows[r], "x-raw", ratio[r], reps, "");
	for (unsigned r = 0; r < FLOOR_ROWS; r++)
		free(ratio[r]);
	free(raw_ns);
	free(va);
	free(order);
	sim_destroy(sim);
}
