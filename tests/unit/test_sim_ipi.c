/* SPDX-License-Identifier: MIT */
/* IPI delivery: deterministic FIFO order with coalescing, and threaded
 * delivery without deadlock when CPUs shoot at each other. */
#include <sched.h>

#include "test_sim_helpers.h"

struct ipi_log {
	unsigned n;
	unsigned cpu[64];
};

static void log_handler(struct sim *sim, void *ctx)
{
	struct ipi_log *log = ctx;
	log->cpu[log->n++] = sim_cpu(sim);
}

static void test_deterministic_order(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 4;
	cfg.mem = 16ull << 20;
	struct sim *sim = th_machine(&cfg);
	struct ipi_log log = {0};
	sim_set_ipi_handler(sim, log_handler, &log);
	sim_set_cpu(sim, 1);
	sim_ipi_send(sim, 2);
	sim_ipi_send(sim, 0);
	sim_ipi_send(sim, 3);
	sim_ipi_send(sim, 2); /* still pending: coalesces */
	CHECK_EQ(log.n, 0);   /* nothing runs before cpu_relax */
	sim->port.ops->cpu_relax(sim->port.ctx);
	CHECK_EQ(log.n, 3);
	CHECK_EQ(log.cpu[0], 2);
	CHECK_EQ(log.cpu[1], 0);
	CHECK_EQ(log.cpu[2], 3);
	CHECK_EQ(sim_cpu(sim), 1); /* switched back */
	CHECK_EQ(sim->port.ops->cpu_id(sim->port.ctx), 1);
	sim_ipi_send(sim, 2);
	sim_poll(sim);
	CHECK_EQ(log.n, 4);
	CHECK_EQ(log.cpu[3], 2);
	CHECK_EQ(sim_ipis_taken(sim, 2), 2);
	sim_destroy_bare(sim);
}

struct shoot {
	atomic_uint received[MMU_MAX_CPUS];
	atomic_uint seen_as_wrong_cpu;
	unsigned rounds;
};

static void count_handler(struct sim *sim, void *ctx)
{
	struct shoot *s = ctx;
	atomic_fetch_add(&s->received[sim_cpu(sim)], 1);
}

/* Every CPU sends to every other CPU and waits for the delivery, taking its
 * own IPIs while it waits, as the library's shootdown loop does. */
static void shooter(struct sim *sim, unsigned cpu, void *arg)
{
	struct shoot *s = arg;
	unsigned n = sim_config(sim)->ncpus;
	if (sim_cpu(sim) != cpu)
		atomic_fetch_add(&s->seen_as_wrong_cpu, 1);
	for (unsigned r = 0; r < s->rounds; r++) {
		unsigned target = (cpu + 1 + r % (n - 1)) % n;
		uint64_t before = sim_ipis_taken(sim, target);
		sim_ipi_send(sim, target);
		while (sim_ipis_taken(sim, target) == before)
			sim->port.ops->cpu_relax(sim->port.ctx);
	}
	/* CPUs that finished early have their IPIs taken on their behalf. */
}

static void test_threaded_cross_fire(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 4;
	cfg.mem = 16ull << 20;
	cfg.threaded = true;
	struct sim *sim = th_machine(&cfg);
	static struct shoot s;
	s.rounds = 500;
	sim_set_ipi_handler(sim, count_handler, &s);
	sim_run_cpus(sim, shooter, &s);
	unsigned total = 0;
	for (unsigned i = 0; i < 4; i++)
		total += atomic_load(&s.received[i]);
	/* Coalescing may merge IPIs; every wait was satisfied, none was lost. */
	CHECK(total >= 500);
	CHECK(total <= 4 * 500);
	CHECK_EQ(atomic_load(&s.seen_as_wrong_cpu), 0);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy_bare(sim);
}

/* Threaded memory traffic: every CPU reads and writes its own page while
 * the sanitizer and TLB locks are exercised (TSan target). */
static void toucher(struct sim *sim, unsigned cpu, void *arg)
{
	(void)arg;
	mmu_vaddr_t va = 0x400000ull + cpu * 0x1000ull;
	for (unsigned i = 0; i < 2000; i++) {
		struct sim_access a = sim_access(sim, cpu, SIM_WRITE, va + (i & 0xff), false, false, (uint8_t)i);
		if (a.outcome != SIM_OK)
			abort();
		if (i % 64 == 0)
			sim_invlpg(sim, cpu, va);
		sim_poll(sim);
	}
}

static void test_threaded_accesses(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 4;
	cfg.mem = 16ull << 20;
	cfg.threaded = true;
	struct sim *sim = th_machine(&cfg);
	mmu_pa_t root = th_root_on_all(sim);
	mmu_pa_t frame[4];
	for (unsigned i = 0; i < 4; i++) {
		frame[i] = th_data(sim, MMU_SIZE_4K);
		th_map(sim, root, 0x400000ull + i * 0x1000ull, frame[i], MMU_SIZE_4K, MMU_PTE_RW);
	}
	sim_run_cpus(sim, toucher, NULL);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(sim_phys(sim, frame[i])[0xcf], 0xcf);
	CHECK_EQ(sim_tlbsan_reports(sim), 0);
	sim_destroy_bare(sim);
}

int test_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	test_deterministic_order();
	test_threaded_cross_fire();
	test_threaded_accesses();
	return 0;
}
