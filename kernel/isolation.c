/* SPDX-License-Identifier: MIT */
/* KPTI on the test kernel: the allow-list of the shadows' kernel half and
 * its dump. Entry and exit need exactly two ranges of the image, both
 * page-aligned sections of their own (kernel.ld):
 *   .kpti.text  the trap stubs, trap_common and trap_return (entry.S);
 *   .bss.kpti   the IDT, the per-CPU GDT/TSS/#DF stack and CR3 fields
 *               (struct percpu), and the per-CPU entry stacks.
 * Everything else of the kernel (the rest of the image, the direct map,
 * the LAPIC) is absent from the shadows; the CR3 switches are in
 * trap_common / trap_return, the per-CPU CR3 values set by the scheduler
 * (proc.c). */
#include "kernel/isolation.h"

#include "kernel/bootinfo.h"
#include "kernel/klib.h"

extern char __kpti_text_start[], __kpti_text_end[], __kpti_data_start[], __kpti_data_end[];

static struct mmu_kpti kpti;

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	kprintf("  %s\n", line);
}

/* The first address of the kernel half, and the end of the user half. */
static mmu_vaddr_t kernel_half(void)
{
	return boot_info.levels == 5 ? 0xff00000000000000ull : 0xffff800000000000ull;
}

static mmu_vaddr_t user_end(void) { return (mmu_vaddr_t)1 << (boot_info.levels == 5 ? 56 : 47); }

struct mmu_kpti *isolation_init(struct mmu *mmu)
{
	const struct mmu_kpti_range ranges[] = {
		{(uint64_t)__kpti_text_start, (uint64_t)(__kpti_text_end - __kpti_text_start)},
		{(uint64_t)__kpti_data_start, (uint64_t)(__kpti_data_end - __kpti_data_start)},
	};
	mmu_err_t err = mmu_kpti_init(mmu, &kpti, ranges, 2);
	if (err != MMU_OK)
		kpanic("kpti: template: %s", mmu_err_name(err));
	kprintf("kpti: the shadows' kernel half (entry text %lx-%lx, IDT/GDT/TSS/entry stacks %lx-%lx):\n",
		ranges[0].va, ranges[0].va + ranges[0].len, ranges[1].va, ranges[1].va + ranges[1].len);
	mmu_kpti_dump(&kpti, kernel_half(), 0, print_line, NULL);
	return &kpti;
}

size_t isolation_audit(struct mmu_vm_space *sp)
{
	/* The whole shadow as user mode sees it. */
	kprintf("kpti: the first process's shadow tree (CR3 %lx), user half and kernel half:\n",
		mmu_vm_user_cr3(sp));
	mmu_vm_kpti_dump(sp, 0, user_end(), print_line, NULL);
	mmu_vm_kpti_dump(sp, kernel_half(), 0, print_line, NULL);
	size_t n = mmu_vm_kpti_audit(sp, print_line, NULL);
	kprintf("kpti: audit of the first process's shadow: %lu violations\n", (unsigned long)n);
	return n;
}
