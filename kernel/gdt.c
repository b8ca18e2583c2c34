/* SPDX-License-Identifier: MIT */
/* Per-CPU GDT and TSS. The order fits sysret (docs/QEMU.md): null, kernel
 * code, kernel data, user data, user code, TSS. The TSS gives the stack for
 * traps from ring 3 (rsp0, set by each ring-3 entry) and a separate stack
 * for #DF (IST1), so a stack overflow still reports. */
#include <stddef.h>

#include "kernel/cpu.h"
#include "kernel/percpu.h"

struct percpu percpu[MAX_CPUS] __attribute__((section(".bss.kpti")));
uint8_t entry_stacks[MAX_CPUS][ENTRY_STACK_SIZE] __attribute__((section(".bss.kpti"), aligned(4096)));

_Static_assert(offsetof(struct percpu, self) == PERCPU_SELF, "asm offset");
_Static_assert(offsetof(struct percpu, user_ksp) == PERCPU_USER_KSP, "asm offset");
_Static_assert(offsetof(struct percpu, tss) == PERCPU_TSS, "asm offset");
_Static_assert(offsetof(struct percpu, kpti_kernel_cr3) == PERCPU_KCR3, "asm offset");
_Static_assert(offsetof(struct percpu, kpti_user_cr3) == PERCPU_UCR3, "asm offset");
_Static_assert(offsetof(struct percpu, tss) + offsetof(struct tss, rsp) == PERCPU_TSS_RSP0, "asm offset");

#define GDT_KCODE 0x00af9a000000ffffull /* 64-bit, DPL 0 */
#define GDT_KDATA 0x00cf92000000ffffull
#define GDT_UDATA 0x00cff2000000ffffull /* DPL 3 */
#define GDT_UCODE 0x00affa000000ffffull /* 64-bit, DPL 3 */
#define TSS_TYPE_AVAILABLE 0x89ull      /* present, 64-bit TSS */

struct __attribute__((packed)) desc_ptr {
	uint16_t limit;
	uint64_t base;
};

void cpu_tables_init(struct percpu *pc)
{
	uint64_t base = (uint64_t)&pc->tss, limit = sizeof pc->tss - 1;
	pc->self = pc;
	pc->tss.iopb = sizeof pc->tss; /* no I/O bitmap */
	pc->tss.ist[0] = (uint64_t)(pc->df_stack + sizeof pc->df_stack);
	pc->gdt[0] = 0;
	pc->gdt[1] = GDT_KCODE;
	pc->gdt[2] = GDT_KDATA;
	pc->gdt[3] = GDT_UDATA;
	pc->gdt[4] = GDT_UCODE;
	pc->gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (TSS_TYPE_AVAILABLE << 40) |
		     (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	pc->gdt[6] = base >> 32;
	struct desc_ptr gdtr = {sizeof pc->gdt - 1, (uint64_t)pc->gdt};
	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "mov %w2, %%ds\n\t"
			 "mov %w2, %%es\n\t"
			 "mov %w2, %%ss\n\t"
			 "mov %w3, %%fs\n\t"
			 "mov %w3, %%gs\n\t"
			 "ltr %w4"
			 :
			 : "m"(gdtr), "i"(SEL_KCODE), "r"(SEL_KDATA), "r"(0), "r"(SEL_TSS)
			 : "rax", "memory");
	/* After the GS load, which cleared the base. */
	wrmsr(MSR_GS_BASE, (uint64_t)pc);
}
