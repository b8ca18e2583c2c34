/* SPDX-License-Identifier: MIT */
/* Shootdown stress with one thread per CPU (run under TSan by `make test`).
 *
 * Phase 1: four CPUs share one tree; each maps, writes, protects and unmaps
 * its own slice of the user half and of the kernel window while reading and
 * writing the other CPUs' slices, so shootdowns cross in every direction.
 * What a CPU does to its own slice has an exact expected outcome (no other
 * CPU touches it); accesses to the others' slices may see either side of a
 * change but nothing else.
 *
 * Phase 2: CPUs 0 and 1 unmap at the same moment in the same tree (disjoint
 * ranges, then the same range: exactly one of them gets OK) while CPUs 2
 * and 3 keep reading.
 *
 *   test_shootdown_threads [ROUNDS]
 *
 * Checks are counted per thread and summed after the join (the check kit's
 * counter is not thread-safe). */
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "simtest.h"

#define NCPUS 4
#define PAGE 0x1000ull
#define SLICE_PAGES 8
#define USER_SLICE(cpu) (0x40000000ull + (uint64_t)(cpu) * 0x200000ull)
#define KERN_SLICE(cpu) (0xffffc80000000000ull + 0x40000000ull + (uint64_t)(cpu) * 0x200000ull)


struct shared {
	struct mmu_tree tree;
	mmu_pa_t frame[NCPUS]; /* one 2M data frame per CPU */
	unsigned rounds;
	/* a barrier that keeps taking IPIs while it waits */
	atomic_uint arrived, generation;
	unsigned parties;
	atomic_bool phase2_done;
	atomic_uint shared_ok, shared_notexist;
	atomic_uint_fast64_t other_ok, other_fault;
};

static void barrier(struct sim *sim, struct shared *s)
{
	unsigned gen = atomic_load(&s->generation);
	if (atomic_fetch_add(&s->arrived, 1) + 1 == s->parties) {
		atomic_store(&s->arrived, 0);
		atomic_fetch_add(&s->generation, 1);
		return;
	}
	while (atomic_load(&s->generation) == gen) {
		sim_poll(sim);
		sched_yield(); /* more CPU threads than host cores */
	}
}

static uint32_t access1(struct sim *sim, unsigned cpu, enum sim_access_kind kind, mmu_vaddr_t va, uint8_t byte)
{
	uint32_t r = st_result(sim_access(sim, cpu, kind, va, false, false, byte));
	sim_poll(sim);
	return r;
}

/* Touch a page of another CPU's slice: whichever state it is in, a read
 * is OK or not-present and a write is OK, not-present or read-only. */
static void poke_other(struct sim *sim, struct shared *s, unsigned cpu, unsigned i)
{
	unsigned other = (cpu + 1 + i % (NCPUS - 1)) % NCPUS;
	mmu_vaddr_t va = (i & 4 ? KERN_SLICE(other) : USER_SLICE(other)) + (i % SLICE_PAGES) * PAGE + 0x800 + cpu;
	uint32_t r = access1(sim, cpu, SIM_READ, va, 0);
	TCHECK(r == ST_OK || r == 0);
	uint32_t w = access1(sim, cpu, SIM_WRITE, va, (uint8_t)cpu);
	TCHECK(w == ST_OK || w == ST_PF_W || w == (ST_PF_W | ST_PF_P));
	atomic_fetch_add(r == ST_OK ? &s->other_ok : &s->other_fault, 1);
}

/* One round on a slice at BASE (user or kernel) that only CPU changes. */
static void own_round(struct sim *sim, struct shared *s, unsigned cpu, struct mmu_tree *t, mmu_vaddr_t base,
		      unsigned i)
{
	mmu_pa_t f = mmu_pa_add(s->frame[cpu], (base >> 63) ? 0x100000 : 0);
	uint64_t len = SLICE_PAGES * PAGE;
	struct mmu_map_opts o = {.global = (base >> 63) && (i & 1)};
	TCHECK_EQ(mmu_map(t, base, f, len, MMU_PROT_R | MMU_PROT_W, &o, NULL), MMU_OK);
	for (unsigned p = 0; p < SLICE_PAGES; p++) {
		uint8_t byte = (uint8_t)(i * 16 + p);
		TCHECK_EQ(access1(sim, cpu, SIM_WRITE, base + p * PAGE, byte), ST_OK);
		TCHECK_EQ(*sim_phys(sim, mmu_pa_add(f, p * PAGE)), byte);
	}
	poke_other(sim, s, cpu, i);
	/* Read-only: supervisor writes fault with WP=1 (P|W). */
	TCHECK_EQ(mmu_protect(t, base, len, MMU_PROT_R, NULL), MMU_OK);
	for (unsigned p = 0; p < SLICE_PAGES; p += 3) {
		TCHECK_EQ(access1(sim, cpu, SIM_WRITE, base + p * PAGE, 0), ST_PF_P | ST_PF_W);
		TCHECK_EQ(access1(sim, cpu, SIM_READ, base + p * PAGE, 0), ST_OK);
	}
	poke_other(sim, s, cpu, i + 1);
	/* Half of it unmapped in a batch with a protect of the other half. */
	struct mmu_tlb_batch b;
	mmu_tlb_batch_init(&b, t);
	TCHECK_EQ(mmu_unmap(t, base, len / 2, &b), MMU_OK);
	TCHECK_EQ(mmu_protect(t, base + len / 2, len / 2, MMU_PROT_R | MMU_PROT_W, &b), MMU_OK);
	mmu_tlb_flush(&b);
	mmu_tlb_batch_done(&b);
	TCHECK_EQ(access1(sim, cpu, SIM_READ, base, 0), 0);
	TCHECK_EQ(access1(sim, cpu, SIM_WRITE, base + len / 2, 1), ST_OK);
	poke_other(sim, s, cpu, i + 2);
	TCHECK_EQ(mmu_unmap(t, base, len, NULL), MMU_OK);
	for (unsigned p = 0; p < SLICE_PAGES; p += 2)
		TCHECK_EQ(access1(sim, cpu, SIM_WRITE, base + p * PAGE, 0), ST_PF_W);
}

static void phase1(struct sim *sim, unsigned cpu, void *arg)
{
	struct shared *s = arg;
	struct mmu *mmu = sim_mmu(sim);
	mmu_tree_load(&s->tree);
	barrier(sim, s);
	for (unsigned i = 0; i < s->rounds; i++) {
		own_round(sim, s, cpu, &s->tree, USER_SLICE(cpu), i);
		if (i % 4 == cpu % 4)
			own_round(sim, s, cpu, mmu_kernel_tree(mmu), KERN_SLICE(cpu), i);
		/* Now and then leave the tree and come back: the active mask
		 * changes under the other CPUs' shootdowns. */
		if (i % 7 == cpu) {
			mmu_tree_load(mmu_kernel_tree(mmu));
			poke_other(sim, s, cpu, i);
			mmu_tree_load(&s->tree);
		}
	}
	barrier(sim, s);
}

static void phase2(struct sim *sim, unsigned cpu, void *arg)
{
	struct shared *s = arg;
	mmu_tree_load(&s->tree);
	if (cpu >= 2) {
		/* Readers: keep the tree hot in their TLBs until the unmappers
		 * are done. */
		for (unsigned i = 0; !atomic_load(&s->phase2_done); i++) {
			mmu_vaddr_t va = USER_SLICE(i % 3) + (i % SLICE_PAGES) * PAGE;
			uint32_t r = access1(sim, cpu, SIM_READ, va, 0);
			TCHECK(r == ST_OK || r == 0);
			sched_yield();
		}
		return;
	}
	const uint64_t len = SLICE_PAGES * PAGE;
	for (unsigned i = 0; i < s->rounds; i++) {
		TCHECK_EQ(mmu_map(&s->tree, USER_SLICE(cpu), s->frame[cpu], len, MMU_PROT_R, NULL, NULL), MMU_OK);
		if (cpu == 0)
			TCHECK_EQ(mmu_map(&s->tree, USER_SLICE(2), s->frame[2], len, MMU_PROT_R, NULL, NULL), MMU_OK);
		barrier(sim, s);
		TCHECK_EQ(access1(sim, cpu, SIM_READ, USER_SLICE(cpu), 0), ST_OK);
		TCHECK_EQ(access1(sim, cpu, SIM_READ, USER_SLICE(1 - cpu) + PAGE, 0), ST_OK);
		TCHECK_EQ(access1(sim, cpu, SIM_READ, USER_SLICE(2), 0), ST_OK);
		barrier(sim, s);
		/* Both at once: disjoint ranges. */
		TCHECK_EQ(mmu_unmap(&s->tree, USER_SLICE(cpu), len, NULL), MMU_OK);
		/* Both at once: the same range; one of them finds it gone. */
		mmu_err_t err = mmu_unmap(&s->tree, USER_SLICE(2), len, NULL);
		TCHECK(err == MMU_OK || err == MMU_E_NOTEXIST);
		atomic_fetch_add(err == MMU_OK ? &s->shared_ok : &s->shared_notexist, 1);
		TCHECK_EQ(access1(sim, cpu, SIM_READ, USER_SLICE(2), 0), 0);
		barrier(sim, s);
		TCHECK_EQ(access1(sim, cpu, SIM_READ, USER_SLICE(1 - cpu) + PAGE, 0), 0);
		barrier(sim, s);
	}
	if (cpu == 0)
		atomic_store(&s->phase2_done, true);
}

int test_main(int argc, char **argv)
{
	unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 1500;
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = NCPUS;
	cfg.threaded = true;
	cfg.mem = 64ull << 20;
	struct sim *sim = st_machine(&cfg);
	struct mmu *mmu = sim_mmu(sim);
	uint64_t tables0 = sim_tables_in_use(sim);
	static struct shared s;
	s.rounds = rounds;
	CHECK_OK(mmu_tree_create(mmu, &s.tree));
	for (unsigned c = 0; c < NCPUS; c++)
		CHECK_OK(sim_frame_alloc(sim, MMU_SIZE_2M, &s.frame[c]));
	(void)mmu_counters_take(mmu);

	s.parties = NCPUS;
	sim_run_cpus(sim, phase1, &s);
	struct mmu_counters c1 = mmu_counters_take(mmu);
	printf("phase 1: %u rounds, invlpg %llu full %llu ipis %llu; other slices ok %llu fault %llu\n", rounds,
	       (unsigned long long)c1.invlpg, (unsigned long long)c1.full, (unsigned long long)c1.ipis,
	       (unsigned long long)atomic_load(&s.other_ok), (unsigned long long)atomic_load(&s.other_fault));
	/* Every round of every CPU unmaps in a tree loaded on several CPUs. */
	CHECK(c1.ipis >= rounds * NCPUS);
	CHECK(c1.invlpg >= rounds * NCPUS * SLICE_PAGES);
	CHECK(atomic_load(&s.other_ok) > 0);
	CHECK(atomic_load(&s.other_fault) > 0);
	for (unsigned c = 0; c < NCPUS; c++)
		CHECK(sim_tlb_size(sim, c) < 1000);
	CHECK_EQ(mmu_user_tables(mmu), 1); /* every slice unmapped: only the root */

	s.parties = 2;
	sim_run_cpus(sim, phase2, &s);
	struct mmu_counters c2 = mmu_counters_take(mmu);
	printf("phase 2: %u rounds, invlpg %llu full %llu ipis %llu; same-range unmap ok %u notexist %u\n", rounds,
	       (unsigned long long)c2.invlpg, (unsigned long long)c2.full, (unsigned long long)c2.ipis,
	       atomic_load(&s.shared_ok), atomic_load(&s.shared_notexist));
	CHECK_EQ(atomic_load(&s.shared_ok), rounds);
	CHECK_EQ(atomic_load(&s.shared_notexist), rounds);
	CHECK(c2.ipis >= 3 * rounds);
	CHECK_EQ(mmu_user_tables(mmu), 1);

	st_check_sanitizer(sim);
	for (unsigned c = 0; c < NCPUS; c++)
		st_load(sim, c, mmu_kernel_tree(mmu));
	CHECK_OK(mmu_tree_destroy(&s.tree));
	CHECK_EQ(sim_tables_in_use(sim), tables0);
	for (unsigned c = 0; c < NCPUS; c++)
		sim_frame_free(sim, MMU_SIZE_2M, s.frame[c]);
	CHECK_EQ(sim_frames_in_use(sim), 0);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy(sim);
	return 0;
}
