/* SPDX-License-Identifier: MIT */
/* PVH entry: QEMU starts us in 32-bit protected mode, paging off, with
 * EBX = physical address of struct hvm_start_info. We build bootstrap page
 * tables, enter long mode and jump to the higher-half C code (kmain).
 *
 * The bootstrap tables map 0-4 GiB three times with 2M pages sharing the
 * same page directories: identity (this code, the AP trampoline), at
 * DIRECT_MAP (C code reads boot information, the LAPIC) and the image at
 * KERNEL_VMA (first 1 GiB). The library builds the real tables later; these
 * only carry the kernel to that point.
 *
 * 5-level paging cannot be switched on once paging is on, so the choice is
 * made here: `levels=5` on the command line and CPUID.7.ECX.LA57. */
#include "kernel/layout.h"

#define PHYS(x) ((x) - KERNEL_VMA)
#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_PS 0x80
#define CR4_PAE (1 << 5)
#define CR4_LA57 (1 << 12)
#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define START_INFO_CMDLINE 24

	/* The PVH note (XEN_ELFNOTE_PHYS32_ENTRY = 18): QEMU reads a pointer-
	 * sized physical entry address from it. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 8, 18
	.asciz "Xen"
	.balign 4
	.quad pvh_entry
	.balign 4

	.section .boot.text, "ax"
	.code32
	.globl pvh_entry
pvh_entry:
	cli
	cld
	mov %ebx, %esi
	/* .bss holds the page tables and stacks: zero it before any use. */
	mov $PHYS(__bss_start), %edi
	mov $PHYS(__bss_end), %ecx
	sub %edi, %ecx
	shr $2, %ecx
	xor %eax, %eax
	rep stosl
	mov %esi, PHYS(boot_start_info)
	mov $PHYS(boot_stack_top), %esp

	call want_la57
	mov %eax, PHYS(boot_la57)

	/* Four page directories: 2048 entries of 2M cover 0-4 GiB. */
	mov $PHYS(boot_pd), %edi
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $(PTE_P | PTE_RW | PTE_PS), %eax
	mov %eax, (%edi, %ecx, 8)
	inc %ecx
	cmp $2048, %ecx
	jb 1b
	/* The LAPIC page (0xfee00000) is uncached. */
	orl $(PTE_PCD | PTE_PWT), (0xfee00000 >> 21) * 8(%edi)

	mov $PHYS(boot_pdpt_low), %edi
	mov $(PHYS(boot_pd) + PTE_P + PTE_RW), %eax
	mov %eax, 0(%edi)
	add $4096, %eax
	mov %eax, 8(%edi)
	add $4096, %eax
	mov %eax, 16(%edi)
	add $4096, %eax
	mov %eax, 24(%edi)
	/* KERNEL_VMA: PDPT slot 510 of PML4 slot 511 -> physical 0-1 GiB. */
	movl $(PHYS(boot_pd) + PTE_P + PTE_RW), PHYS(boot_pdpt_high) + 510 * 8

	mov $PHYS(boot_pml4), %edi
	movl $(PHYS(boot_pdpt_low) + PTE_P + PTE_RW), 0(%edi)
	movl $(PHYS(boot_pdpt_low) + PTE_P + PTE_RW), ((DIRECT_MAP >> 39) & 511) * 8(%edi)
	movl $(PHYS(boot_pdpt_high) + PTE_P + PTE_RW), 511 * 8(%edi)
	mov $PHYS(boot_pml5), %edi
	movl $(PHYS(boot_pml4) + PTE_P + PTE_RW), 0(%edi)
	movl $(PHYS(boot_pml4) + PTE_P + PTE_RW), 511 * 8(%edi)

	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov $PHYS(boot_pml4), %edx
	cmpl $0, PHYS(boot_la57)
	je 2f
	or $CR4_LA57, %eax
	mov $PHYS(boot_pml5), %edx
2:	mov %eax, %cr4
	mov %edx, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_WP | CR0_PE), %eax
	mov %eax, %cr0
	lgdt boot_gdtr
	ljmp $SEL_KCODE, $long_mode

/* EAX = 1 when the command line asks for levels=5 and the CPU has LA57. */
want_la57:
	push %esi
	push %edi
	push %ebx
	mov START_INFO_CMDLINE(%esi), %esi
	test %esi, %esi
	jz 9f
	mov %esi, %edx            /* start of the line: a word boundary */
3:	cmpb $0, (%esi)
	je 9f
	cmp %edx, %esi
	je 4f
	cmpb $' ', -1(%esi)
	jne 5f
4:	mov %esi, %ebx
	mov $levels5, %edi
6:	movb (%edi), %al
	test %al, %al
	jz 7f                     /* whole word matched */
	cmpb %al, (%ebx)
	jne 5f
	inc %ebx
	inc %edi
	jmp 6b
5:	inc %esi
	jmp 3b
7:	xor %eax, %eax            /* CPUID.(EAX=7,ECX=0):ECX bit 16 */
	cpuid
	cmp $7, %eax
	jb 9f
	mov $7, %eax
	xor %ecx, %ecx
	cpuid
	bt $16, %ecx
	jnc 9f
	mov $1, %eax
	jmp 10f
9:	xor %eax, %eax
10:	pop %ebx
	pop %edi
	pop %esi
	ret

	.code64
long_mode:
	mov $SEL_KDATA, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	xor %eax, %eax
	mov %ax, %fs
	mov %ax, %gs
	movabs $high_entry, %rax
	jmp *%rax

	.section .boot.data, "aw"
levels5:
	.asciz "levels=5"
	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff /* 0x10: data */
boot_gdtr:
	.word boot_gdtr - boot_gdt - 1
	.long boot_gdt

	.text
high_entry:
	movabs $boot_stack_top, %rsp
	xor %ebp, %ebp
	mov boot_start_info(%rip), %edi
	mov boot_la57(%rip), %esi
	call kmain
	ud2

	.bss
	.balign 4096
	.globl boot_pml4, boot_pml5
boot_pml5:	.skip 4096
boot_pml4:	.skip 4096
boot_pdpt_low:	.skip 4096
boot_pdpt_high:	.skip 4096
boot_pd:	.skip 4 * 4096
	.globl kstacks
kstacks:	.skip KSTACK_SIZE * MAX_CPUS
	.globl boot_stack_top
	.set boot_stack_top, kstacks + KSTACK_SIZE
	.balign 8
boot_start_info:	.long 0
boot_la57:	.long 0
