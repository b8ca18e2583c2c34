/* SPDX-License-Identifier: MIT */
/* libFuzzer harness over random operation sequences on the library, on the
 * software machine with the TLB sanitizer. The first byte picks the half:
 *
 *   even: the property test (tests/unit/test_property.c) with its random
 *         choices taken from the input instead of its PRNG: map, unmap,
 *         protect (sizes, options, batches, injected NOMEM), walks, invalid
 *         calls, loads and accesses on 2-4 CPUs over three user trees and
 *         the kernel window, drops; every result checked against the
 *         reference model (refmodel.c) and the sanitizer, then the full
 *         check, the dump, mmu_leaves over every tree and the teardown's
 *         accounting;
 *   odd:  process spaces (fuzz_procs.c): region add/remove/protect,
 *         faults on several CPUs, fork, exit, with PCIDs and KPTI, against
 *         a model of each process's memory.
 *
 * Any mismatch traps. `build/fuzz/fuzz-ops FILE` replays an input;
 * FUZZ_OPS_VERBOSE=1 keeps the property test's stdout; its PROPERTY_TRACE
 * and PROPERTY_NO_KERNEL_GLOBAL work as in test_property. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz_bytes.h"

struct fuzz_bytes fuzz_in;

/* The property test, compiled here with two changes made from outside:
 * its PRNG draws from the input, and its failure exit traps. */
struct st_rng;
uint64_t fuzz_rng_below(struct st_rng *r, uint64_t n);
_Noreturn void fuzz_property_failed(int status);
#define st_rng_below fuzz_rng_below
#define exit(status) fuzz_property_failed(status)
#include "tests/unit/test_property.c"
#undef exit
#undef st_rng_below

/* check.c's counters (its main is libFuzzer's here); simtest.c uses them. */
int check_failures;
atomic_int check_thread_failures;

uint64_t fuzz_rng_below(struct st_rng *r, uint64_t n)
{
	(void)r;
	return fuzz_below(n);
}

_Noreturn void fuzz_property_failed(int status)
{
	fprintf(stderr, "fuzz-ops: the property test failed (exit %d)\n", status);
	__builtin_trap();
}

/* ---- the dump and the W+X audit over the trees the run built ---- */

static void count_line(void *ctx, const char *line)
{
	if (!line[0])
		FAIL("an empty dump line");
	(*(size_t *)ctx)++;
}

/* Does the model hold a leaf that is writable and executable? */
static bool model_has_wx(const struct model *m)
{
	unsigned wx = MMU_PROT_W | MMU_PROT_X;
	for (uint64_t i = 0; i < NBLK; i++) {
		const struct mblock *b = &m->b[i];
		if ((b->kind == B_2M || b->kind == B_1G) && (effective_prot(0, b->prot) & wx) == wx)
			return true;
		if (b->kind == B_SMALL)
			for (unsigned j = 0; j < 512; j++)
				if (b->pages[j].present && (effective_prot(0, b->pages[j].prot) & wx) == wx)
					return true;
	}
	return false;
}

/* mmu_dump prints a line for something exactly when the model holds a
 * leaf; mmu_audit_wx finds a run exactly when the model holds a W+X leaf. */
static void check_dump_and_audit(void)
{
	for (unsigned t = 0; t <= KTREE; t++) {
		const struct model *m = R.model[t];
		size_t lines = 0, audit_lines = 0;
		snprintf(R.desc, sizeof(R.desc), "dump and W+X audit of tree %u", t);
		mmu_dump(tree_of(t), m->base, m->base + ARENA, count_line, &lines);
		size_t runs = mmu_audit_wx(tree_of(t), m->base, m->base + ARENA, count_line, &audit_lines);
		bool any = model_any(m, m->base, ARENA), wx = model_has_wx(m);
		if ((lines > 0) != any || (runs > 0) != wx || audit_lines != runs)
			FAIL("dump printed %zu lines, the audit found %zu W+X runs (%zu lines); the model has %s leaves, "
			     "%s W+X", lines, runs, audit_lines, any ? "some" : "no", wx ? "some" : "none");
	}
}

/* ---- mmu_leaves over each tree's arena, leaf by leaf against the model ---- */

struct leaves_cursor {
	unsigned t;
	const struct model *m;
	mmu_vaddr_t va; /* the model's next leaf is searched from here */
};

static bool leaf_against_model(void *ctx, mmu_vaddr_t va, const struct mmu_translation *tr)
{
	struct leaves_cursor *c = ctx;
	struct mleaf l;
	if (!model_next_leaf(c->m, &c->va, c->m->base + ARENA, &l))
		FAIL("mmu_leaves reported 0x%" PRIx64 ", the model has no leaf from 0x%" PRIx64, va, c->va);
	if (va != c->va || tr->pa.bits != l.pa || tr->size != l.size || tr->prot != effective_prot(c->t, l.prot))
		FAIL("mmu_leaves reported 0x%" PRIx64 " pa 0x%" PRIx64 " size %u prot 0x%x; the model 0x%" PRIx64
		     " pa 0x%" PRIx64 " size %u prot 0x%x",
		     va, tr->pa.bits, tr->size, tr->prot, c->va, l.pa, l.size, effective_prot(c->t, l.prot));
	c->va = model_leaf_end(va, &l);
	return true;
}

/* Every leaf the model holds, in order, and nothing else. */
static void check_leaves(void)
{
	for (unsigned t = 0; t <= KTREE; t++) {
		struct leaves_cursor c = {.t = t, .m = R.model[t], .va = R.model[t]->base};
		struct mleaf l;
		snprintf(R.desc, sizeof(R.desc), "mmu_leaves over tree %u's arena", t);
		expect_err(mmu_leaves(tree_of(t), c.m->base, ARENA, leaf_against_model, &c), MMU_OK);
		if (model_next_leaf(c.m, &c.va, c.m->base + ARENA, &l))
			FAIL("mmu_leaves missed the leaf at 0x%" PRIx64, c.va);
	}
}

/* Operations per input: the input ends the run sooner. */
#define PROPERTY_MAX_OPS 4000

static void property_run(void)
{
	setup(fuzz_below(1u << 16));
	/* The full check walks a page of every 2M block of every tree: most
	 * of a short run's time, so one input in four asks for it; the
	 * others count the tables (the teardown checks them again). */
	bool full = fuzz_chance(25);
	for (R.op = 0; R.op < PROPERTY_MAX_OPS && fuzz_more(); R.op++)
		one_op();
	if (full)
		check_everything();
	else
		check_tables();
	check_dump_and_audit();
	check_leaves();
	teardown();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* setup() prints a line per run; stderr keeps the failures. */
	if (!getenv("FUZZ_OPS_VERBOSE") && !freopen("/dev/null", "w", stdout))
		return 0;
	if (getenv("PROPERTY_NO_KERNEL_GLOBAL"))
		kernel_global = false;
	if (getenv("PROPERTY_TRACE"))
		trace_va = strtoull(getenv("PROPERTY_TRACE"), NULL, 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fuzz_in = (struct fuzz_bytes){data + 1, size - 1};
	if (data[0] & 1)
		fuzz_procs_run();
	else
		property_run();
	return 0;
}
