/* SPDX-License-Identifier: MIT */
/* AP trampoline: copied to TRAMPOLINE_PA, entered in real mode by SIPI.
 * Real mode -> protected mode -> long mode with the BSP's bootstrap CR3 and
 * CR4 (LA57 included: it must be set before paging), then ap_entry. */
#include "kernel/layout.h"

#define T(x) ((x) - trampoline_start + TRAMPOLINE_PA)

	.section .rodata, "a"
	.globl trampoline_start, trampoline_end, tr_cr3, tr_cr4
	.code16
trampoline_start:
	cli
	cld
	xor %ax, %ax
	mov %ax, %ds
	lgdtl T(tr_gdtr)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $T(tr_32)

	.code32
tr_32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov T(tr_cr4), %eax
	mov %eax, %cr4
	mov T(tr_cr3), %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx /* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80010001, %eax /* PG | WP | PE */
	mov %eax, %cr0
	ljmp $0x18, $T(tr_64)

	.code64
tr_64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	movabs $ap_entry, %rax
	jmp *%rax

	.balign 8
tr_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff /* 0x10: data */
	.quad 0x00af9a000000ffff /* 0x18: 64-bit code */
tr_gdtr:
	.word tr_gdtr - tr_gdt - 1
	.long T(tr_gdt)
tr_cr3:	.long 0
tr_cr4:	.long 0
trampoline_end:
