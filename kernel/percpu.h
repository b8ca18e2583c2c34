/* SPDX-License-Identifier: MIT */
/* Per-CPU data, reached through GS.base (never swapped: the ring-3 stub is
 * ours and never touches GS, so the base is valid at every trap). */
#ifndef KERNEL_PERCPU_H
#define KERNEL_PERCPU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel/layout.h"

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iopb;
} __attribute__((packed));

/* How the last probe or ring-3 excursion ended (access.c). */
struct trap_record {
	uint64_t vector; /* 0: completed; else the exception vector */
	uint64_t error;
	uint64_t cr2;
	uint64_t value; /* the byte read, when completed */
};

typedef void (*cpu_call_fn)(void *arg);
struct proc;

struct percpu {
	struct percpu *self; /* PERCPU_SELF */
	uint64_t user_ksp;   /* PERCPU_USER_KSP: kernel RSP to resume after ring 3 */
	unsigned index;      /* 0 .. ncpus-1: the CPU number of vectors and mmu64 */
	unsigned apic_id;
	uint64_t exec_target; /* a supervisor exec probe's target while it runs */
	uint64_t kpti_kernel_cr3; /* PERCPU_KCR3: 0 unless a process runs with KPTI */
	uint64_t kpti_user_cr3;   /* PERCPU_UCR3 */
	struct proc *proc;        /* the process running here, or NULL */
	uint64_t pad;
	struct tss tss; /* PERCPU_TSS */
	uint64_t gdt[7] __attribute__((aligned(16)));
	struct trap_record trap;
	uint64_t vec_user_cr3; /* kpti=1 vectors: the shadow user accesses run on, or 0 */
	/* run_on_cpu mailbox: the poster sets ARG then FN; the CPU clears FN
	 * when FN(ARG) returned. */
	void *call_arg;
	_Atomic(cpu_call_fn) call_fn;
	uint8_t df_stack[4096] __attribute__((aligned(16)));
};

/* In .bss.kpti: the KPTI shadows map it (GDT, TSS, the KCR3/UCR3 fields
 * the entry code reads, the #DF stack). */
extern struct percpu percpu[MAX_CPUS];
/* The entry stacks, also in .bss.kpti. */
extern uint8_t entry_stacks[MAX_CPUS][ENTRY_STACK_SIZE];
static inline uint64_t entry_stack_top(unsigned cpu) { return (uint64_t)entry_stacks[cpu + 1]; }

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}

/* Load this CPU's GDT, TSS and GS base (gdt.c). */
void cpu_tables_init(struct percpu *pc);
/* The shared IDT (idt.c): build once, load on every CPU. */
void idt_build(void);
void idt_load(void);

#endif
