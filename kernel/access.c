/* SPDX-License-Identifier: MIT */
/* A vector's read/write/exec on this CPU: real accesses through the MMU.
 *
 * Supervisor: probe_* (entry.S) with exception fixup; EFLAGS.AC is 0 in
 * the kernel, so SMAP is enforced. User: the ring-3 stub performs the
 * access and returns through int 0x80; a fault in ring 3 returns to the
 * kernel in the trap handler (idt.c). Either way the trap record of this
 * CPU says how it ended. */
#include "kernel/access.h"

#include "kernel/bootinfo.h"
#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/machine.h"
#include "kernel/percpu.h"

#define PF_P 0x1u
#define PF_RSVD 0x8u

static struct vec_access outcome(const struct trap_record *t, enum vec_access_kind kind)
{
	struct vec_access a = {.outcome = VEC_ACCESS_OK};
	if (t->vector == VEC_PF) {
		a.outcome = VEC_ACCESS_PF;
		a.error_code = (uint32_t)t->error;
		/* QEMU 7.2 reports a reserved-bit fault without P; the SDM (and
		 * KVM, and silicon) set P, since only a present entry has
		 * reserved bits. Report the SDM value, as the software machine
		 * does (docs/QEMU-DIFFERENCES.md). */
		if (a.error_code & PF_RSVD)
			a.error_code |= PF_P;
	} else if (t->vector == VEC_GP) {
		a.outcome = VEC_ACCESS_GP;
	} else if (kind == VEC_READ) {
		a.byte = (uint8_t)t->value;
	}
	return a;
}

/* stac/clac only where the CPU has SMAP: they are #UD otherwise, and
 * without SMAP EFLAGS.AC changes nothing here. */
static bool has_smap(void)
{
	static int smap = -1;
	if (smap < 0)
		smap = cpu_features().smap;
	return smap;
}

/* The store of copy-to-user, on this CPU (the interpreter's kwrite calls
 * it from inside run_on_cpu). */
struct vec_access access_user_copy_write(uint64_t va, uint8_t byte)
{
	struct percpu *pc = this_cpu();
	pc->trap = (struct trap_record){0};
	(void)(has_smap() ? probe_write_ac(va, byte) : probe_write(va, byte));
	return outcome(&pc->trap, VEC_WRITE);
}

/* The load of copy-from-user, the same way (kread, kreadstr). */
struct vec_access access_user_copy_read(uint64_t va)
{
	struct percpu *pc = this_cpu();
	pc->trap = (struct trap_record){0};
	int v = has_smap() ? probe_read_ac(va) : probe_read(va);
	if (v >= 0)
		pc->trap.value = (uint64_t)v;
	return outcome(&pc->trap, VEC_READ);
}

/* kpti=1: the stub runs on the process's shadow tree. Entered like a
 * process (proc_enter: the frame on this CPU's entry stack, which the
 * shadow maps, and trap_return switching to the shadow's CR3); it comes
 * back through trap_common, which switches to the process's own tree,
 * and user_trap as usual. */
static void user_on_shadow(struct percpu *pc, const struct access_req *r)
{
	struct trap_frame f = {
		.rdi = (uint64_t)r->kind,
		.rsi = r->va,
		.rdx = r->byte,
		.rip = machine_user_entry(),
		.cs = SEL_UCODE,
		.rflags = 0x2, /* IF=0, AC=0 */
		.rsp = machine_user_stack(pc->index),
		.ss = SEL_UDATA,
	};
	bool on = irq_save();
	pc->kpti_kernel_cr3 = read_cr3();
	pc->kpti_user_cr3 = pc->vec_user_cr3;
	pc->tss.rsp[0] = entry_stack_top(pc->index);
	proc_enter(&f);
	pc->kpti_kernel_cr3 = pc->kpti_user_cr3 = 0;
	irq_restore(on);
}

/* QEMU 7.2 sets A in a PDPTE that maps a 1G page before it checks the
 * access's permissions; the SDM (and the software machine) set a leaf's A
 * only when the access succeeds (docs/QEMU-DIFFERENCES.md 6). The 1G leaf
 * that translates VA under CR3 when its A is clear, so that a refused
 * access can clear it again; NULL otherwise. */
static uint64_t *clean_1g_leaf(uint64_t cr3, uint64_t va)
{
	uint64_t table = cr3 & MMU_PTE_ADDR_MASK;
	for (unsigned level = boot_info.levels; level >= MMU_LEVEL_PDPT; level--) {
		uint64_t *e = (uint64_t *)phys_to_virt(table) + mmu_va_index(va, (enum mmu_level)level);
		if (!(*e & MMU_PTE_P))
			return NULL;
		if (level == MMU_LEVEL_PDPT)
			return (*e & MMU_PTE_PS) && !(*e & MMU_PTE_A) ? e : NULL;
		table = *e & MMU_PTE_ADDR_MASK;
	}
	return NULL;
}

static bool canonical(uint64_t va)
{
	unsigned shift = boot_info.levels == 5 ? 56 : 47;
	uint64_t top = va >> shift;
	return top == 0 || top == (UINT64_MAX >> shift);
}

void access_on_this_cpu(void *arg)
{
	struct access_req *r = arg;
	struct percpu *pc = this_cpu();
	uint64_t cr3 = r->user && pc->vec_user_cr3 ? pc->vec_user_cr3 : read_cr3();
	uint64_t *leaf_1g = canonical(r->va) ? clean_1g_leaf(cr3, r->va) : NULL;
	pc->trap = (struct trap_record){0};
	if (r->user && pc->vec_user_cr3) {
		user_on_shadow(pc, r);
	} else if (r->user) {
		bool on = irq_save();
		user_enter((uint64_t)r->kind, r->va, r->byte, machine_user_entry(), machine_user_stack(pc->index));
		irq_restore(on);
	} else {
		int v = 0;
		switch (r->kind) {
		case VEC_READ: v = probe_read(r->va); break;
		case VEC_WRITE: v = probe_write(r->va, r->byte); break;
		case VEC_EXEC:
			pc->exec_target = r->va;
			v = probe_exec(r->va);
			pc->exec_target = 0;
			break;
		}
		if (v >= 0)
			pc->trap.value = (uint64_t)v;
	}
	r->result = outcome(&pc->trap, r->kind);
	if (leaf_1g && r->result.outcome == VEC_ACCESS_PF)
		__atomic_and_fetch(leaf_1g, ~MMU_PTE_A, __ATOMIC_SEQ_CST);
}
