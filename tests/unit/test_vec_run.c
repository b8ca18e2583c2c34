/* The interpreter's driver with stub executors: skip, malformed, summary
 * and exit statuses, and a TLB sanitizer report failing the file. */
#include <string.h>

#include "check.h"
#include "sim/sim.h"
#include "tools/vec/vec.h"

static char out[4096];

static void capture(void *ctx, const char *line)
{
	(void)ctx;
	strncat(out, line, sizeof out - strlen(out) - 2);
	strcat(out, "\n");
}

/* A stub on the software machine: only what `space`, `stats`, `drop` and
 * the teardown need; the sanitizer reports FAKE_REPORTS. */
struct stub {
	struct sim *sim;
	const char *skip;
	unsigned fake_reports;
};

static const char *stub_setup(void *ctx, const struct vec_machine *m, struct mmu **mmu)
{
	struct stub *x = ctx;
	struct sim_config cfg;
	if (x->skip)
		return x->skip;
	sim_config_default(&cfg);
	cfg.ncpus = m->cpus;
	x->sim = sim_create(&cfg);
	*mmu = sim_mmu(x->sim);
	return NULL;
}

static uint64_t stub_frames(void *ctx)
{
	struct stub *x = ctx;
	return sim_frames_in_use(x->sim);
}

static void stub_run_on_cpu(void *ctx, unsigned cpu, vec_cpu_fn fn, void *arg)
{
	struct stub *x = ctx;
	sim_set_cpu(x->sim, cpu);
	fn(arg);
	sim_set_cpu(x->sim, 0);
}

static unsigned stub_reports(void *ctx, const char **last)
{
	struct stub *x = ctx;
	*last = "stale translation of 0x1000";
	return x->fake_reports;
}

static void stub_teardown(void *ctx)
{
	struct stub *x = ctx;
	sim_destroy(x->sim);
}

static const struct vec_exec_ops stub_ops = {
	.setup = stub_setup,
	.frames_in_use = stub_frames,
	.run_on_cpu = stub_run_on_cpu,
	.sanitizer_reports = stub_reports,
	.teardown = stub_teardown,
};

static int run(struct stub *x, const char *text)
{
	static struct vec_session session;
	struct vec_io io = {.file = "t.mmu", .text = text, .len = strlen(text), .out = capture};
	out[0] = '\0';
	return vec_run(&session, &io, &stub_ops, x);
}

int test_main(int argc, char **argv)
{
	struct stub x = {0};
	(void)argc;
	(void)argv;

	CHECK_EQ(run(&x, "space A\nstats => ok tables=1 frames=0\nstats\n"), VEC_PASSED);
	CHECK(strcmp(out, "1: ok\n2: ok tables=1 frames=0\n3: ok tables=1 frames=0\n1 passed, 0 failed\n") == 0);

	CHECK_EQ(run(&x, "space A\nstats =>  ok   tables=2 frames=0\n"), VEC_FAILED);
	CHECK(strstr(out, "2: ok tables=1 frames=0 (expected ok tables=2 frames=0) FAIL\n0 passed, 1 failed\n"));

	CHECK_EQ(run(&x, "space A\nspace A => ok\n"), VEC_FAILED);
	CHECK(strstr(out, "2: error DUPLICATED (expected ok) FAIL\n"));

	/* A malformed line anywhere: nothing runs, not even line 1. */
	CHECK_EQ(run(&x, "space A\nstats\nfrobnicate\n"), VEC_MALFORMED);
	CHECK(strcmp(out, "t.mmu:3: unknown command `frobnicate` (`mmu64 --help` lists the commands)\n") == 0);

	x.skip = "no LA57";
	CHECK_EQ(run(&x, "machine levels=5\nspace A => ok\n"), VEC_PASSED);
	CHECK(strcmp(out, "skip no LA57\n0 passed, 0 failed\n") == 0);
	x.skip = NULL;

	/* A sanitizer report fails the file on the line that caused it. */
	x.fake_reports = 1;
	CHECK_EQ(run(&x, "space A => ok\n"), VEC_FAILED);
	CHECK(strstr(out, "1: ok\n1: tlbsan: 1 report(s), last: stale translation of 0x1000 FAIL\n"));
	CHECK(strstr(out, "1 passed, 1 failed\n"));
	return 0;
}
