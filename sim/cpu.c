/* SPDX-License-Identifier: MIT */
/* CPU registers, the calling thread's current CPU, and the TLB
 * instructions (MOV to CR3/CR4, INVLPG, INVPCID) with their SDM 4.10.4
 * invalidation rules. Register writes take the CPU's TLB lock: they flush
 * it, and accesses read the registers under that lock. */
#include "sim/internal.h"

/* The current CPU of each (thread, machine): a few thread-local slots keyed
 * by the machine's id, so a thread may drive several machines and a
 * destroyed machine's slot is never mistaken for a new one's. */
#define CURRENT_SLOTS 8
static _Thread_local struct {
	uint64_t sim_id;
	unsigned cpu;
} current[CURRENT_SLOTS];
static _Thread_local unsigned current_next_victim;

void sim_set_cpu(struct sim *sim, unsigned cpu)
{
	if (cpu >= sim->cfg.ncpus)
		sim_die("sim_set_cpu(%u): the machine has %u cpus", cpu, sim->cfg.ncpus);
	unsigned free_slot = CURRENT_SLOTS;
	for (unsigned i = 0; i < CURRENT_SLOTS; i++) {
		if (current[i].sim_id == sim->id) {
			current[i].cpu = cpu;
			return;
		}
		if (current[i].sim_id == 0 && free_slot == CURRENT_SLOTS)
			free_slot = i;
	}
	if (free_slot == CURRENT_SLOTS)
		free_slot = current_next_victim++ % CURRENT_SLOTS;
	current[free_slot].sim_id = sim->id;
	current[free_slot].cpu = cpu;
}

unsigned sim_cpu(const struct sim *sim)
{
	for (unsigned i = 0; i < CURRENT_SLOTS; i++)
		if (current[i].sim_id == sim->id)
			return current[i].cpu;
	return 0;
}

unsigned sim_cpu_pcid(const struct sim_cpu *c)
{
	return (c->cr4 & SIM_CR4_PCIDE) ? (unsigned)(c->cr3 & SIM_CR3_PCID_MASK) : 0;
}

unsigned sim_cpu_levels(const struct sim_cpu *c) { return (c->cr4 & SIM_CR4_LA57) ? 5 : 4; }

static struct sim_cpu *cpu_of(struct sim *sim, unsigned cpu)
{
	if (cpu >= sim->cfg.ncpus)
		sim_die("cpu %u out of range (%u cpus)", cpu, sim->cfg.ncpus);
	return &sim->cpu[cpu];
}

struct sim_cpu_regs sim_cpu_regs(const struct sim *sim, unsigned cpu)
{
	struct sim_cpu *c = cpu_of((struct sim *)sim, cpu);
	pthread_mutex_lock(&c->tlb.lock);
	struct sim_cpu_regs r = {c->cr0, c->cr3, c->cr4, c->efer, c->pkru};
	pthread_mutex_unlock(&c->tlb.lock);
	return r;
}

void sim_set_pkru(struct sim *sim, unsigned cpu, uint32_t pkru)
{
	struct sim_cpu *c = cpu_of(sim, cpu);
	pthread_mutex_lock(&c->tlb.lock);
	c->pkru = pkru;
	pthread_mutex_unlock(&c->tlb.lock);
}

/* Every multi-page invalidation a CPU executes goes through here, so the
 * cost model sees each one once. C's TLB lock held. */
static void cpu_flush(struct sim_cpu *c, enum sim_tlb_scope scope, unsigned pcid)
{
	c->events.flushes++;
	sim_tlb_flush(&c->tlb, scope, pcid);
}

struct sim_events sim_cpu_events(struct sim *sim, unsigned cpu)
{
	struct sim_cpu *c = cpu_of(sim, cpu);
	pthread_mutex_lock(&c->tlb.lock);
	struct sim_events e = c->events;
	pthread_mutex_unlock(&c->tlb.lock);
	return e;
}

void sim_write_cr3(struct sim *sim, unsigned cpu, uint64_t cr3)
{
	struct sim_cpu *c = cpu_of(sim, cpu);
	pthread_mutex_lock(&c->tlb.lock);
	if (c->cr4 & SIM_CR4_PCIDE) {
		/* Bit 63 is not stored: it only says "keep this PCID's entries". */
		c->cr3 = cr3 & ~SIM_CR3_NOFLUSH;
		if (!(cr3 & SIM_CR3_NOFLUSH))
			cpu_flush(c, SIM_TLB_ONE_PCID, (unsigned)(cr3 & SIM_CR3_PCID_MASK));
	} else {
		if (cr3 & SIM_CR3_NOFLUSH)
			sim_die("cpu %u: CR3 0x%llx sets bit 63 without CR4.PCIDE (#GP)", cpu,
				(unsigned long long)cr3);
		c->cr3 = cr3;
		cpu_flush(c, SIM_TLB_NON_GLOBAL, 0);
	}
	pthread_mutex_unlock(&c->tlb.lock);
}

void sim_write_cr4(struct sim *sim, unsigned cpu, uint64_t cr4)
{
	struct sim_cpu *c = cpu_of(sim, cpu);
	pthread_mutex_lock(&c->tlb.lock);
	uint64_t changed = c->cr4 ^ cr4;
	if (changed & SIM_CR4_LA57)
		sim_die("cpu %u: CR4.LA57 cannot change in long mode (cr4 0x%llx -> 0x%llx)", cpu,
			(unsigned long long)c->cr4, (unsigned long long)cr4);
	/* Toggling PGE, or clearing PCIDE, flushes everything (SDM 4.10.4.1). */
	if ((changed & SIM_CR4_PGE) || ((changed & SIM_CR4_PCIDE) && !(cr4 & SIM_CR4_PCIDE)))
		cpu_flush(c, SIM_TLB_EVERYTHING, 0);
	c->cr4 = cr4;
	pthread_mutex_unlock(&c->tlb.lock);
}

void sim_invlpg(struct sim *sim, unsigned cpu, mmu_vaddr_t va)
{
	struct sim_cpu *c = cpu_of(sim, cpu);
	pthread_mutex_lock(&c->tlb.lock);
	/* Counted even when it is a no-op (non-canonical): it was executed. */
	c->events.invlpgs++;
	if (mmu_va_canonical(va, sim_cpu_levels(c)))
		sim_tlb_drop_page(&c->tlb, sim_cpu_pcid(c), va, /*with_globals=*/true);
	pthread_mutex_unlock(&c->tlb.lock);
}

void sim_invpcid(struct sim *sim, unsigned cpu, unsigned type, unsigned pcid, mmu_vaddr_t va)
{
	struct sim_cpu *c = cpu_of(sim, cpu);
	if (type > 3 || pcid > SIM_CR3_PCID_MASK)
		sim_die("cpu %u: INVPCID type %u pcid 0x%x (#GP)", cpu, type, pcid);
	pthread_mutex_lock(&c->tlb.lock);
	switch (type) {
	case 0: /* one address in one PCID, globals excluded */
		c->events.invlpgs++; /* priced as an INVLPG: one page */
		sim_tlb_drop_page(&c->tlb, pcid, va, /*with_globals=*/false);
		break;
	case 1:
		cpu_flush(c, SIM_TLB_ONE_PCID, pcid);
		break;
	case 2:
		cpu_flush(c, SIM_TLB_EVERYTHING, 0);
		break;
	case 3:
		cpu_flush(c, SIM_TLB_NON_GLOBAL, 0);
		break;
	}
	pthread_mutex_unlock(&c->tlb.lock);
}

size_t sim_tlb_size(const struct sim *sim, unsigned cpu)
{
	struct sim_cpu *c = cpu_of((struct sim *)sim, cpu);
	pthread_mutex_lock(&c->tlb.lock);
	size_t n = atomic_load_explicit(&c->tlb.count, memory_order_relaxed);
	pthread_mutex_unlock(&c->tlb.lock);
	return n;
}

void sim_flush_all_tlbs(struct sim *sim)
{
	for (unsigned i = 0; i < sim->cfg.ncpus; i++) {
		pthread_mutex_lock(&sim->cpu[i].tlb.lock);
		sim_tlb_flush(&sim->cpu[i].tlb, SIM_TLB_EVERYTHING, 0);
		pthread_mutex_unlock(&sim->cpu[i].tlb.lock);
	}
}
