/* SPDX-License-Identifier: MIT */
/* W9 swap (docs/BENCH.md), on one CPU: a process space with a 16 MiB
 * anon region (1 MiB with --small), every page written, then every page
 * paged out (mmu_vm_page_out: the leaf becomes a swap entry, one flush,
 * the frame copied to an in-memory store and freed) and every page paged
 * back in by a write (the fault handler reads the slot into a fresh
 * frame). ns per page each way; the frames and slots must come back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/vmbench.h"

/* The in-memory store: a host array of pages and a stack of free slots
 * (one reference each: nothing forks here). */
struct w9_store {
	struct sim *sim;
	uint8_t (*page)[4096];
	uint64_t *free_slot;
	uint64_t nfree;
};

static mmu_err_t w9_write(void *ctx, mmu_pa_t frame, uint64_t *slot)
{
	struct w9_store *s = ctx;
	if (s->nfree == 0)
		return MMU_E_NOMEM;
	*slot = s->free_slot[--s->nfree];
	memcpy(s->page[*slot], sim_phys(s->sim, frame), 4096);
	return MMU_OK;
}

static mmu_err_t w9_read(void *ctx, uint64_t slot, mmu_pa_t frame)
{
	struct w9_store *s = ctx;
	memcpy(sim_phys(s->sim, frame), s->page[slot], 4096);
	return MMU_OK;
}

static void w9_dup(void *ctx, uint64_t slot)
{
	(void)ctx, (void)slot;
	fprintf(stderr, "bench W9: a slot dup'd without a fork\n");
	exit(1);
}

static void w9_free(void *ctx, uint64_t slot)
{
	struct w9_store *s = ctx;
	s->free_slot[s->nfree++] = slot;
}

static const struct mmu_vm_swap_ops w9_ops = {w9_write, w9_read, w9_dup, w9_free};

struct w9_result {
	double out_ns, in_ns;
	uint64_t frames_out, frames_in;
};

/* One repetition: every page written, out, back in by a write. */
static void w9_once(struct sim *sim, struct w9_store *st, uint64_t pages, struct w9_result *res)
{
	struct mmu_vm_space sp;
	uint64_t frames0 = sim_frames_in_use(sim);
	bench_vm_must("W9", mmu_vm_space_create(sim_mmu(sim), &sp), "space");
	bench_vm_must("W9", mmu_vm_space_set_swap(&sp, &w9_ops, st), "swap");
	bench_vm_must("W9", mmu_vm_region_add(&sp, BENCH_VM_VA, pages * 4096, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0),
		      "region");
	mmu_tree_load(&sp.tree);
	for (uint64_t i = 0; i < pages; i++)
		(void)bench_vm_write("W9", sim, &sp, BENCH_VM_VA + i * 4096, (uint8_t)i);
	double t0 = bench_vm_now_ns();
	for (uint64_t i = 0; i < pages; i++)
		bench_vm_must("W9", mmu_vm_page_out(&sp, BENCH_VM_VA + i * 4096), "page-out");
	double t1 = bench_vm_now_ns();
	res->frames_out = sim_frames_in_use(sim) - frames0;
	for (uint64_t i = 0; i < pages; i++) {
		if (bench_vm_write("W9", sim, &sp, BENCH_VM_VA + i * 4096, (uint8_t)(i + 1)) != MMU_VM_DEMAND) {
			fprintf(stderr, "bench W9: page %llu did not page in\n", (unsigned long long)i);
			exit(1);
		}
	}
	double t2 = bench_vm_now_ns();
	res->frames_in = sim_frames_in_use(sim) - frames0;
	res->out_ns = (t1 - t0) / (double)pages;
	res->in_ns = (t2 - t1) / (double)pages;
	struct mmu_vm_counters c = mmu_vm_counters_take(&sp);
	mmu_tree_load(mmu_kernel_tree(sim_mmu(sim)));
	bench_vm_must("W9", mmu_vm_space_exit(&sp), "exit");
	if (c.swapin != pages || st->nfree != pages || sim_frames_in_use(sim) != frames0) {
		fprintf(stderr, "bench W9: %llu page-ins of %llu, %llu free slots, %llu frames left\n",
			(unsigned long long)c.swapin, (unsigned long long)pages, (unsigned long long)st->nfree,
			(unsigned long long)(sim_frames_in_use(sim) - frames0));
		exit(1);
	}
}

void bench_w9(const struct bench_opts *o)
{
	const uint64_t pages = bench_vm_pages(o, 16);
	struct sim *sim = bench_vm_machine("W9", pages + 1024);
	struct w9_store st = {.sim = sim, .page = malloc(pages * 4096), .free_slot = malloc(pages * sizeof(uint64_t))};
	if (!st.page || !st.free_slot) {
		fprintf(stderr, "bench W9: no memory for the store\n");
		exit(1);
	}
	memset(st.page, 0, pages * 4096); /* backed before any timing */
	for (uint64_t i = 0; i < pages; i++)
		st.free_slot[st.nfree++] = pages - 1 - i;
	double out[1024], in[1024];
	unsigned n = bench_vm_reps(o);
	struct w9_result res = {0};
	for (unsigned r = 0; r < n; r++) {
		w9_once(sim, &st, pages, &res);
		out[r] = res.out_ns;
		in[r] = res.in_ns;
	}
	char extra[160];
	snprintf(extra, sizeof extra, "pages/s=%.0f frames after=%llu", 1e9 / bench_vm_median(out, n),
		 (unsigned long long)res.frames_out);
	bench_vm_report(o, "W9", "page-out", "ns/page", out, n, extra);
	snprintf(extra, sizeof extra, "pages/s=%.0f frames after=%llu", 1e9 / bench_vm_median(in, n),
		 (unsigned long long)res.frames_in);
	bench_vm_report(o, "W9", "page-in", "ns/page", in, n, extra);
	bench_vm_check_sanitizer("W9", sim);
	free(st.page);
	free(st.free_slot);
	sim_destroy(sim);
}
