/* SPDX-License-Identifier: MIT */
/* The IDT and the trap dispatcher: IPIs, returns from ring 3 (int 0x80 or
 * a fault there), and exception fixup for the supervisor probes. Anything
 * else is a kernel bug: print the frame and exit with a failure code. */
#include "kernel/idt.h"

#include "kernel/cpu.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/percpu.h"
#include "kernel/proc.h"

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

struct __attribute__((packed)) idt_ptr {
	uint16_t limit;
	uint64_t base;
};

#define GATE_INTERRUPT 0x8e /* present, DPL 0, 64-bit interrupt gate (IF cleared) */
#define GATE_DPL3 0x60

/* In .bss.kpti: the CPU reads it on the shadow's CR3 (KPTI). */
static struct idt_gate idt[256] __attribute__((aligned(16), section(".bss.kpti")));

#define DECLARE_STUB(n) extern char isr_##n[];
DECLARE_STUB(0) DECLARE_STUB(1) DECLARE_STUB(2) DECLARE_STUB(3) DECLARE_STUB(4) DECLARE_STUB(5)
DECLARE_STUB(6) DECLARE_STUB(7) DECLARE_STUB(8) DECLARE_STUB(9) DECLARE_STUB(10) DECLARE_STUB(11)
DECLARE_STUB(12) DECLARE_STUB(13) DECLARE_STUB(14) DECLARE_STUB(15) DECLARE_STUB(16) DECLARE_STUB(17)
DECLARE_STUB(18) DECLARE_STUB(19) DECLARE_STUB(20) DECLARE_STUB(21) DECLARE_STUB(22) DECLARE_STUB(23)
DECLARE_STUB(24) DECLARE_STUB(25) DECLARE_STUB(26) DECLARE_STUB(27) DECLARE_STUB(28) DECLARE_STUB(29)
DECLARE_STUB(30) DECLARE_STUB(31) DECLARE_STUB(128) DECLARE_STUB(129) DECLARE_STUB(240) DECLARE_STUB(241) DECLARE_STUB(255)

static char *const exception_stubs[32] = {
	isr_0,  isr_1,  isr_2,  isr_3,  isr_4,  isr_5,  isr_6,  isr_7,  isr_8,  isr_9,  isr_10,
	isr_11, isr_12, isr_13, isr_14, isr_15, isr_16, isr_17, isr_18, isr_19, isr_20, isr_21,
	isr_22, isr_23, isr_24, isr_25, isr_26, isr_27, isr_28, isr_29, isr_30, isr_31,
};

extern char probe_read_insn[], probe_write_insn[], probe_exec_insn[], probe_fixup[];
extern char probe_write_ac_insn[], probe_read_ac_insn[], probe_fixup_ac[];
extern char uaccess_copy_insn[], uaccess_fixup[];

static void set_gate(unsigned vec, const void *handler, uint8_t type, uint8_t ist)
{
	uint64_t a = (uint64_t)handler;
	idt[vec] = (struct idt_gate){
		.off_lo = (uint16_t)a,
		.sel = SEL_KCODE,
		.ist = ist,
		.type = type,
		.off_mid = (uint16_t)(a >> 16),
		.off_hi = (uint32_t)(a >> 32),
	};
}

void idt_build(void)
{
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, exception_stubs[v], GATE_INTERRUPT, v == 8 ? 1 : 0);
	set_gate(VEC_SYSCALL, isr_128, GATE_INTERRUPT | GATE_DPL3, 0);
	set_gate(VEC_PROC_SYSCALL, isr_129, GATE_INTERRUPT | GATE_DPL3, 0);
	set_gate(VEC_IPI_TLB, isr_240, GATE_INTERRUPT, 0);
	set_gate(VEC_IPI_WAKE, isr_241, GATE_INTERRUPT, 0);
	set_gate(VEC_SPURIOUS, isr_255, GATE_INTERRUPT, 0);
}

void idt_load(void)
{
	struct idt_ptr p = {sizeof idt - 1, (uint64_t)idt};
	__asm__ volatile("lidt %0" ::"m"(p));
}

/* Ring 3 came back: through int 0x80 with the byte in RAX, or by a fault. */
static _Noreturn void user_trap(struct percpu *pc, const struct trap_frame *f)
{
	if (f->vector == VEC_SYSCALL) {
		pc->trap = (struct trap_record){.vector = 0, .value = f->rax};
	} else if (f->vector == VEC_PF || f->vector == VEC_GP) {
		pc->trap = (struct trap_record){.vector = f->vector, .error = f->error, .cr2 = read_cr2()};
	} else {
		kpanic("cpu %u: exception %lu in ring 3 at rip %lx (error %lx)", pc->index, f->vector, f->rip,
		       f->error);
	}
	user_resume();
}

/* A supervisor probe faulted: record the trap and resume at probe_fixup.
 * False when RIP is not a probe (a kernel bug). */
static bool probe_fixup_trap(struct percpu *pc, struct trap_frame *f)
{
	uint64_t rip = f->rip;
	bool at_probe = rip == (uint64_t)probe_read_insn || rip == (uint64_t)probe_write_insn ||
			rip == (uint64_t)probe_exec_insn;
	bool at_exec_target = pc->exec_target != 0 && rip == pc->exec_target;
	bool at_ac_probe = rip == (uint64_t)probe_write_ac_insn || rip == (uint64_t)probe_read_ac_insn;
	bool at_uaccess = rip == (uint64_t)uaccess_copy_insn;
	if (f->vector != VEC_PF && f->vector != VEC_GP)
		return false;
	if (!at_probe && !at_exec_target && !at_ac_probe && !at_uaccess)
		return false;
	pc->trap = (struct trap_record){.vector = f->vector, .error = f->error, .cr2 = read_cr2()};
	f->rip = at_uaccess    ? (uint64_t)uaccess_fixup
		 : at_ac_probe ? (uint64_t)probe_fixup_ac
			       : (uint64_t)probe_fixup;
	return true;
}

_Atomic uint64_t wake_ipis;

static _Noreturn void trap_fatal(const struct trap_frame *f)
{
	kpanic("cpu %u: exception %lu at rip %lx, error %lx, cr2 %lx, rsp %lx, cs %lx, rflags %lx\n"
	       "  rax %lx rbx %lx rcx %lx rdx %lx rsi %lx rdi %lx",
	       this_cpu()->index, f->vector, f->rip, f->error, read_cr2(), f->rsp, f->cs, f->rflags, f->rax, f->rbx,
	       f->rcx, f->rdx, f->rsi, f->rdi);
}

void trap_dispatch(struct trap_frame *f)
{
	struct percpu *pc = this_cpu();
	switch (f->vector) {
	case VEC_IPI_TLB:
		ipi_tlb_handler();
		lapic_eoi();
		return;
	case VEC_IPI_WAKE:
		atomic_fetch_add_explicit(&wake_ipis, 1, memory_order_relaxed);
		lapic_eoi();
		return;
	case VEC_SPURIOUS:
		return; /* no EOI for a spurious interrupt */
	}
	if ((f->cs & 3) == 3) {
		if (pc->proc) {
			proc_trap(pc->proc, f); /* returns to the process, or never */
			return;
		}
		user_trap(pc, f);
	}
	if (uaccess_window_fault(f) || probe_fixup_trap(pc, f))
		return;
	trap_fatal(f);
}
