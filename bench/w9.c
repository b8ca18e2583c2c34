/* SPDX-License-Identifier: MIT */
/* W9 swap (docs/BENCH.md), on one CPU: a process space with a 16 MiB
 * anon region (1 MiB with --small), every page written, then every page
 * paged out (mmu_vm_page_out: the leaf becomes a swap entry, one flush,
 * the frame copied to an in-memory store and freed) and every page paged
 * back in by a write (the fault handler reads the slot into a fresh
 * frame). ns per page each way; the frames and slots must come back.
 * Then the same for a memory object of as many pages mapped shared by two
 * spaces (mmu_vm_object_page_out: the page's leaves in both with one
 * call): a pager-backed one (with a clock pass first,
 * mmu_vm_object_page_referenced), then an anonymous one in the same
 * store. */
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

/* Write byte (uint8_t)(i + ADD) at OFFSET into each page i of SP's
 * PAGES, each a fault that pages it back in (WHAT names the pages in the
 * message of one that did not). */
static void w9_fault_in(struct sim *sim, struct mmu_vm_space *sp, uint64_t pages, uint64_t offset, uint64_t add,
			const char *what)
{
	for (uint64_t i = 0; i < pages; i++) {
		if (bench_vm_write("W9", sim, sp, BENCH_VM_VA + i * 4096 + offset, (uint8_t)(i + add)) != MMU_VM_DEMAND) {
			fprintf(stderr, "bench W9: %s %llu did not page in\n", what, (unsigned long long)i);
			exit(1);
		}
	}
}

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
	w9_fault_in(sim, &sp, pages, 0, 1, "page");
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

/* ---- the same over a memory object mapped shared by two spaces
 * (mmu_vm_object_page_out: every leaf of the page, in both, with one
 * call) ---- */

/* The pager: a page cache over an in-memory store (a host array of pages,
 * the disk). get_page reads the page into a fresh frame and keeps the
 * pager's reference on it; after a page-out the pager writes the frame
 * back when dirty and frees it (w9_pager_evict). */
struct w9_pager {
	struct sim *sim;
	uint8_t (*page)[4096];
	mmu_pa_t *frame; /* page i's frame while cached, else 0 */
	uint64_t asked;
};

static mmu_err_t w9_pager_get(void *ctx, uint64_t index, mmu_pa_t *out)
{
	struct w9_pager *pg = ctx;
	pg->asked++;
	if (!pg->frame[index].bits) {
		if (sim_frame_alloc(pg->sim, MMU_SIZE_4K, &pg->frame[index]) != MMU_OK)
			return MMU_E_NOMEM;
		memcpy(sim_phys(pg->sim, pg->frame[index]), pg->page[index], 4096);
		mmu_vm_frame_ref(sim_mmu(pg->sim), pg->frame[index]); /* the pager's own */
	}
	*out = pg->frame[index];
	return MMU_OK;
}

static const struct mmu_vm_pager_ops w9_pager_ops = {.get_page = w9_pager_get, .shared_writable = true};

/* Page INDEX left the object: written back when DIRTY, its frame freed
 * (the pager's reference the last one). */
static void w9_pager_evict(struct w9_pager *pg, uint64_t index, bool dirty)
{
	mmu_pa_t frame = pg->frame[index];
	if (dirty)
		memcpy(pg->page[index], sim_phys(pg->sim, frame), 4096);
	if (!mmu_vm_frame_unref(sim_mmu(pg->sim), frame)) {
		fprintf(stderr, "bench W9: page %llu of the object still referenced after its page-out\n",
			(unsigned long long)index);
		exit(1);
	}
	sim_frame_free(pg->sim, MMU_SIZE_4K, frame);
	pg->frame[index].bits = 0;
}

struct w9_obj_result {
	double clock_ns, out_ns, in_ns;
	uint64_t frames_touched, frames_out, frames_in;
};

/* One repetition over an object of PAGES pages in SLOTS: pager-backed
 * (PG) when ST is NULL, else anonymous with ST as its store. Two spaces
 * map it shared at BENCH_VM_VA and write every page, the first space
 * then the second; on a pager object a clock pass tests and clears the
 * Accessed bits of every page; every page is paged out of both spaces
 * with one call each, and paged back in by a write of the second. */
static void w9_obj_once(struct sim *sim, struct w9_pager *pg, struct w9_store *st, mmu_pa_t *slots, uint64_t pages,
			struct w9_obj_result *res)
{
	struct mmu *mmu = sim_mmu(sim);
	struct mmu_vm_object obj;
	struct mmu_vm_object_mapper rec[2];
	struct mmu_vm_space sp[2];
	uint64_t frames0 = sim_frames_in_use(sim), referenced = 0, dirty = 0;
	if (st) {
		bench_vm_must("W9", mmu_vm_object_init_anon(mmu, &obj, slots, pages), "object");
		bench_vm_must("W9", mmu_vm_object_set_swap(&obj, &w9_ops, st), "object swap");
	} else {
		bench_vm_must("W9", mmu_vm_object_init_pager(mmu, &obj, slots, pages, &w9_pager_ops, pg), "object");
	}
	bench_vm_must("W9", mmu_vm_object_set_mapper_storage(&obj, rec, 2), "mapper storage");
	for (unsigned s = 0; s < 2; s++) {
		bench_vm_must("W9", mmu_vm_space_create(mmu, &sp[s]), "space");
		bench_vm_must("W9",
			      mmu_vm_region_add_object(&sp[s], BENCH_VM_VA, pages * 4096, MMU_PROT_R | MMU_PROT_W,
						       MMU_VM_SHARED, &obj, 0),
			      "object region");
	}
	for (unsigned s = 0; s < 2; s++) {
		mmu_tree_load(&sp[s].tree);
		for (uint64_t i = 0; i < pages; i++)
			(void)bench_vm_write("W9", sim, &sp[s], BENCH_VM_VA + i * 4096, (uint8_t)(i + s));
	}
	res->frames_touched = sim_frames_in_use(sim) - frames0;
	double t0 = bench_vm_now_ns();
	if (!st) {
		for (uint64_t i = 0; i < pages; i++) {
			bool ref;
			bench_vm_must("W9", mmu_vm_object_page_referenced(&obj, i, MMU_VM_ACCESSED_CLEAR, &ref),
				      "page-referenced");
			referenced += ref;
		}
	}
	double t1 = bench_vm_now_ns();
	for (uint64_t i = 0; i < pages; i++) {
		bool d;
		bench_vm_must("W9", mmu_vm_object_page_out(&obj, i, &d), "object page-out");
		if (!st)
			w9_pager_evict(pg, i, d);
		dirty += d;
	}
	double t2 = bench_vm_now_ns();
	res->frames_out = sim_frames_in_use(sim) - frames0;
	w9_fault_in(sim, &sp[1], pages, 1, 0, "object page");
	double t3 = bench_vm_now_ns();
	res->frames_in = sim_frames_in_use(sim) - frames0;
	res->clock_ns = (t1 - t0) / (double)pages;
	res->out_ns = (t2 - t1) / (double)pages;
	res->in_ns = (t3 - t2) / (double)pages;
	/* The second space's bytes came back through the store. */
	uint64_t intact = 0;
	for (uint64_t i = 0; i < pages; i++) {
		mmu_pa_t pa;
		intact += mmu_vm_object_page(&obj, i, &pa) == MMU_OK && sim_phys(sim, pa)[0] == (uint8_t)(i + 1);
	}
	mmu_tree_load(mmu_kernel_tree(mmu));
	for (unsigned s = 0; s < 2; s++)
		bench_vm_must("W9", mmu_vm_space_exit(&sp[s]), "exit");
	bench_vm_must("W9", mmu_vm_object_release(&obj), "object release");
	if (!st)
		for (uint64_t i = 0; i < pages; i++)
			w9_pager_evict(pg, i, false);
	if ((!st && (referenced != pages || pg->asked != 2 * pages)) || dirty != pages || intact != pages ||
	    (st && st->nfree != pages) || sim_frames_in_use(sim) != frames0) {
		fprintf(stderr,
			"bench W9: object: %llu referenced, %llu dirty, %llu intact of %llu, %llu pager asks, "
			"%llu frames left\n",
			(unsigned long long)referenced, (unsigned long long)dirty, (unsigned long long)intact,
			(unsigned long long)pages, (unsigned long long)(pg ? pg->asked : 0),
			(unsigned long long)(sim_frames_in_use(sim) - frames0));
		exit(1);
	}
	if (pg)
		pg->asked = 0;
}

/* The page-out and page-in lines of an object's phases (OUT_NAME,
 * IN_NAME), with the frames before and after each from RES. */
static void w9_obj_report_out_in(const struct bench_opts *o, const char *out_name, const char *in_name,
				 double *out, double *in, unsigned n, const struct w9_obj_result *res)
{
	char extra[160];
	snprintf(extra, sizeof extra, "pages/s=%.0f frames before=%llu after=%llu", 1e9 / bench_vm_median(out, n),
		 (unsigned long long)res->frames_touched, (unsigned long long)res->frames_out);
	bench_vm_report(o, "W9", out_name, "ns/page", out, n, extra);
	snprintf(extra, sizeof extra, "pages/s=%.0f frames before=%llu after=%llu", 1e9 / bench_vm_median(in, n),
		 (unsigned long long)res->frames_out, (unsigned long long)res->frames_in);
	bench_vm_report(o, "W9", in_name, "ns/page", in, n, extra);
}

/* The object phases: a pager object (clock, page-out, page-in), then an
 * anonymous one with ST as its store (page-out, page-in). */
static void w9_obj(const struct bench_opts *o, struct sim *sim, struct w9_store *st, uint64_t pages)
{
	struct w9_pager pg = {.sim = sim, .page = bench_vm_backed("W9", pages * 4096),
			      .frame = calloc(pages, sizeof(mmu_pa_t))};
	mmu_pa_t *slots = malloc(pages * sizeof(mmu_pa_t));
	if (!pg.frame || !slots) {
		fprintf(stderr, "bench W9: no memory for the object\n");
		exit(1);
	}
	double clock[1024], out[1024], in[1024];
	unsigned n = bench_vm_reps(o);
	struct w9_obj_result res = {0};
	char extra[160];
	for (unsigned r = 0; r < n; r++) {
		w9_obj_once(sim, &pg, NULL, slots, pages, &res);
		clock[r] = res.clock_ns;
		out[r] = res.out_ns;
		in[r] = res.in_ns;
	}
	snprintf(extra, sizeof extra, "pages/s=%.0f referenced=%llu", 1e9 / bench_vm_median(clock, n),
		 (unsigned long long)pages);
	bench_vm_report(o, "W9", "obj-clock", "ns/page", clock, n, extra);
	w9_obj_report_out_in(o, "obj-page-out", "obj-page-in", out, in, n, &res);
	for (unsigned r = 0; r < n; r++) {
		w9_obj_once(sim, NULL, st, slots, pages, &res);
		out[r] = res.out_ns;
		in[r] = res.in_ns;
	}
	w9_obj_report_out_in(o, "obj-anon-out", "obj-anon-in", out, in, n, &res);
	free(pg.page);
	free(pg.frame);
	free(slots);
}

void bench_w9(const struct bench_opts *o)
{
	const uint64_t pages = bench_vm_pages(o, 16);
	struct sim *sim = bench_vm_machine("W9", pages + 1024);
	struct w9_store st = {.sim = sim, .page = bench_vm_backed("W9", pages * 4096),
			      .free_slot = malloc(pages * sizeof(uint64_t))};
	if (!st.free_slot) {
		fprintf(stderr, "bench W9: no memory for the store\n");
		exit(1);
	}
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
	w9_obj(o, sim, &st, pages);
	bench_vm_check_sanitizer("W9", sim);
	free(st.page);
	free(st.free_slot);
	sim_destroy(sim);
}
