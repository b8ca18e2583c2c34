/* SPDX-License-Identifier: MIT */
/* The interpreter's driver with stub executors: skip, malformed, summary
 * and exit statuses, a TLB sanitizer report failing the file, and the user
 * CR3 of kpti=1 taken on the CPU that loaded the process. */
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

/* ---- kpti=1 on a machine with PCIDs ----
 * The user CR3 a `load` hands the executor must be the loading CPU's: the
 * shadow under that CPU's PCID of the space | MMU_PCID_USER. It used to
 * be computed on CPU 0, which has no PCID for a space it does not run. */
struct kpti_stub {
	struct sim *sim;
	unsigned sets;
	unsigned cpu[8];
	uint64_t cr3[8];
};

static const char *kpti_setup(void *ctx, const struct vec_machine *m, struct mmu **mmu)
{
	struct kpti_stub *x = ctx;
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = m->cpus;
	cfg.pcide = true;
	x->sim = sim_create(&cfg);
	*mmu = sim_mmu(x->sim);
	return NULL;
}

static uint64_t kpti_frames(void *ctx)
{
	struct kpti_stub *x = ctx;
	return sim_frames_in_use(x->sim);
}

static void kpti_run_on_cpu(void *ctx, unsigned cpu, vec_cpu_fn fn, void *arg)
{
	struct kpti_stub *x = ctx;
	sim_set_cpu(x->sim, cpu);
	fn(arg);
	sim_set_cpu(x->sim, 0);
}

static const struct mmu_kpti_range *kpti_ranges(void *ctx, unsigned *n)
{
	(void)ctx;
	*n = 0;
	return NULL;
}

static void kpti_set_user_cr3(void *ctx, unsigned cpu, uint64_t cr3)
{
	struct kpti_stub *x = ctx;
	if (x->sets < 8) {
		x->cpu[x->sets] = cpu;
		x->cr3[x->sets] = cr3;
	}
	x->sets++;
}

/* Every access succeeds: only the CR3 it would run on matters here. */
static struct vec_access kpti_access(void *ctx, unsigned cpu, enum vec_access_kind kind, mmu_vaddr_t va, bool user,
				     uint8_t byte)
{
	(void)ctx, (void)cpu, (void)kind, (void)va, (void)user, (void)byte;
	return (struct vec_access){.outcome = VEC_ACCESS_OK};
}

static void kpti_teardown(void *ctx)
{
	struct kpti_stub *x = ctx;
	sim_destroy(x->sim);
}

static const struct vec_exec_ops kpti_ops = {
	.setup = kpti_setup,
	.frames_in_use = kpti_frames,
	.access = kpti_access,
	.run_on_cpu = kpti_run_on_cpu,
	.kpti_ranges = kpti_ranges,
	.set_user_cr3 = kpti_set_user_cr3,
	.teardown = kpti_teardown,
};

static void test_kpti_user_cr3_per_exit_on_its_cpu(void)
{
	static struct vec_session session;
	/* A load only forgets the user CR3; each user access of the process
	 * takes it on the CPU that runs it (one exit to user mode each). */
	static const char text[] = "machine cpus=2 kpti=1\nproc P\nload 1 P\nread 1 0x1000 user\n"
				   "load 0 P\nread 0 0x1000 user\nload 1 kernel\n";
	struct kpti_stub x = {0};
	struct vec_io io = {.file = "t.mmu", .text = text, .len = strlen(text), .out = capture};
	out[0] = '\0';
	CHECK_EQ(vec_run(&session, &io, &kpti_ops, &x), VEC_PASSED);
	CHECK_EQ(x.sets, 5);
	for (unsigned i = 0; i < 2; i++) {
		unsigned load = 2 * i, exit = 2 * i + 1;
		CHECK_EQ(x.cpu[load], 1 - i);
		CHECK_EQ(x.cr3[load], 0);
		CHECK_EQ(x.cpu[exit], 1 - i);
		CHECK(x.cr3[exit] & MMU_PCID_USER);                /* the shadow's PCID */
		CHECK((x.cr3[exit] & (MMU_PCID_USER - 1)) != 0); /* the space's PCID on that CPU */
	}
	CHECK_EQ(x.cpu[4], 1);
	CHECK_EQ(x.cr3[4], 0);
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
	x.fake_reports = 0;

	test_kpti_user_cr3_per_exit_on_its_cpu();
	return 0;
}
