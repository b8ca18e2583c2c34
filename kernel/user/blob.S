/* SPDX-License-Identifier: MIT */
/* The user test program's ELF image, embedded in the kernel (USER_ELF is
 * its path, given by the Makefile). */
	.section .rodata
	.balign 16
	.globl usertest_elf, usertest_elf_end
usertest_elf:
	.incbin USER_ELF
usertest_elf_end:
