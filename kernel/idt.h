/* Traps: the frame the entry stubs build, and the handlers' hooks. */
#ifndef KERNEL_IDT_H
#define KERNEL_IDT_H

#include <stdint.h>

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

void trap_dispatch(struct trap_frame *f);

/* Assembly (entry.S). */
void user_enter(uint64_t kind, uint64_t va, uint64_t byte, uint64_t rip, uint64_t rsp);
_Noreturn void user_resume(void);
int probe_read(uint64_t va);
int probe_write(uint64_t va, uint8_t byte);
int probe_exec(uint64_t va);

#endif
