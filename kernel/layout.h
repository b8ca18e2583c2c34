/* SPDX-License-Identifier: MIT */
/* The test kernel's address-space layout and constants shared by C and
 * assembly. Kept in one place so every file agrees. */
#ifndef KERNEL_LAYOUT_H
#define KERNEL_LAYOUT_H

/* The image is linked at KERNEL_VMA + physical (top 2 GiB, -mcmodel=kernel). */
#define KERNEL_VMA 0xffffffff80000000
/* Every byte of RAM at DIRECT_MAP + physical (Linux's x86-64 choice; PML4
 * slot 273, outside the vectors' window 400-415). With 5 levels the same
 * address is still canonical: PML5 slot 511, PML4 slot 273. */
#define DIRECT_MAP 0xffff888000000000
/* The ring-3 stub's slot: a root slot of its own, next to the image's, so
 * the US bit it needs on its root entry touches nothing else (with 5 levels
 * the window shares PML5 slot 511 with the image and the direct map). */
#define USER_STUB_VA4 0xffffff0000000000 /* PML4 slot 510 */
#define USER_STUB_VA5 0xfffe000000000000 /* PML5 slot 510 */

#define KSTACK_SIZE 0x8000
#define MAX_CPUS 64

/* AP trampoline: real-mode code copied to this page, SIPI vector 0x08. */
#define TRAMPOLINE_PA 0x8000

/* Selectors (docs/QEMU.md: the order sysret needs). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b
#define SEL_UCODE 0x23
#define SEL_TSS 0x28

/* Interrupt vectors. */
#define VEC_PF 14
#define VEC_GP 13
#define VEC_SYSCALL 0x80  /* the ring-3 stub's way back (DPL 3 gate) */
#define VEC_PROC_SYSCALL 0x81 /* system calls of processes (DPL 3 gate) */
#define VEC_IPI_TLB 0xf0  /* shootdown: calls mmu_tlb_ipi_handler */
#define VEC_IPI_WAKE 0xf1 /* wakes a halted CPU to run a posted call */
#define VEC_SPURIOUS 0xff

/* struct percpu offsets used by assembly (checked in cpu_local.c). */
#define PERCPU_SELF 0
#define PERCPU_USER_KSP 8
#define PERCPU_TSS_RSP0 (64 + 4)
#define PERCPU_TSS 64
#define PERCPU_KCR3 32 /* KPTI: CR3 to switch to on entry from user mode */
#define PERCPU_UCR3 40 /* KPTI: CR3 to switch to on exit to user mode */

/* sizeof(struct trap_frame) (idt.h), checked there. */
#define TRAP_FRAME_SIZE (22 * 8)
/* Per-CPU stack for traps from processes (TSS.rsp0), mapped in the KPTI
 * shadows; the system calls run on it. */
#define ENTRY_STACK_SIZE 0x4000

#endif
