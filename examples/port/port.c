/* SPDX-License-Identifier: MIT */
/* A skeleton port of mmu64 to a new kernel: every hook of struct
 * mmu_port_ops (<mmu64/port.h>) written the way a small SMP kernel would.
 * It compiles and links freestanding against the installed
 * libmmu64-freestanding.a; it does not boot. What your kernel already has
 * (a frame allocator, per-CPU data, the LAPIC) is reduced here to the
 * few declarations in example.h, implemented trivially in stubs.c.
 * docs/PORTING.md states each hook's exact contract. */
#include "example.h"

static void ex_write_cr3(void *ctx, uint64_t cr3)
{
	(void)ctx;
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

static void ex_invlpg(void *ctx, mmu_vaddr_t va)
{
	(void)ctx;
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static uint64_t read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static uint64_t read_cr4(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

/* Without INVPCID: reloading CR3 drops the non-global entries; toggling
 * CR4.PGE drops the global ones too. Interrupts stay off between the two
 * CR4 writes so that no handler runs with PGE clear. */
static void ex_flush_tlb(void *ctx, enum mmu_flush_scope scope)
{
	(void)ctx;
	uint64_t cr4 = read_cr4();
	if (scope == MMU_FLUSH_NON_GLOBAL || !(cr4 & EX_CR4_PGE)) {
		ex_write_cr3(ctx, read_cr3());
		return;
	}
	bool was_on = ex_irq_save();
	write_cr4(cr4 & ~EX_CR4_PGE);
	write_cr4(cr4);
	ex_irq_restore(was_on);
}

/* Must work from the first mmu call on every CPU, before that CPU has
 * loaded any tree: read from per-CPU data set up at bring-up. */
static unsigned ex_cpu_id(void *ctx)
{
	(void)ctx;
	return ex_this_cpu();
}

static void ex_send_ipi(void *ctx, unsigned cpu)
{
	(void)ctx;
	ex_lapic_send_ipi(cpu, EX_VEC_TLB_SHOOTDOWN);
}

/* Called in every spin loop of the library, which serves this CPU's
 * shootdown inbox itself before each call (so two CPUs shooting at each
 * other cannot deadlock even with interrupts off): only a pause is left
 * to do. */
static void ex_cpu_relax(void *ctx)
{
	(void)ctx;
	__asm__ volatile("pause");
}

/* Runs under the library's spin-locks: it must not sleep. */
static mmu_err_t ex_frame_alloc(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t *out)
{
	(void)ctx;
	(void)use;
	uint64_t pa;
	if (!ex_frames_alloc_zeroed(mmu_size_bytes(size), &pa))
		return MMU_E_NOMEM;
	*out = mmu_pa(pa);
	return MMU_OK;
}

static void ex_frame_free(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa)
{
	(void)ctx;
	(void)use;
	ex_frames_free(mmu_pa_bits(pa), mmu_size_bytes(size));
}

static void *ex_phys_to_virt(void *ctx, mmu_pa_t pa)
{
	(void)ctx;
	return (uint8_t *)EX_DIRECT_MAP + mmu_pa_bits(pa);
}

static struct mmu_frame_meta *ex_frame_meta(void *ctx, mmu_pa_t pa)
{
	(void)ctx;
	return &ex_frame_meta_array[mmu_pa_bits(pa) >> MMU_PAGE_SHIFT];
}

static void ex_panic(void *ctx, const char *msg)
{
	(void)ctx;
	ex_kernel_panic(msg);
}

static const struct mmu_port_ops ex_port_ops = {
	.write_cr3 = ex_write_cr3,
	.invlpg = ex_invlpg,
	.flush_tlb = ex_flush_tlb,
	.cpu_id = ex_cpu_id,
	.send_ipi = ex_send_ipi,
	.cpu_relax = ex_cpu_relax,
	.frame_alloc = ex_frame_alloc,
	.frame_free = ex_frame_free,
	.phys_to_virt = ex_phys_to_virt,
	.frame_meta = ex_frame_meta,
	.invpcid = NULL, /* mmu_config.invpcid is false */
	.panic = ex_panic,
};

/* The direct map and the metadata array are linear: the library uses them
 * without calling the two hooks on its fast paths. */
const struct mmu_port ex_port = {
	.ops = &ex_port_ops,
	.ctx = NULL,
	.direct_map = (uint8_t *)EX_DIRECT_MAP,
	.meta_map = ex_frame_meta_array,
};
