/* SPDX-License-Identifier: MIT */
/* Inter-processor interrupts and CPU threads.
 *
 * Deterministic mode (cfg.threaded = false): send_ipi queues the target
 * (an IPI already pending for it coalesces, as the APIC's IRR does); the
 * port's cpu_relax delivers every pending IPI in FIFO order, each by making
 * the target the current CPU, running the handler, and switching back. The
 * same input always gives the same interleaving and the same output.
 *
 * Threaded mode: each CPU has an atomic pending flag. A CPU takes its own
 * IPIs in sim_poll() and in cpu_relax. A CPU no thread acts as (outside
 * sim_run_cpus, or once its function returned) would never poll, so any
 * spinning CPU takes that CPU's IPIs on its behalf. The per-CPU HANDLING
 * flag makes sure one thread at a time runs a given CPU's handler. */
#include <sched.h>

#include "sim/internal.h"

void sim_set_ipi_handler(struct sim *sim, sim_ipi_handler_fn fn, void *ctx)
{
	sim->ipi_handler = fn;
	sim->ipi_ctx = ctx;
}

uint64_t sim_ipis_taken(const struct sim *sim, unsigned cpu) { return atomic_load(&sim->cpu[cpu].ipis_taken); }

/* Run the handler as CPU TARGET on the calling thread. */
static void run_handler_as(struct sim *sim, unsigned target)
{
	unsigned self = sim_cpu(sim);
	sim_set_cpu(sim, target);
	atomic_fetch_add(&sim->cpu[target].ipis_taken, 1);
	if (sim->ipi_handler)
		sim->ipi_handler(sim, sim->ipi_ctx);
	sim_set_cpu(sim, self);
}

static void queue_push(struct sim_ipi_queue *q, unsigned cpu)
{
	pthread_mutex_lock(&q->lock);
	if (!q->queued[cpu]) {
		q->queued[cpu] = true;
		q->target[(q->head + q->count++) % MMU_MAX_CPUS] = cpu;
	}
	pthread_mutex_unlock(&q->lock);
}

static bool queue_pop(struct sim_ipi_queue *q, unsigned *cpu)
{
	pthread_mutex_lock(&q->lock);
	bool any = q->count > 0;
	if (any) {
		*cpu = q->target[q->head];
		q->head = (q->head + 1) % MMU_MAX_CPUS;
		q->count--;
		q->queued[*cpu] = false;
	}
	pthread_mutex_unlock(&q->lock);
	return any;
}

static void deliver_queued(struct sim *sim)
{
	struct sim_ipi_queue *q = &sim->ipiq;
	/* A handler that spins would call cpu_relax again: the outer loop
	 * delivers what it queues, so the nested call has nothing to do. */
	if (q->delivering)
		return;
	q->delivering = true;
	unsigned target;
	while (queue_pop(q, &target))
		run_handler_as(sim, target);
	q->delivering = false;
}

/* Take CPU's pending IPI if nobody else is running its handler. */
static bool take_pending(struct sim *sim, unsigned cpu)
{
	struct sim_cpu *c = &sim->cpu[cpu];
	if (!atomic_load(&c->ipi_pending))
		return false;
	if (atomic_flag_test_and_set(&c->ipi_handling))
		return false;
	bool had = atomic_exchange(&c->ipi_pending, false);
	if (had)
		run_handler_as(sim, cpu);
	atomic_flag_clear(&c->ipi_handling);
	return had;
}

void sim_ipi_send(struct sim *sim, unsigned cpu)
{
	if (cpu >= sim->cfg.ncpus)
		sim_die("IPI to cpu %u of %u", cpu, sim->cfg.ncpus);
	if (sim->cfg.threaded)
		atomic_store(&sim->cpu[cpu].ipi_pending, true);
	else
		queue_push(&sim->ipiq, cpu);
}

void sim_poll(struct sim *sim)
{
	if (sim->cfg.threaded)
		take_pending(sim, sim_cpu(sim));
	else
		deliver_queued(sim);
}

void sim_ipi_relax(struct sim *sim)
{
	if (!sim->cfg.threaded) {
		deliver_queued(sim);
		return;
	}
	unsigned self = sim_cpu(sim);
	take_pending(sim, self);
	for (unsigned cpu = 0; cpu < sim->cfg.ncpus; cpu++)
		if (cpu != self && !atomic_load(&sim->cpu[cpu].running))
			take_pending(sim, cpu);
	sched_yield(); /* more CPU threads than host cores: let the others run */
}

void sim_ipi_drain(struct sim *sim)
{
	deliver_queued(sim);
	for (unsigned cpu = 0; cpu < sim->cfg.ncpus; cpu++)
		take_pending(sim, cpu);
}

struct cpu_thread {
	struct sim *sim;
	unsigned cpu;
	sim_cpu_fn fn;
	void *arg;
	pthread_t thread;
};

static void *cpu_thread_main(void *p)
{
	struct cpu_thread *t = p;
	sim_set_cpu(t->sim, t->cpu);
	t->fn(t->sim, t->cpu, t->arg);
	atomic_store(&t->sim->cpu[t->cpu].running, false);
	take_pending(t->sim, t->cpu);
	return NULL;
}

void sim_run_cpus(struct sim *sim, sim_cpu_fn fn, void *arg)
{
	if (!sim->cfg.threaded)
		sim_die("sim_run_cpus needs cfg.threaded");
	struct cpu_thread t[MMU_MAX_CPUS];
	unsigned n = sim->cfg.ncpus;
	atomic_store(&sim->threads_running, true);
	/* Mark every CPU running before any starts: an early IPI must wait for
	 * its own thread instead of being taken on its behalf. */
	for (unsigned i = 0; i < n; i++)
		atomic_store(&sim->cpu[i].running, true);
	for (unsigned i = 0; i < n; i++) {
		t[i] = (struct cpu_thread){sim, i, fn, arg, 0};
		if (pthread_create(&t[i].thread, NULL, cpu_thread_main, &t[i]) != 0)
			sim_die("pthread_create for cpu %u failed", i);
	}
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i].thread, NULL);
	atomic_store(&sim->threads_running, false);
	sim_ipi_drain(sim);
	/* Every operation has returned: nothing may be stale any more. */
	sim_tlbsan_audit(sim);
}
