/* libFuzzer harness over random operation sequences on the library, on the
 * software machine with the TLB sanitizer. The first byte picks the half:
 *
 *   even: the property test (tests/unit/test_property.c) with its random
 *         choices taken from the input instead of its PRNG: map, unmap,
 *         protect (sizes, options, batches, injected NOMEM), walks, invalid
 *         calls, loads and accesses on 2-4 CPUs over three user trees and
 *         the kernel window, drops; every result checked against the
 *         reference model (refmodel.c) and the sanitizer, then the full
 *         check and the teardown's accounting;
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
