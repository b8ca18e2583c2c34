/* SPDX-License-Identifier: MIT */
/* The skeleton kernel's own pieces that the port (port.c) and the mmu64
 * calls (boot.c) lean on. In a real kernel these already exist; stubs.c
 * gives them trivial bodies so that the example links. */
#ifndef EXAMPLE_H
#define EXAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mmu64/mmu64.h>

#define EX_NCPUS 4
#define EX_MEM_BYTES (64ull << 20)                /* physical memory the kernel manages */
#define EX_FRAMES (EX_MEM_BYTES >> MMU_PAGE_SHIFT)
#define EX_DIRECT_MAP 0xffff888000000000ull        /* all physical memory, as Linux's */
#define EX_KERNEL_BASE 0xffffffff80000000ull       /* the image, linked in the top 2 GiB */
#define EX_CR4_PGE (1ull << 7)
#define EX_VEC_TLB_SHOOTDOWN 0xf0

/* The one MMU instance and the per-frame metadata (one entry per 4K frame
 * of physical memory, like struct page), both the kernel's storage. */
extern struct mmu ex_mmu;
extern struct mmu_frame_meta ex_frame_meta_array[EX_FRAMES];
extern const struct mmu_port ex_port;

/* Kernel services the port calls. */
unsigned ex_this_cpu(void);
bool ex_irq_save(void);
void ex_irq_restore(bool was_on);
void ex_lapic_send_ipi(unsigned cpu, unsigned vector);
bool ex_frames_alloc_zeroed(uint64_t bytes, uint64_t *pa); /* naturally aligned */
void ex_frames_free(uint64_t pa, uint64_t bytes);
_Noreturn void ex_kernel_panic(const char *msg);

/* The kernel image, page-aligned, loaded at physical VA - EX_KERNEL_BASE. */
struct ex_image {
	uint64_t text_va, text_len; /* the code: R-X */
	uint64_t data_va, data_len; /* the rest up to the end of bss: RW- (a kernel
	                             * with its own linker script maps rodata R--) */
};

/* The kernel's entry points into mmu64 (boot.c). */
void ex_mmu_boot(const struct ex_image *img);
void ex_mmu_cpu_online(void);
void ex_tlb_shootdown_irq(void);
bool ex_page_fault(struct mmu_vm_space *sp, uint32_t error_code, uint64_t cr2);
void ex_switch_to(struct mmu_vm_space *next);

#endif
