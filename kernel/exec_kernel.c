/* SPDX-License-Identifier: MIT */
/* The vector interpreter's executor ops (tools/vec/exec.h) on the kernel.
 * One QEMU boot runs one file: setup happens once, teardown has nothing to
 * give back (QEMU exits next). */
#include "kernel/exec_kernel.h"

#include "kernel/access.h"
#include "kernel/bootinfo.h"
#include "kernel/cpu.h"
#include "kernel/kernel.h"
#include "kernel/machine.h"
#include "kernel/percpu.h"
#include "kernel/pmem.h"

static const char *k_setup(void *ctx, const struct vec_machine *m, struct mmu **mmu)
{
	(void)ctx;
	return machine_setup(m, mmu);
}

static mmu_err_t k_frame_alloc(void *ctx, enum mmu_size size, mmu_pa_t *out)
{
	(void)ctx;
	return pmem_data_alloc(size, out);
}

static void k_frame_free(void *ctx, enum mmu_size size, mmu_pa_t pa)
{
	(void)ctx;
	pmem_data_free(size, pa);
}

static uint64_t k_frames_in_use(void *ctx)
{
	(void)ctx;
	return pmem_data_in_use();
}

static uint8_t k_peek(void *ctx, mmu_pa_t pa)
{
	(void)ctx;
	return *(volatile uint8_t *)phys_to_virt(pa.bits);
}

static void k_poke(void *ctx, mmu_pa_t pa, uint8_t byte)
{
	(void)ctx;
	*(volatile uint8_t *)phys_to_virt(pa.bits) = byte;
}

static struct vec_access k_access(void *ctx, unsigned cpu, enum vec_access_kind kind, mmu_vaddr_t va, bool user,
				  uint8_t byte)
{
	(void)ctx;
	struct access_req r = {.kind = kind, .va = va, .user = user, .byte = byte};
	run_on_cpu(cpu, access_on_this_cpu, &r);
	return r.result;
}

/* Called on CPU already (the interpreter runs it inside run_on_cpu). */
static struct vec_access k_user_copy_write(void *ctx, unsigned cpu, mmu_vaddr_t va, uint8_t byte)
{
	(void)ctx, (void)cpu;
	return access_user_copy_write(va, byte);
}

static struct vec_access k_user_copy_read(void *ctx, unsigned cpu, mmu_vaddr_t va)
{
	(void)ctx, (void)cpu;
	return access_user_copy_read(va);
}

static const struct mmu_kpti_range *k_kpti_ranges(void *ctx, unsigned *n)
{
	(void)ctx;
	return machine_kpti_ranges(n);
}

static void k_set_user_cr3(void *ctx, unsigned cpu, uint64_t cr3)
{
	(void)ctx;
	percpu[cpu].vec_user_cr3 = cr3;
}

static void k_run_on_cpu(void *ctx, unsigned cpu, vec_cpu_fn fn, void *arg)
{
	(void)ctx;
	run_on_cpu(cpu, fn, arg);
}

static void write_pkru(void *arg) { wrpkru((uint32_t)(uintptr_t)arg); }

static void k_set_pkru(void *ctx, unsigned cpu, uint32_t pkru)
{
	(void)ctx;
	run_on_cpu(cpu, write_pkru, (void *)(uintptr_t)pkru);
}

static void k_teardown(void *ctx) { (void)ctx; }

const struct vec_exec_ops exec_kernel_ops = {
	.setup = k_setup,
	.frame_alloc = k_frame_alloc,
	.frame_free = k_frame_free,
	.frames_in_use = k_frames_in_use,
	.peek = k_peek,
	.poke = k_poke,
	.access = k_access,
	.user_copy_write = k_user_copy_write,
	.user_copy_read = k_user_copy_read,
	.kpti_ranges = k_kpti_ranges,
	.set_user_cr3 = k_set_user_cr3,
	.run_on_cpu = k_run_on_cpu,
	.set_pkru = k_set_pkru,
	.sanitizer_reports = NULL, /* real TLBs: nothing to sanitize */
	.teardown = k_teardown,
};
