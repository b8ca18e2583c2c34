/* SPDX-License-Identifier: MIT */
/* A dirty bit is never lost (run under TSan by `make test`). In each
 * round CPU 1 writes the round's number into each of 16 pages once, in a
 * random order, with reads between, while CPU 0 harvests without a
 * pause: A alone, or A and D followed by a "writeback" of each page
 * reported dirty (its byte copied from the frame, after the flush: only
 * then is the page clean). When the writer is done, one more harvest and
 * writeback, and every copy must hold the round's number: every write
 * was reported dirty after it landed.
 *
 * What would lose one: a harvest of A that rewrites the leaf with a plain
 * read and write, dropping a D the writer's walk set in between (the
 * walk after the previous flush made the writer cache the page dirty, so
 * no later write sets D again); or a cleared D not invalidated (the
 * writer goes on through its dirty translation). Both leave a copy behind.
 *
 *   test_harvest_threads [ROUNDS]
 *
 * Checks on CPU threads are counted atomically (TCHECK). */
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "simtest.h"

#define NCPUS 2
#define PAGE 0x1000ull
#define NPAGES 16
#define BASE 0x7f0000000000ull
#define BOTH (MMU_HARVEST_ACCESSED | MMU_HARVEST_DIRTY)

struct shared {
	struct mmu_tree tree;
	mmu_pa_t frame[NPAGES];
	unsigned rounds;
	atomic_uint round_started, round_written; /* the writer's progress */
	atomic_uint round_checked;                /* the harvester's */
	atomic_uint begun;                        /* harvests started */
	uint8_t copy[NPAGES];                     /* the harvester's written-back bytes */
	uint64_t harvests, written_back, behind;
};

/* Wait for *COUNTER to reach N, taking IPIs meanwhile. */
static void wait_for(struct sim *sim, atomic_uint *counter, unsigned n)
{
	for (unsigned spins = 0; atomic_load(counter) < n; spins++) {
		sim_poll(sim);
		if (spins % 64 == 63)
			sched_yield(); /* more CPU threads than host cores */
	}
}

/* CPU 1: each page once per round, in a random order, each write as
 * soon as a harvest has begun after the previous one (so that they run
 * at the same time). */
static void writer(struct sim *sim, unsigned cpu, struct shared *s)
{
	struct st_rng rng;
	st_rng_seed(&rng, 0x77);
	for (unsigned r = 1; r <= s->rounds; r++) {
		wait_for(sim, &s->round_checked, r - 1);
		atomic_store(&s->round_started, r);
		unsigned order[NPAGES];
		for (unsigned p = 0; p < NPAGES; p++)
			order[p] = p;
		for (unsigned p = NPAGES; p > 1; p--) {
			unsigned j = (unsigned)st_rng_below(&rng, p), t = order[p - 1];
			order[p - 1] = order[j];
			order[j] = t;
		}
		for (unsigned k = 0; k < NPAGES; k++) {
			mmu_vaddr_t va = BASE + order[k] * PAGE;
			wait_for(sim, &s->begun, atomic_load(&s->begun) + 1);
			TCHECK_EQ(st_result(sim_access(sim, cpu, SIM_WRITE, va, false, false, (uint8_t)r)), ST_OK);
			TCHECK_EQ(st_result(sim_access(sim, cpu, SIM_READ, BASE + st_rng_below(&rng, NPAGES) * PAGE, false,
						       false, 0)),
				  ST_OK);
			sim_poll(sim);
		}
		atomic_store(&s->round_written, r);
	}
}

struct dirty_set {
	uint32_t pages; /* bit P: page P reported dirty */
	unsigned cpu;   /* for TCHECK */
};

static void note_dirty(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t, unsigned had)
{
	struct dirty_set *d = ctx;
	unsigned cpu = d->cpu;
	TCHECK_EQ(t->size, MMU_SIZE_4K);
	if (had & MMU_HARVEST_DIRTY)
		d->pages |= 1u << ((va - BASE) / PAGE);
}

/* One harvest of WHAT and its flush; with D, then the copy of each page
 * reported dirty. */
static void harvest(struct sim *sim, struct shared *s, unsigned cpu, unsigned what, bool own_batch)
{
	struct dirty_set d = {.cpu = cpu};
	struct mmu_tlb_batch b;
	mmu_tlb_batch_init(&b, &s->tree);
	atomic_fetch_add(&s->begun, 1);
	mmu_err_t err = mmu_harvest(&s->tree, BASE, NPAGES * PAGE, what, note_dirty, &d, own_batch ? &b : NULL);
	TCHECK_EQ(err, MMU_OK);
	mmu_tlb_flush(&b);
	mmu_tlb_batch_done(&b);
	for (unsigned p = 0; p < NPAGES; p++) {
		if (d.pages & (1u << p)) {
			s->copy[p] = __atomic_load_n(sim_phys(sim, s->frame[p]), __ATOMIC_RELAXED);
			s->written_back++;
		}
	}
	s->harvests++;
}

/* CPU 0: harvests while the round is written, then the round's check. */
static void harvester(struct sim *sim, unsigned cpu, struct shared *s)
{
	for (unsigned r = 1; r <= s->rounds; r++) {
		wait_for(sim, &s->round_started, r);
		for (unsigned i = 0; atomic_load(&s->round_written) < r; i++) {
			harvest(sim, s, cpu, i % 2 ? BOTH : MMU_HARVEST_ACCESSED, i % 3 != 0);
			sim_poll(sim);
		}
		harvest(sim, s, cpu, BOTH, r % 2);
		for (unsigned p = 0; p < NPAGES; p++)
			s->behind += s->copy[p] != (uint8_t)r;
		atomic_store(&s->round_checked, r);
	}
}

static void cpu_main(struct sim *sim, unsigned cpu, void *arg)
{
	struct shared *s = arg;
	if (cpu == 0) {
		harvester(sim, cpu, s);
		return;
	}
	mmu_tree_load(&s->tree);
	writer(sim, cpu, s);
}

int test_main(int argc, char **argv)
{
	static struct shared s;
	s.rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 500;
	struct sim *sim = st_threaded(NCPUS, 64ull << 20);
	struct mmu *mmu = sim_mmu(sim);
	CHECK_OK(mmu_tree_create(mmu, &s.tree));
	for (unsigned p = 0; p < NPAGES; p++) {
		CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_4K, &s.frame[p]));
		CHECK_OK(mmu_map(&s.tree, BASE + p * PAGE, s.frame[p], PAGE, MMU_PROT_R | MMU_PROT_W, NULL, NULL));
	}
	sim_run_cpus(sim, cpu_main, &s);
	printf("%u rounds of %u writes: %llu harvests, %llu pages written back, %llu copies behind\n", s.rounds,
	       NPAGES, (unsigned long long)s.harvests, (unsigned long long)s.written_back,
	       (unsigned long long)s.behind);
	CHECK_EQ(s.behind, 0);
	CHECK(s.harvests > (uint64_t)NPAGES * s.rounds);
	/* Nothing left dirty: the last harvest took it all. */
	for (unsigned p = 0; p < NPAGES; p++) {
		struct mmu_translation t;
		CHECK_OK(mmu_walk(&s.tree, BASE + p * PAGE, &t));
		CHECK_EQ(t.leaf & MMU_PTE_D, 0);
	}
	st_check_sanitizer(sim);
	st_load(sim, 1, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&s.tree));
	for (unsigned p = 0; p < NPAGES; p++)
		sim_frame_free(sim, MMU_SIZE_4K, s.frame[p]);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy(sim);
	return 0;
}
