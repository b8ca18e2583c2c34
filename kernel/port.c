/* SPDX-License-Identifier: MIT */
/* The bare-metal port of mmu64 (include/mmu64/port.h): the same hooks as
 * the software machine's, on the real (emulated) CPU. */
#include "kernel/port.h"

#include "kernel/bootinfo.h"
#include "kernel/cpu.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/percpu.h"
#include "kernel/layout.h"
#include "kernel/pmem.h"

static void kp_write_cr3(void *ctx, uint64_t cr3)
{
	(void)ctx;
	write_cr3(cr3);
}

static void kp_invlpg(void *ctx, mmu_vaddr_t va)
{
	(void)ctx;
	invlpg(va);
}

/* A CR3 write drops non-global entries; toggling CR4.PGE drops everything
 * (no INVPCID under TCG). Interrupts off: a CPU taking a shootdown between
 * the two CR4 writes would run with PGE off. */
static void kp_flush_tlb(void *ctx, enum mmu_flush_scope scope)
{
	(void)ctx;
	bool on = irq_save();
	uint64_t cr4 = read_cr4();
	if (scope == MMU_FLUSH_WITH_GLOBAL && (cr4 & CR4_PGE)) {
		write_cr4(cr4 & ~CR4_PGE);
		write_cr4(cr4);
	} else {
		write_cr3(read_cr3());
	}
	irq_restore(on);
}

/* The LAPIC id was mapped to the CPU number at bring-up (smp.c); the
 * number is read from per-CPU data rather than from the LAPIC MMIO
 * register, which costs an exit to the device model under TCG. */
static unsigned kp_cpu_id(void *ctx)
{
	(void)ctx;
	unsigned id;
	__asm__ volatile("movl %%gs:%c1, %0" : "=r"(id) : "i"(__builtin_offsetof(struct percpu, index)));
	return id;
}

static void kp_send_ipi(void *ctx, unsigned cpu)
{
	(void)ctx;
	smp_send_ipi(cpu, VEC_IPI_TLB);
}

/* A PAUSE and nothing else (docs/PORTING.md, "cpu_relax"): every spin loop
 * of the library serves this CPU's shootdown inbox itself before calling
 * it, so waiting needs no interrupt. Opening one here (sti) would run
 * interrupt handlers inside the caller's critical section, with its locks
 * held. port_selftest checks it. */
static void kp_cpu_relax(void *ctx)
{
	(void)ctx;
	cpu_pause();
}

static mmu_err_t kp_frame_alloc(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t *out)
{
	(void)ctx;
	if (use == MMU_FRAME_TABLE) {
		if (size != MMU_SIZE_4K)
			kpanic("port: a %u-level table frame", (unsigned)size);
		return pmem_table_alloc(out);
	}
	return pmem_data_alloc(size, out);
}

static void kp_frame_free(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa)
{
	(void)ctx;
	if (use == MMU_FRAME_TABLE)
		pmem_table_free(pa);
	else
		pmem_data_free(size, pa);
}

static void kp_table_free_zeroed(void *ctx, mmu_pa_t pa)
{
	(void)ctx;
	pmem_table_free_zeroed(pa);
}

static void *kp_phys_to_virt(void *ctx, mmu_pa_t pa)
{
	(void)ctx;
	return phys_to_virt(pa.bits);
}

static struct mmu_frame_meta *kp_frame_meta(void *ctx, mmu_pa_t pa)
{
	(void)ctx;
	return pmem_meta(pa);
}

static void kp_panic(void *ctx, const char *msg)
{
	(void)ctx;
	kpanic("mmu64: %s", msg);
}

static const struct mmu_port_ops kernel_port_ops = {
	.write_cr3 = kp_write_cr3,
	.invlpg = kp_invlpg,
	.flush_tlb = kp_flush_tlb,
	.cpu_id = kp_cpu_id,
	.send_ipi = kp_send_ipi,
	.cpu_relax = kp_cpu_relax,
	.frame_alloc = kp_frame_alloc,
	.frame_free = kp_frame_free,
	.table_free_zeroed = kp_table_free_zeroed,
	.phys_to_virt = kp_phys_to_virt,
	.frame_meta = kp_frame_meta,
	.panic = kp_panic,
};

const struct mmu_port kernel_port = {.ops = &kernel_port_ops, .ctx = NULL};

/* With interrupts off and an interrupt pending (a wake IPI to this CPU),
 * cpu_relax must not let it in, nor leave interrupts on: it arrives only
 * once we turn them on. (Under QEMU's TCG an interrupt is taken only
 * between translation blocks, so a window opened and closed inside one,
 * as `sti; pause; cli`, goes unseen here; on hardware or KVM it is not.) */
void port_selftest(void)
{
	unsigned self = kp_cpu_id(NULL);
	irq_disable();
	uint64_t before = atomic_load(&wake_ipis);
	smp_send_ipi(self, VEC_IPI_WAKE);
	pit_delay_us(200); /* the IPI is pending in the LAPIC's IRR by now */
	for (unsigned i = 0; i < 64; i++)
		kernel_port_ops.cpu_relax(NULL);
	uint64_t during = atomic_load(&wake_ipis);
	bool left_on = (read_rflags() & RFLAGS_IF) != 0;
	irq_enable();
	for (unsigned t = 0; t < 100000 && atomic_load(&wake_ipis) == before; t++)
		cpu_pause();
	if (left_on)
		kpanic("port: cpu_relax left interrupts on");
	if (during != before)
		kpanic("port: cpu_relax let an interrupt in with interrupts off");
	if (atomic_load(&wake_ipis) == before)
		kpanic("port selftest: the wake IPI to cpu %u never arrived", self);
	if (!(read_rflags() & RFLAGS_IF))
		kpanic("port selftest: interrupts off after the test");
}
