/* SPDX-License-Identifier: MIT */
/* Entry of a user program: the kernel starts it at _start with RSP at the
 * top of its stack region (16-byte aligned); main's result is the exit
 * status. */
	.text
	.globl _start
_start:
	xor %ebp, %ebp
	and $-16, %rsp
	call main
	mov %rax, %rdi
	mov $0, %eax /* SYS_EXIT */
	int $0x81
	ud2
