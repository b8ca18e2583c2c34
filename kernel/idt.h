/* SPDX-License-Identifier: MIT */
/* Traps: the frame the entry stubs build, and the handlers' hooks. */
#ifndef KERNEL_IDT_H
#define KERNEL_IDT_H

#include <stdint.h>

#include "kernel/layout.h"

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

_Static_assert(sizeof(struct trap_frame) == TRAP_FRAME_SIZE, "entry.S frame size");

void trap_dispatch(struct trap_frame *f);

/* Assembly (entry.S). */
void user_enter(uint64_t kind, uint64_t va, uint64_t byte, uint64_t rip, uint64_t rsp);
_Noreturn void user_resume(void);
int probe_read(uint64_t va);
int probe_write(uint64_t va, uint8_t byte);
int probe_exec(uint64_t va);
/* Run a process from FRAME (returns when the trap handler calls
 * user_resume). */
void proc_enter(const struct trap_frame *frame);
/* Copy N bytes between kernel and user memory: 0, or -1 after a #PF
 * (recorded in this CPU's trap record). */
int uaccess_copy(void *dst, const void *src, uint64_t n);
extern uint8_t uaccess_stac; /* 1: stac/clac around it (SMAP is on) */
/* The length of the string at user VA, at most MAX, read in place (a
 * user-access window, uaccess.c): the length, MAX, or -1 when a fault in
 * it was refused. */
int64_t uaccess_strnlen(uint64_t va, uint64_t max);
/* probe_write and probe_read with EFLAGS.AC=1 (stac/clac): the store of
 * copy-to-user and the load of copy-from-user. */
int probe_write_ac(uint64_t va, uint8_t byte);
int probe_read_ac(uint64_t va);

#endif
