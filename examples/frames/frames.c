/* SPDX-License-Identifier: MIT */
/* frames: a kernel that owns the frames it maps gives them back, the way
 * include/mmu64/pt.h ("Who owns the frames") says: the page-table layer
 * never frees a data frame, so the kernel finds its frames with
 * mmu_leaves and frees each one only after the flush that removed its
 * last translation from every TLB.
 *
 * On a two-CPU software machine with PCIDs (so a CPU that leaves a tree
 * keeps its translations under the tree's PCID), the kernel maps 4K frames
 * and a 2M frame, both CPUs use them, and then:
 *  - munmap: in one hold of the tree lock, mmu_leaves_locked queues every
 *    frame of the range on a batch (mmu_tlb_batch_defer_free) and
 *    mmu_unmap_locked records the invalidations on the same batch; the
 *    flush invalidates on both CPUs, then frees the frames;
 *  - exit: mmu_leaves lists what is left, the CPUs leave the tree,
 *    mmu_tree_destroy flushes what the PCIDs kept, and the kernel frees the
 *    listed frames after it returned.
 * The TLB sanitizer must stay silent and every frame must come back.
 *
 * Build against an installed mmu64 (examples/frames/Makefile):
 *     cc -std=c11 frames.c $(pkg-config --cflags --libs mmu64-sim)
 * Exit status 0 when every step gave what it should. */
#include <stdio.h>
#include <stdlib.h>

#include <mmu64/mmu64.h>
#include <mmu64/sim.h>

#define HEAP_VA 0x400000ull /* 16 4K frames, then a 2M frame at 0x600000 */
#define SMALL_FRAMES 16
#define HUGE_VA 0x600000ull
#define SZ_2M 0x200000ull
#define USER_HALF (1ull << 47)

static int failures;

static void step(const char *what, int ok, const char *got)
{
	printf("%-56s %s%s\n", what, got, ok ? "" : "   <-- unexpected");
	if (!ok)
		failures++;
}

static void step_err(const char *what, mmu_err_t got)
{
	step(what, got == MMU_OK, mmu_err_name(got));
}

static void step_count(const char *what, unsigned long long got, unsigned long long want)
{
	char s[32];
	snprintf(s, sizeof s, "%llu", got);
	step(what, got == want, s);
}

/* The kernel's own frames, mapped for user mode, then touched on both
 * CPUs so that both TLBs hold every translation. */
static void map_heap(struct sim *sim, struct mmu_tree *proc)
{
	const unsigned rwu = MMU_PROT_R | MMU_PROT_W | MMU_PROT_U;
	mmu_err_t err = MMU_OK;
	mmu_pa_t pa;
	for (unsigned i = 0; i < SMALL_FRAMES && err == MMU_OK; i++) {
		err = sim_frame_alloc(sim, MMU_SIZE_4K, &pa);
		if (err == MMU_OK)
			err = mmu_map(proc, HEAP_VA + i * MMU_PAGE_SIZE, pa, MMU_PAGE_SIZE, rwu, NULL, NULL);
	}
	if (err == MMU_OK)
		err = sim_frame_alloc(sim, MMU_SIZE_2M, &pa);
	if (err == MMU_OK)
		err = mmu_map(proc, HUGE_VA, pa, SZ_2M, rwu, NULL, NULL);
	step_err("map 16 4K frames and a 2M frame", err);
	int touched = 1;
	for (unsigned cpu = 0; cpu < 2; cpu++) {
		sim_set_cpu(sim, cpu);
		mmu_tree_load(proc);
		for (unsigned i = 0; i < SMALL_FRAMES; i++)
			touched &= sim_access(sim, cpu, SIM_WRITE, HEAP_VA + i * MMU_PAGE_SIZE, true, false, 1).outcome ==
				    SIM_OK;
		touched &= sim_access(sim, cpu, SIM_READ, HUGE_VA + 0x1234, true, false, 0).outcome == SIM_OK;
	}
	sim_set_cpu(sim, 0);
	step("both CPUs wrote the pages (both TLBs hold them)", touched, touched ? "ok" : "fault");
}

/* mmu_leaves' function: queue the leaf's frame on the batch (CTX). The
 * ranges here cut no huge leaf, so each leaf is a whole frame. */
static bool queue_frame(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t)
{
	(void)va;
	mmu_tlb_batch_defer_free(ctx, MMU_FRAME_DATA, t->size, t->pa);
	return true;
}

/* munmap(HEAP_VA + 8 pages .. the end of the 2M frame): frames queued and
 * leaves removed in one hold, freed by the flush. */
static void munmap_part(struct sim *sim, struct mmu_tree *proc)
{
	const mmu_vaddr_t va = HEAP_VA + 8 * MMU_PAGE_SIZE, len = HUGE_VA + SZ_2M - va;
	unsigned long long before = sim_frames_in_use(sim);
	struct mmu_tlb_batch b;
	mmu_tlb_batch_init(&b, proc);
	struct mmu_tree_locked held = mmu_tree_lock(proc);
	mmu_err_t err = mmu_leaves_locked(held, va, len, queue_frame, &b);
	if (err == MMU_OK)
		err = mmu_unmap_locked(held, va, len, &b);
	mmu_tree_unlock(held);
	step_err("munmap: leaves queued on the batch, then unmap", err);
	step_count("  frames freed before the flush", before - sim_frames_in_use(sim), 0);
	mmu_tlb_flush(&b); /* both CPUs invalidate; then the frames go */
	mmu_tlb_batch_done(&b);
	step_count("  frames freed by the flush (8 x 4K, 1 x 2M)", before - sim_frames_in_use(sim), 9);
}

/* The frames mmu_leaves lists, kept until the tree is gone. */
struct frame_list {
	mmu_pa_t pa[64];
	enum mmu_size size[64];
	unsigned n;
};

static bool list_frame(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t)
{
	struct frame_list *l = ctx;
	(void)va;
	l->pa[l->n] = t->pa;
	l->size[l->n] = t->size;
	return ++l->n < 64;
}

/* exit: list what is left, destroy the tree (no CPU may run it), free. */
static void exit_process(struct sim *sim, struct mmu_tree *proc)
{
	struct frame_list left = {0};
	step_err("exit: mmu_leaves over the user half", mmu_leaves(proc, 0, USER_HALF, list_frame, &left));
	step_count("  frames listed", left.n, 8);
	for (unsigned cpu = 0; cpu < 2; cpu++) {
		sim_set_cpu(sim, cpu);
		mmu_tree_load(mmu_kernel_tree(sim_mmu(sim))); /* the PCID keeps the tree's entries */
	}
	sim_set_cpu(sim, 0);
	step_err("  destroy the tree (flushes what the PCIDs kept)", mmu_tree_destroy(proc));
	for (unsigned i = 0; i < left.n; i++)
		sim_frame_free(sim, left.size[i], left.pa[i]);
	step_count("  data frames in use after freeing them", sim_frames_in_use(sim), 0);
}

int main(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 2;
	cfg.pcide = true;
	struct sim *sim = sim_create(&cfg);
	if (!sim) {
		fprintf(stderr, "frames: sim_create failed\n");
		return 1;
	}
	struct mmu_tree proc;
	step_err("create a user tree", mmu_tree_create(sim_mmu(sim), &proc));
	map_heap(sim, &proc);
	munmap_part(sim, &proc);
	exit_process(sim, &proc);
	step_count("TLB sanitizer reports", sim_tlbsan_reports(sim), 0);
	sim_destroy(sim);
	printf("%s\n", failures ? "frames: FAILED" : "frames: all steps as expected");
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
