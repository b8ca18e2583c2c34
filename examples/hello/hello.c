/* SPDX-License-Identifier: MIT */
/* hello: the installed library on the installed software machine.
 *
 * A two-CPU machine, one user tree, one 4K page mapped, touched through
 * both simulated CPUs, made read-only and unmapped with one TLB batch; the
 * TLB sanitizer must stay silent. Then the same unmap done in the wrong
 * order (the frame freed before the shootdown), which is the bug the
 * sanitizer exists to catch: it must report it.
 *
 * Build against an installed mmu64 (examples/hello/Makefile):
 *     cc -std=c11 hello.c $(pkg-config --cflags --libs mmu64-sim)
 * Exit status 0 when every step gave what it should. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmu64/mmu64.h>
#include <mmu64/sim.h>

#define USER_VA 0x400000ull

static int failures;

/* Print one step and whether it gave what it should. */
static void step(const char *what, int ok, const char *got)
{
	printf("%-48s %s%s\n", what, got, ok ? "" : "   <-- unexpected");
	if (!ok)
		failures++;
}

static void step_err(const char *what, mmu_err_t got, mmu_err_t want)
{
	step(what, got == want, mmu_err_name(got));
}

/* An access on CPU as user code; "ok 0xNN" or "fault 0xN" as `mmu64 run` prints. */
static void step_access(const char *what, struct sim *sim, unsigned cpu, enum sim_access_kind kind,
			uint8_t byte, const char *want)
{
	struct sim_access a = sim_access(sim, cpu, kind, USER_VA, true, false, byte);
	char got[32];
	if (a.outcome == SIM_OK)
		snprintf(got, sizeof(got), "ok 0x%02x", kind == SIM_READ ? a.byte : byte);
	else if (a.outcome == SIM_PF)
		snprintf(got, sizeof(got), "fault 0x%x", (unsigned)a.error_code);
	else
		snprintf(got, sizeof(got), "#GP");
	char line[96];
	snprintf(line, sizeof(line), "cpu%u: %s", cpu, what);
	step(line, strcmp(got, want) == 0, got);
}

static void load_on(struct sim *sim, unsigned cpu, struct mmu_tree *tree)
{
	sim_set_cpu(sim, cpu);
	mmu_tree_load(tree);
}

/* Map, touch, protect, unmap: the order a kernel must follow. */
static void correct_order(struct sim *sim, struct mmu_tree *proc, mmu_pa_t frame)
{
	step_err("map 0x400000 -> frame, 4K, rw user",
		 mmu_map(proc, USER_VA, frame, MMU_PAGE_SIZE, MMU_PROT_R | MMU_PROT_W | MMU_PROT_U, NULL, NULL),
		 MMU_OK);
	load_on(sim, 0, proc);
	load_on(sim, 1, proc);
	step_access("write 0x2a", sim, 0, SIM_WRITE, 0x2a, "ok 0x2a");
	step_access("read (the same frame)", sim, 1, SIM_READ, 0, "ok 0x2a");
	step("physical memory holds the byte", sim_phys(sim, frame)[0] == 0x2a, "ok");

	/* Both CPUs now cache the translation: the protect must reach both. */
	sim_set_cpu(sim, 0);
	step_err("protect read-only (shootdown to cpu1)",
		 mmu_protect(proc, USER_VA, MMU_PAGE_SIZE, MMU_PROT_R | MMU_PROT_U, NULL), MMU_OK);
	step_access("write after protect", sim, 1, SIM_WRITE, 0x55, "fault 0x7");

	/* Unmap, and free the frame through the batch: it is released only
	 * after every CPU has dropped its translation. */
	struct mmu_tlb_batch b;
	mmu_tlb_batch_init(&b, proc);
	step_err("unmap 0x400000", mmu_unmap(proc, USER_VA, MMU_PAGE_SIZE, &b), MMU_OK);
	mmu_tlb_batch_defer_free(&b, MMU_FRAME_DATA, MMU_SIZE_4K, frame);
	mmu_tlb_flush(&b);
	mmu_tlb_batch_done(&b);
	step_access("read after unmap", sim, 1, SIM_READ, 0, "fault 0x4");

	char n[32];
	snprintf(n, sizeof(n), "%u reports", sim_tlbsan_reports(sim));
	step("TLB sanitizer", sim_tlbsan_reports(sim) == 0, n);
}

/* The classic bug: the frame goes back to the allocator while cpu1's TLB
 * still translates to it (the shootdown has not run yet). */
static void wrong_order(struct sim *sim, struct mmu_tree *proc, mmu_pa_t frame)
{
	mmu_map(proc, USER_VA, frame, MMU_PAGE_SIZE, MMU_PROT_R | MMU_PROT_U, NULL, NULL);
	load_on(sim, 1, proc);
	step_access("read (now cached)", sim, 1, SIM_READ, 0, "ok 0x00");

	sim_set_cpu(sim, 0);
	struct mmu_tlb_batch b;
	mmu_tlb_batch_init(&b, proc);
	mmu_unmap(proc, USER_VA, MMU_PAGE_SIZE, &b);
	unsigned before = sim_tlbsan_reports(sim);
	fprintf(stderr, "hello: the next tlbsan line is expected:\n");
	sim_frame_free(sim, MMU_SIZE_4K, frame); /* BUG: before mmu_tlb_flush */
	mmu_tlb_flush(&b);
	mmu_tlb_batch_done(&b);

	char n[48];
	snprintf(n, sizeof(n), "%u new report", sim_tlbsan_reports(sim) - before);
	step("TLB sanitizer catches free-before-flush", sim_tlbsan_reports(sim) == before + 1, n);
}

int main(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 2;
	struct sim *sim = sim_create(&cfg);
	if (!sim) {
		fprintf(stderr, "hello: sim_create failed\n");
		return 1;
	}
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_tree proc;
	mmu_pa_t frame;
	step_err("create a user tree", mmu_tree_create(mmu, &proc), MMU_OK);
	step_err("allocate a 4K frame", sim_frame_alloc(sim, MMU_SIZE_4K, &frame), MMU_OK);

	correct_order(sim, &proc, frame);

	step_err("allocate another 4K frame", sim_frame_alloc(sim, MMU_SIZE_4K, &frame), MMU_OK);
	wrong_order(sim, &proc, frame);

	/* Tear down: no CPU may run the tree while it is destroyed. */
	load_on(sim, 0, mmu_kernel_tree(mmu));
	load_on(sim, 1, mmu_kernel_tree(mmu));
	step_err("destroy the tree", mmu_tree_destroy(&proc), MMU_OK);
	step("data frames in use", sim_frames_in_use(sim) == 0, sim_frames_in_use(sim) ? "leaked" : "0");
	sim_destroy(sim);

	printf("%s\n", failures ? "hello: FAILED" : "hello: all steps as expected");
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
