/* SPDX-License-Identifier: MIT */
/* Process spaces with one thread per CPU (software machine, threaded IPIs).
 *
 * Phase 1, COW storm: a parent writes every page of a region and forks
 * three children; each of the four spaces runs on its own CPU and writes
 * every page with its own byte at the same time, so copies and take-overs
 * of the same frames race. Afterwards every space reads back its own bytes,
 * each page is a private frame (4 x PAGES frames in use), and each space
 * counted exactly one COW fault per page.
 *
 * Phase 2, demand race: one space on all four CPUs; every CPU writes every
 * page of a fresh region (its own offset in the page). Each page is mapped
 * once (demand == PAGES), the losers' faults are spurious or none, and no
 * byte is lost.
 *
 * Phase 3, regions read while they change: CPU 0 grows a stack page by
 * page through faults, CPU 1 adds and removes regions below it and moves
 * the space's regions between two arrays of its own, CPUs 2 and 3 read
 * the stack's region with mmu_vm_region_get all along: each copy holds
 * the address asked and ends where the stack ends (the space lock keeps
 * them whole; TSan checks nobody reads without it).
 *
 * Phase 4, object page-outs racing faults: three spaces write and read a
 * store's object shared while CPU 0 pages its pages out of all of them
 * and takes their A bits (OK or BUSY, no write lost).
 *
 * Checks are counted per thread and summed after the join. */
#include <stdatomic.h>

#include "simtest.h"

#define NCPUS 4
#define PAGE 0x1000ull
#define PAGES 256
#define VA1 0x10000000ull
#define VA2 0x20000000ull


struct shared {
	struct mmu_vm_space sp[NCPUS]; /* phase 1: one per CPU; phase 2: sp[0] on all */
	bool phase2;
	atomic_uint arrived, generation;
};

/* A barrier that keeps taking IPIs while it waits. */
static void barrier(struct sim *sim, struct shared *sh)
{
	unsigned gen = atomic_load(&sh->generation);
	if (atomic_fetch_add(&sh->arrived, 1) + 1 == NCPUS) {
		atomic_store(&sh->arrived, 0);
		atomic_fetch_add(&sh->generation, 1);
		return;
	}
	while (atomic_load(&sh->generation) == gen)
		sim_poll(sim);
}

/* A user access by CPU with the fault handler behind it: true when done. */
static bool uaccess(struct sim *sim, struct mmu_vm_space *sp, unsigned cpu, enum sim_access_kind kind,
		    mmu_vaddr_t va, uint8_t byte, uint8_t *read)
{
	for (unsigned i = 0; i < 8; i++) {
		struct sim_access a = sim_access(sim, cpu, kind, va, true, false, byte);
		if (a.outcome == SIM_OK) {
			if (read)
				*read = a.byte;
			return true;
		}
		if (a.outcome != SIM_PF)
			return false;
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, MMU_VM_FAULT_ACCESS);
		if (!mmu_vm_resolved(mmu_vm_handle_fault(sp, &f)))
			return false;
		sim_poll(sim);
	}
	return false;
}

static void run_cpu(struct sim *sim, unsigned cpu, void *arg)
{
	struct shared *sh = arg;
	struct mmu_vm_space *sp = sh->phase2 ? &sh->sp[0] : &sh->sp[cpu];
	mmu_tree_load(&sp->tree);
	barrier(sim, sh);
	uint8_t b = 0;
	for (unsigned i = 0; i < PAGES; i++) {
		mmu_vaddr_t va = sh->phase2 ? VA2 + i * PAGE + cpu : VA1 + i * PAGE;
		TCHECK_EQ(uaccess(sim, sp, cpu, SIM_WRITE, va, (uint8_t)(0x40 + cpu), NULL), true);
	}
	barrier(sim, sh);
	for (unsigned i = 0; i < PAGES; i++) {
		if (sh->phase2) {
			for (unsigned c = 0; c < NCPUS; c++) {
				TCHECK_EQ(uaccess(sim, sp, cpu, SIM_READ, VA2 + i * PAGE + c, 0, &b), true);
				TCHECK_EQ(b, 0x40 + c);
			}
		} else {
			TCHECK_EQ(uaccess(sim, sp, cpu, SIM_READ, VA1 + i * PAGE, 0, &b), true);
			TCHECK_EQ(b, 0x40 + cpu);
		}
	}
	barrier(sim, sh);
	mmu_tree_load(mmu_kernel_tree(sp->tree.mmu));
}

static void phase1(struct sim *sim, struct shared *sh)
{
	struct mmu *mmu = sim_mmu(sim);
	uint64_t frames0 = sim_frames_in_use(sim);
	unsigned cpu = 0;
	sim_set_cpu(sim, 0);
	CHECK_OK(mmu_vm_space_create(mmu, &sh->sp[0]));
	CHECK_OK(mmu_vm_region_add(&sh->sp[0], VA1, PAGES * PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	mmu_tree_load(&sh->sp[0].tree);
	for (unsigned i = 0; i < PAGES; i++)
		TCHECK_EQ(uaccess(sim, &sh->sp[0], 0, SIM_WRITE, VA1 + i * PAGE, 0x11, NULL), true);
	mmu_tree_load(mmu_kernel_tree(mmu));
	for (unsigned c = 1; c < NCPUS; c++)
		CHECK_OK(mmu_vm_fork(&sh->sp[0], &sh->sp[c]));
	for (unsigned c = 0; c < NCPUS; c++)
		(void)mmu_vm_counters_take(&sh->sp[c]);
	CHECK_EQ(sim_frames_in_use(sim), frames0 + PAGES);
	sh->phase2 = false;
	sim_run_cpus(sim, run_cpu, sh);
	CHECK_EQ(sim_frames_in_use(sim), frames0 + NCPUS * PAGES);
	for (unsigned c = 0; c < NCPUS; c++) {
		struct mmu_vm_counters k = mmu_vm_counters_take(&sh->sp[c]);
		CHECK_EQ(k.cow, PAGES);
		CHECK_EQ(k.demand + k.stack + k.segv, 0);
		CHECK_OK(mmu_vm_space_exit(&sh->sp[c]));
	}
	CHECK_EQ(sim_frames_in_use(sim), frames0);
}

static void phase2(struct sim *sim, struct shared *sh)
{
	struct mmu *mmu = sim_mmu(sim);
	uint64_t frames0 = sim_frames_in_use(sim);
	sim_set_cpu(sim, 0);
	CHECK_OK(mmu_vm_space_create(mmu, &sh->sp[0]));
	CHECK_OK(mmu_vm_region_add(&sh->sp[0], VA2, PAGES * PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	sh->phase2 = true;
	sim_run_cpus(sim, run_cpu, sh);
	struct mmu_vm_counters k = mmu_vm_counters_take(&sh->sp[0]);
	CHECK_EQ(k.demand, PAGES);
	CHECK_EQ(k.cow + k.stack + k.segv, 0);
	CHECK_EQ(sim_frames_in_use(sim), frames0 + PAGES);
	CHECK_OK(mmu_vm_space_exit(&sh->sp[0]));
	CHECK_EQ(sim_frames_in_use(sim), frames0);
}

#define VA3 0x30000000ull /* phase 3: the stack's end */
#define GROW 64           /* pages the stack grows */

static struct mmu_vm_region storage[2][64];

static void run_cpu_regions(struct sim *sim, unsigned cpu, void *arg)
{
	struct shared *sh = arg;
	struct mmu_vm_space *sp = &sh->sp[0];
	mmu_tree_load(&sp->tree);
	barrier(sim, sh);
	if (cpu == 0) {
		for (unsigned i = 1; i <= GROW; i++)
			TCHECK_EQ(uaccess(sim, sp, cpu, SIM_WRITE, VA3 - PAGE - i * PAGE, 1, NULL), true);
	} else if (cpu == 1) {
		bool there[32] = {false};
		for (unsigned i = 0; i < 200; i++) {
			unsigned k = (i * 7) % 32;
			mmu_vaddr_t va = VA2 + k * 2 * PAGE;
			TCHECK_EQ(there[k] ? mmu_vm_region_remove(sp, va, PAGE)
					   : mmu_vm_region_add(sp, va, PAGE, MMU_PROT_R, MMU_VM_ANON, 0), MMU_OK);
			there[k] = !there[k];
			TCHECK_EQ(mmu_vm_space_set_region_storage(sp, storage[i % 2], 64), MMU_OK);
			sim_poll(sim);
		}
	} else {
		struct mmu_vm_region r;
		for (unsigned i = 0; i < 2000; i++) {
			mmu_vaddr_t va = VA3 - PAGE - (i % (GROW + 1)) * PAGE;
			if (mmu_vm_region_get(sp, va, &r)) { /* the stack, once it reached VA */
				TCHECK(r.start <= va && r.start + r.len == VA3 && r.kind == MMU_VM_STACK);
			}
			TCHECK(mmu_vm_region_get(sp, VA3 - PAGE, &r));
			sim_poll(sim);
		}
	}
	barrier(sim, sh);
	mmu_tree_load(mmu_kernel_tree(sp->tree.mmu));
}

static void phase3(struct sim *sim, struct shared *sh)
{
	struct mmu *mmu = sim_mmu(sim);
	uint64_t frames0 = sim_frames_in_use(sim);
	sim_set_cpu(sim, 0);
	CHECK_OK(mmu_vm_space_create(mmu, &sh->sp[0]));
	CHECK_OK(mmu_vm_region_add(&sh->sp[0], VA3 - PAGE, PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_STACK, 0));
	sim_run_cpus(sim, run_cpu_regions, sh);
	struct mmu_vm_counters k = mmu_vm_counters_take(&sh->sp[0]);
	CHECK_EQ(k.stack, GROW);
	const struct mmu_vm_region *r = mmu_vm_region_at(&sh->sp[0], VA3 - PAGE);
	CHECK(r && r->start == VA3 - PAGE - GROW * PAGE);
	CHECK(sh->sp[0].region == storage[1]);
	CHECK_EQ(sim_frames_in_use(sim), frames0 + GROW);
	CHECK_OK(mmu_vm_space_exit(&sh->sp[0]));
	CHECK_EQ(sim_frames_in_use(sim), frames0);
}

/* ---- phase 4: object page-outs racing faults ----
 * A store's object (its frames made up front, kept by the store) mapped
 * shared by three spaces, each on its own CPU: CPU c writes its byte at
 * offset c of every page and reads it back, round after round, while CPU
 * 0 pages the object's pages out of all three and takes their A bits.
 * Each call is MMU_OK or BUSY (a space lock held by a fault), never
 * anything else; no write is lost (the frames are the store's, paged out
 * or not), and some page-outs went through. */

#define OPAGES 16
#define ROUNDS 40
#define VA4 0x40000000ull

static struct {
	mmu_pa_t frame[OPAGES];
	struct mmu_vm_object obj;
	mmu_pa_t slots[OPAGES];
	struct mmu_vm_object_mapper rec[NCPUS];
	atomic_uint done, outs, busy, sweeps;
	atomic_uint round[NCPUS]; /* writer c is in round round[c] - 1 */
	uint8_t last[NCPUS]; /* the byte CPU c wrote last */
} obj4;

static mmu_err_t store4_get(void *ctx, uint64_t i, mmu_pa_t *out)
{
	(void)ctx;
	*out = obj4.frame[i];
	return MMU_OK;
}

static const struct mmu_vm_pager_ops store4_ops = {.get_page = store4_get, .shared_writable = true};

/* Whether every writer started round R (or finished). */
static bool writers_in(unsigned r)
{
	for (unsigned c = 1; c < NCPUS; c++)
		if (atomic_load(&obj4.round[c]) < r + 1 && atomic_load(&obj4.done) < NCPUS - 1)
			return false;
	return true;
}

/* Sweep S over every page once the writers are in their round S, so
 * that the two overlap round after round (with more CPU threads than
 * host cores, a free-running loop would mostly run alone). */
static void reclaim_loop(struct sim *sim, unsigned cpu)
{
	bool dirty, ref;
	for (unsigned s = 0; atomic_load(&obj4.done) < NCPUS - 1; s++) {
		while (!writers_in(s))
			sim_poll(sim);
		for (unsigned i = 0; i < OPAGES; i++) {
			mmu_err_t err = ((s + i) % 3) ? mmu_vm_object_page_out(&obj4.obj, i, &dirty)
						      : mmu_vm_object_page_referenced(&obj4.obj, i, MMU_VM_ACCESSED_CLEAR, &ref);
			TCHECK(err == MMU_OK || err == MMU_E_BUSY || err == MMU_E_NOTEXIST);
			atomic_fetch_add(err == MMU_OK ? &obj4.outs : &obj4.busy, err != MMU_E_NOTEXIST);
		}
		atomic_store(&obj4.sweeps, s + 1);
	}
}

static void run_cpu_objects(struct sim *sim, unsigned cpu, void *arg)
{
	struct shared *sh = arg;
	struct mmu_vm_space *sp = &sh->sp[cpu];
	if (cpu)
		mmu_tree_load(&sp->tree);
	barrier(sim, sh);
	if (cpu == 0) {
		reclaim_loop(sim, cpu);
	} else {
		uint8_t b = 0;
		for (unsigned r = 0; r < ROUNDS; r++) {
			/* Round R while CPU 0 sweeps R, after its sweep R - 1
			 * (answering its shootdowns meanwhile). */
			while (atomic_load(&obj4.sweeps) < r)
				sim_poll(sim);
			atomic_store(&obj4.round[cpu], r + 1);
			for (unsigned i = 0; i < OPAGES; i++) {
				mmu_vaddr_t va = VA4 + i * PAGE + cpu;
				TCHECK_EQ(uaccess(sim, sp, cpu, SIM_WRITE, va, (uint8_t)(r + cpu), NULL), true);
				TCHECK_EQ(uaccess(sim, sp, cpu, SIM_READ, va, 0, &b), true);
				TCHECK_EQ(b, (uint8_t)(r + cpu));
				obj4.last[cpu] = (uint8_t)(r + cpu); /* read after the join */
				sim_poll(sim); /* an interrupt between instructions: CPU 0's shootdown */
			}
		}
		atomic_fetch_add(&obj4.done, 1);
	}
	barrier(sim, sh);
	mmu_tree_load(mmu_kernel_tree(sp->tree.mmu));
}

static void phase4(struct sim *sim, struct shared *sh)
{
	struct mmu *mmu = sim_mmu(sim);
	uint64_t frames0 = sim_frames_in_use(sim);
	sim_set_cpu(sim, 0);
	for (unsigned i = 0; i < OPAGES; i++) {
		CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &obj4.frame[i]));
		mmu_vm_frame_ref(mmu, obj4.frame[i]);
	}
	CHECK_OK(mmu_vm_object_init_pager(mmu, &obj4.obj, obj4.slots, OPAGES, &store4_ops, NULL));
	CHECK_OK(mmu_vm_object_set_mapper_storage(&obj4.obj, obj4.rec, NCPUS));
	for (unsigned c = 1; c < NCPUS; c++) {
		CHECK_OK(mmu_vm_space_create(mmu, &sh->sp[c]));
		CHECK_OK(mmu_vm_region_add_object(&sh->sp[c], VA4, OPAGES * PAGE, MMU_PROT_R | MMU_PROT_W,
						  MMU_VM_SHARED, &obj4.obj, 0));
	}
	sim_run_cpus(sim, run_cpu_objects, sh);
	CHECK(atomic_load(&obj4.outs) >= ROUNDS);
	uint64_t demand = 0;
	for (unsigned c = 1; c < NCPUS; c++)
		demand += mmu_vm_counters_take(&sh->sp[c]).demand;
	CHECK(demand > (NCPUS - 1) * OPAGES); /* pages paged out faulted back in */
	for (unsigned i = 0; i < OPAGES; i++)
		for (unsigned c = 1; c < NCPUS; c++)
			CHECK_EQ(sim_phys(sim, obj4.frame[i])[c], obj4.last[c]);
	for (unsigned c = 1; c < NCPUS; c++)
		CHECK_OK(mmu_vm_space_exit(&sh->sp[c]));
	CHECK_OK(mmu_vm_object_release(&obj4.obj));
	for (unsigned i = 0; i < OPAGES; i++) {
		CHECK(mmu_vm_frame_unref(mmu, obj4.frame[i]));
		sim_frame_free(sim, MMU_SIZE_4K, obj4.frame[i]);
	}
	CHECK_EQ(sim_frames_in_use(sim), frames0);
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned pcid = 0; pcid < 2; pcid++) {
		struct sim_config cfg;
		sim_config_default(&cfg);
		cfg.ncpus = NCPUS;
		cfg.threaded = true;
		cfg.pcide = pcid != 0;
		struct sim *sim = st_machine(&cfg);
		static struct shared sh;
		sh = (struct shared){.phase2 = false};
		phase1(sim, &sh);
		phase2(sim, &sh);
		phase3(sim, &sh);
		obj4.done = obj4.outs = obj4.busy = obj4.sweeps = 0;
		for (unsigned c = 0; c < NCPUS; c++)
			obj4.round[c] = 0;
		phase4(sim, &sh);
		CHECK_EQ(sim_tlbsan_audit(sim), 0);
		st_check_sanitizer(sim);
		sim_destroy(sim);
	}
	return 0;
}
