/* SPDX-License-Identifier: MIT */
/* Trap entry stubs, the ring-3 round trip and the exception-fixup probes.
 *
 * The stubs, trap_common and trap_return live in .kpti.text, a page-aligned
 * part of the image that the KPTI shadow trees map (kernel/isolation.c):
 * a trap from user mode arrives on the shadow's CR3, so everything until
 * the switch to the full kernel tree, and everything after the switch
 * back, must be mapped there. */
#include "kernel/layout.h"

	.section .kpti.text, "ax"

/* ---- interrupts and exceptions ----
 * Each stub pushes an error code (0 when the CPU pushes none) and its
 * vector, then the common path saves every register as struct trap_frame
 * (idt.h) and calls trap_dispatch(frame). */
.macro STUB vec, has_error
	.globl isr_\vec
isr_\vec:
	.if \has_error == 0
	pushq $0
	.endif
	pushq $\vec
	jmp trap_common
.endm

STUB 0, 0
STUB 1, 0
STUB 2, 0
STUB 3, 0
STUB 4, 0
STUB 5, 0
STUB 6, 0
STUB 7, 0
STUB 8, 1
STUB 9, 0
STUB 10, 1
STUB 11, 1
STUB 12, 1
STUB 13, 1
STUB 14, 1
STUB 15, 0
STUB 16, 0
STUB 17, 1
STUB 18, 0
STUB 19, 0
STUB 20, 0
STUB 21, 1
STUB 22, 0
STUB 23, 0
STUB 24, 0
STUB 25, 0
STUB 26, 0
STUB 27, 0
STUB 28, 0
STUB 29, 1
STUB 30, 1
STUB 31, 0
STUB 128, 0
STUB 129, 0
STUB 240, 0
STUB 241, 0
STUB 255, 0

/* Offset of the saved CS in struct trap_frame (idt.h). */
#define TF_CS (18 * 8)

/* From user mode with KPTI, the shadow CR3 is live: switch to the kernel's
 * (this CPU's PERCPU_KCR3, 0 when no switch is needed) before leaving this
 * section; trap_return switches back to PERCPU_UCR3 just before iretq. */
trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	testb $3, TF_CS(%rsp)
	jz 1f
	mov %gs:PERCPU_KCR3, %rax
	test %rax, %rax
	jz 1f
	mov %rax, %cr3
1:	mov %rsp, %rdi
	cld
	call trap_dispatch
	.globl trap_return
trap_return:
	testb $3, TF_CS(%rsp)
	jz 2f
	mov %gs:PERCPU_UCR3, %rax
	test %rax, %rax
	jz 2f
	mov %rax, %cr3
2:	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	add $16, %rsp
	iretq

	.text
/* Save the C caller's callee-saved registers on its stack and remember
 * that stack: a process or the ring-3 stub runs, and user_resume() comes
 * back by popping them in reverse. */
.macro SAVE_KERNEL_CONTEXT
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	mov %rsp, %gs:PERCPU_USER_KSP
.endm

/* proc_enter(frame): run a process from its saved trap frame. Like
 * user_enter, the kernel stack is saved in PERCPU_USER_KSP and
 * user_resume() comes back here; the frame is copied to the top of this
 * CPU's entry stack (TSS.rsp0, set by the caller), where the traps of
 * the process will land too, and left through trap_return. */
	.globl proc_enter
proc_enter:
	SAVE_KERNEL_CONTEXT
	mov %gs:PERCPU_TSS_RSP0, %rsp
	sub $TRAP_FRAME_SIZE, %rsp
	mov %rdi, %rsi
	mov %rsp, %rdi
	mov $(TRAP_FRAME_SIZE / 8), %ecx
	rep movsq
	jmp trap_return

/* uaccess_copy(dst, src, n): the kernel's access to user memory (system
 * calls), with EFLAGS.AC set where SMAP is on (uaccess_stac) and a #PF at
 * uaccess_copy_insn resumed at uaccess_fixup (idt.c), which returns -1. */
	.globl uaccess_copy, uaccess_copy_insn, uaccess_fixup
uaccess_copy:
	mov %rdx, %rcx
	cmpb $0, uaccess_stac(%rip)
	je uaccess_copy_insn
	stac
uaccess_copy_insn:
	rep movsb
	xor %eax, %eax
	jmp 3f
uaccess_fixup:
	mov $-1, %eax
3:	cmpb $0, uaccess_stac(%rip)
	je 4f
	clac
4:	ret

/* uaccess_strnlen(va, max): the kernel reading a user string in place, a
 * user-access window [uaccess_window_start, uaccess_window_end): a #PF
 * there goes to the space's fault handler (uaccess_window_fault), which
 * returns to the load when it resolved the fault and to
 * uaccess_window_fixup (-1) when it refused it. */
	.globl uaccess_strnlen, uaccess_window_start, uaccess_window_end, uaccess_window_fixup
uaccess_strnlen:
	xor %eax, %eax
	cmpb $0, uaccess_stac(%rip)
	je uaccess_window_start
	stac
uaccess_window_start:
	cmp %rsi, %rax
	jae uaccess_window_end
	cmpb $0, (%rdi,%rax)
	je uaccess_window_end
	inc %rax
	jmp uaccess_window_start
uaccess_window_end:
	jmp 5f
uaccess_window_fixup:
	mov $-1, %rax
5:	cmpb $0, uaccess_stac(%rip)
	je 6f
	clac
6:	ret

/* ---- ring 3 ----
 * user_enter(kind, va, byte, rip, rsp): run the stub at RIP in ring 3 with
 * RDI=kind, RSI=va, RDX=byte, interrupts off. It comes back through a trap
 * (int 0x80 when the access completed, or the fault), whose handler calls
 * user_resume(), which returns from user_enter on the saved kernel stack.
 * TSS.rsp0 is set just below that stack, so the trap frame lands on free
 * stack and everything above it survives. */
	.globl user_enter
user_enter:
	SAVE_KERNEL_CONTEXT
	mov %rsp, %gs:PERCPU_TSS_RSP0
	pushq $SEL_UDATA
	pushq %r8
	pushq $0x2 /* RFLAGS: IF=0, AC=0 */
	pushq $SEL_UCODE
	pushq %rcx
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %ebp, %ebp
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
	xor %r11d, %r11d
	iretq

	.globl user_resume
user_resume:
	mov %gs:PERCPU_USER_KSP, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

/* ---- supervisor probes with exception fixup ----
 * A #PF or #GP at a probe_*_insn address resumes at probe_fixup (idt.c),
 * which returns -1; the trap is recorded in this CPU's trap record. */
	.globl probe_read, probe_write, probe_exec, probe_fixup
	.globl probe_read_insn, probe_write_insn, probe_exec_insn
probe_read:
probe_read_insn:
	movzbl (%rdi), %eax
	ret
probe_write:
probe_write_insn:
	movb %sil, (%rdi)
	xor %eax, %eax
	ret
/* The byte at the target is `ret`. A fault on the fetch itself arrives with
 * RIP = target and the return address pushed: the fixup's `ret` then pops
 * it, exactly as the target's own `ret` would have. */
probe_exec:
	xor %eax, %eax
probe_exec_insn:
	call *%rdi
	ret
probe_fixup:
	mov $-1, %eax
	ret

/* The store of copy-to-user (`kwrite`) and the load of copy-from-user
 * (`kread`): EFLAGS.AC=1 around the one access, so SMAP lets it through,
 * and cleared again on the fixup path too. */
	.globl probe_write_ac, probe_write_ac_insn, probe_read_ac, probe_read_ac_insn, probe_fixup_ac
probe_write_ac:
	stac
probe_write_ac_insn:
	movb %sil, (%rdi)
	clac
	xor %eax, %eax
	ret
probe_read_ac:
	stac
probe_read_ac_insn:
	movzbl (%rdi), %eax
	clac
	ret
probe_fixup_ac:
	clac
	mov $-1, %eax
	ret

/* ---- the ring-3 stub: one page, mapped user-accessible in every tree ---- */
	.section .user.text, "ax"
	.globl user_stub
user_stub:
	cmp $1, %edi
	je 1f
	cmp $2, %edi
	je 2f
	movzbl (%rsi), %eax /* 0: read */
	int $0x80
1:	movb %dl, (%rsi)    /* 1: write */
	xor %eax, %eax
	int $0x80
2:	call *%rsi          /* 2: exec (the byte there is ret) */
	xor %eax, %eax
	int $0x80
	ud2

/* ---- application processors arrive here from the trampoline ---- */
	.text
	.globl ap_entry
ap_entry:
	mov $1, %eax
	lock xadd %eax, ap_ticket(%rip)
	inc %eax /* CPU index: the BSP is 0 */
	mov %eax, %edi
	lea kstacks(%rip), %rsp
	inc %eax
	imul $KSTACK_SIZE, %rax
	add %rax, %rsp
	xor %ebp, %ebp
	call ap_main
	ud2

	.data
	.balign 4
ap_ticket:	.long 0
