/* SPDX-License-Identifier: MIT */
/* The state of the process-space property test, shared by its run
 * (test_property_vm.c), its region operations (vmprop_regions.c) and its
 * memory objects (vmprop_objects.c): the machine, the spaces, the objects
 * and the store, their model, the random source, and FAIL, which prints
 * the seed, the operation and the command that reruns it. */
#ifndef MMU64_TEST_VMPROP_H
#define MMU64_TEST_VMPROP_H

#include <inttypes.h>

#include "simtest.h"
#include "vmcheck.h"
#include "vmmodel.h"

#define NSPACES 6
#define KPAGES 8
#define KVA 0xffffc80040000000ull /* kernel pages: inside the vectors' window */
#define KERNEL_TREE (-1)

/* What the run counts (the summary line; a run that reached too little fails). */
enum {
	N_ACCESS_OK, N_ACCESS_REFUSED, N_KERNEL_READ, N_KERNEL_CHANGE, N_LOAD, N_CREATE, N_FORK, N_EXIT, N_BUSY,
	N_ADD, N_NOSPACE, N_REFUSED, N_REMOVE, N_PROTECT, N_RESIZE, N_STORAGE, N_OBJECT, N_OBJECT_ADD, N_RELEASE,
	N_RELEASE_BUSY, N_HUGE, N_PAGE_OUT, N_PAGE_OUT_REFUSED, N_SWAP_STORE, N_OBJECT_PAGE_OUT, N_COUNTS
};

struct run {
	uint64_t seed;
	unsigned long op;
	char desc[200];
	struct st_rng rng;
	struct sim *sim;
	struct mmu *mmu;
	unsigned ncpus;
	bool pcid, invpcid, kpti;
	bool huge; /* mmu_vm_space_set_huge turned on and off in this run */
	bool swap; /* spaces have the swap store, pages are paged out (vmprop_swap.c) */
	struct mmu_kpti tmpl;
	struct mmu_vm_space sp[NSPACES];
	bool live[NSPACES];
	struct vm_mspace *ms[NSPACES];
	struct vm_model model;
	int loaded[MMU_MAX_CPUS]; /* space index per CPU, KERNEL_TREE */
	mmu_pa_t kframe[KPAGES];
	bool kmapped[KPAGES];
	uint64_t frames0;
	unsigned long counts[N_COUNTS];
	/* Region storage the test gives space I: two arrays to move between. */
	struct mmu_vm_region slots[NSPACES][2][VM_MREGIONS];
	/* Memory objects (the model's object K is obj[K]) and the store
	 * behind the pager-backed ones: page I at store[I], 0 until asked. */
	struct mmu_vm_object obj[VM_MOBJECTS];
	mmu_pa_t obj_slots[VM_MOBJECTS][VM_MOBJ_PAGES];
	struct mmu_vm_object_mapper obj_mappers[VM_MOBJECTS][NSPACES]; /* never NOSPACE */
	mmu_pa_t store[VM_MOBJ_PAGES];
};

extern struct run R;

#define FAIL(...)                                                                                            \
	do {                                                                                                 \
		fprintf(stderr, "test_property_vm: seed=0x%" PRIx64 " op=%lu: ", R.seed, R.op);                 \
		fprintf(stderr, __VA_ARGS__);                                                                \
		fprintf(stderr, "\n  operation: %s\n  rerun: test_property_vm 0x%" PRIx64 " %lu\n", R.desc, R.seed, \
			R.op + 1);                                                                           \
		exit(1);                                                                                     \
	} while (0)

static inline uint64_t rnd(uint64_t n) { return st_rng_below(&R.rng, n); }
static inline bool chance(unsigned percent) { return rnd(100) < percent; }

void expect_err(mmu_err_t got, mmu_err_t want);
/* Library calls run as a random CPU (shootdowns then go everywhere). */
void as_any_cpu(void);
/* A user address of live space S: mostly in its regions, now and then
 * just below or above one (stack growth, guard gaps), else anywhere in
 * the window. */
mmu_vaddr_t pick_user_va(int s);

/* ---- vmprop_regions.c: one operation on the regions of live space S ---- */

void do_region_add(int s);
void do_region_remove(int s);
void do_region_protect(int s);
void do_region_resize(int s);
/* Move S's regions to the other array of R.slots[S], the same one with
 * another capacity, or the inline slots. */
void do_region_storage(int s);
/* Ranges every region call must refuse before looking at the regions. */
void do_region_invalid(int s);
/* The storage a fork into space C gets: SLOTS (NULL: inline) and CAP. */
void fork_storage(int c, struct mmu_vm_region **slots, unsigned *cap);

/* ---- vmprop_objects.c: memory objects and huge pages ---- */

/* Initialise a free object (anonymous or the store's, with a mapper
 * record for every space), release one (BUSY while a region maps it;
 * INVALID when it is not live), or page one of its pages out of every
 * space (mmu_vm_object_page_out). */
void do_object_change(void);
/* A region of S over some object's pages, shared or private. */
void do_region_add_object(int s);
/* Whether a protect of [VA, VA+LEN) in S may give W: not where a shared
 * region maps the store (which never changes). */
bool may_write_store(int s, mmu_vaddr_t va, uint64_t len);
/* Huge pages on or off for S (runs with R.huge only). */
void do_set_huge(int s);
/* Every object and the store against the model (the frames seen in F). */
void check_objects(struct vmc_frames *f);
/* Release every object and free the store (every space has exited). */
void objects_teardown(void);

/* ---- vmprop_swap.c: the swap store and page-out (runs with R.swap) ---- */

/* The store emptied; whether this run has swap (from the seed), its limit. */
void swap_setup(void);
/* The store for anonymous object K (new: no page of it in swap). */
void swap_give_object(unsigned k);
/* The store for S (ON) or none: BUSY while S has pages in swap. */
void swap_give(int s, bool on);
/* A page-out of a random page of S, or a change of its store. */
void do_swap_op(int s);
/* Slots in use and each space's swapped pages against the model (every operation). */
void check_swap_counts(void);
/* Every slot's references and bytes, every swap entry, against the model. */
void check_swap(void);

#endif
