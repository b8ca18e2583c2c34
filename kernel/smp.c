/* SPDX-License-Identifier: MIT */
/* SMP: INIT-SIPI-SIPI bring-up of every CPU QEMU started, and a mailbox
 * per CPU to run a function there (`load`, accesses on CPU N).
 *
 * Each AP takes a ticket in ap_entry (entry.S): its CPU number, which
 * picks its stack. It then loads its own GDT/TSS, the shared IDT, enables
 * its LAPIC, publishes its APIC id and only then counts itself online, so
 * the BSP never IPIs an id it has not seen. Idle APs halt with interrupts
 * on: a shootdown IPI or the wake IPI of a posted call brings them back. */
#include <stdatomic.h>

#include "kernel/bootinfo.h"
#include "kernel/cpu.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/percpu.h"

#define ICR_INIT_ALL_BUT_SELF 0x000c4500u
#define ICR_SIPI_ALL_BUT_SELF 0x000c4600u
#define ICR_FIXED 0x00004000u /* fixed delivery, level assert */

extern char trampoline_start[], trampoline_end[], tr_cr3[], tr_cr4[];

static atomic_uint online = 1;
static unsigned ncpus = 1;

void ap_main(unsigned index);

static void cpu_local_init(unsigned index)
{
	struct percpu *pc = &percpu[index];
	pc->index = index;
	cpu_tables_init(pc);
	idt_load();
	lapic_init();
	pc->apic_id = lapic_id();
}

unsigned smp_cpus(void) { return ncpus; }
unsigned smp_apic_id(unsigned cpu) { return percpu[cpu].apic_id; }

void smp_send_ipi(unsigned cpu, unsigned vector) { lapic_send(percpu[cpu].apic_id, ICR_FIXED | vector); }

static _Noreturn void idle(struct percpu *pc)
{
	for (;;) {
		irq_disable();
		cpu_call_fn fn = atomic_load_explicit(&pc->call_fn, memory_order_acquire);
		if (fn) {
			irq_enable();
			fn(pc->call_arg);
			atomic_store_explicit(&pc->call_fn, NULL, memory_order_release);
			continue;
		}
		/* STI's one-instruction shadow: no wake-up is lost before HLT. */
		__asm__ volatile("sti; hlt" ::: "memory");
	}
}

void ap_main(unsigned index)
{
	if (index >= MAX_CPUS)
		for (;;)
			__asm__ volatile("cli; hlt");
	cpu_local_init(index);
	atomic_fetch_add_explicit(&online, 1, memory_order_release);
	idle(&percpu[index]);
}

static void wait_online(unsigned want, unsigned us)
{
	for (unsigned t = 0; t < us && atomic_load(&online) < want; t += 100)
		pit_delay_us(100);
}

void smp_init(void)
{
	idt_build();
	cpu_local_init(0);
	irq_enable();
	ncpus = fw_cfg_cpus();
	if (ncpus > MAX_CPUS)
		ncpus = MAX_CPUS;
	if (ncpus == 1)
		return;
	uint8_t *t = phys_to_virt(TRAMPOLINE_PA);
	memcpy(t, trampoline_start, (size_t)(trampoline_end - trampoline_start));
	/* The APs run on the bootstrap tables (below 4 GiB) until setup. */
	*(uint32_t *)(t + (tr_cr3 - trampoline_start)) = (uint32_t)read_cr3();
	*(uint32_t *)(t + (tr_cr4 - trampoline_start)) = (uint32_t)read_cr4();
	lapic_send(0, ICR_INIT_ALL_BUT_SELF);
	pit_delay_us(10000);
	for (unsigned sipi = 0; sipi < 2 && atomic_load(&online) < ncpus; sipi++) {
		lapic_send(0, ICR_SIPI_ALL_BUT_SELF | (TRAMPOLINE_PA >> 12));
		wait_online(ncpus, sipi == 0 ? 200 : 1000000);
	}
	if (atomic_load(&online) != ncpus)
		kpanic("smp: %u of %u CPUs came up", atomic_load(&online), ncpus);
}

void post_on_cpu(unsigned cpu, void (*fn)(void *), void *arg)
{
	struct percpu *pc = &percpu[cpu];
	pc->call_arg = arg;
	atomic_store_explicit(&pc->call_fn, fn, memory_order_release);
	smp_send_ipi(cpu, VEC_IPI_WAKE);
}

void run_on_cpu(unsigned cpu, void (*fn)(void *), void *arg)
{
	struct percpu *pc = &percpu[cpu];
	if (cpu == this_cpu()->index) {
		fn(arg);
		return;
	}
	pc->call_arg = arg;
	atomic_store_explicit(&pc->call_fn, fn, memory_order_release);
	smp_send_ipi(cpu, VEC_IPI_WAKE);
	while (atomic_load_explicit(&pc->call_fn, memory_order_acquire) != NULL)
		cpu_pause(); /* interrupts on: shootdowns from CPU still land here */
}
