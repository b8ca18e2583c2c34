/* SPDX-License-Identifier: MIT */
/* System calls' access to user memory.
 *
 * Copies go through the library (mmu_vm_copy_to_user, _copy_from_user,
 * _strncpy_from_user), which faults pages in (demand, COW, stack growth)
 * exactly as the user's own access would; the store and the load are
 * uaccess_copy (entry.S: stac; rep movsb; clac, a #PF caught by the
 * exception table and reported to the library). Anything refused is
 * -EFAULT, and the process lives on.
 *
 * Reads in place (uaccess_strnlen, entry.S) are a user-access window as
 * include/mmu64/vm.h defines it: a #PF there is resolved by the space's
 * fault handler and the load runs again, or, refused, resumes at the
 * window's fixup, which returns -1 (uaccess_window_fault, from the trap
 * dispatcher). */
#include "kernel/proc.h"

#include "kernel/cpu.h"
#include "kernel/idt.h"
#include "kernel/klib.h"
#include "kernel/percpu.h"
#include "kernel/user/syscall.h"

uint8_t uaccess_stac;
static uint64_t user_end; /* the end of the user half */

void uaccess_init(bool smap, unsigned levels)
{
	uaccess_stac = smap;
	user_end = levels == 5 ? 1ull << 56 : 1ull << 47;
}

bool user_range_ok(uint64_t va, size_t len) { return va < user_end && len <= user_end - va; }

/* mmu_vm_store_fn: 0, or the #PF error code. */
static uint32_t store(void *ctx, mmu_vaddr_t va, const uint8_t *src, size_t len)
{
	(void)ctx;
	struct percpu *pc = this_cpu();
	pc->trap = (struct trap_record){0};
	if (uaccess_copy((void *)va, src, len) == 0)
		return 0;
	/* A supervisor write's #PF always has W set, so this is never 0. */
	return (uint32_t)pc->trap.error | MMU_PF_W;
}

int64_t copy_to_user(struct proc *p, uint64_t va, const void *src, size_t len)
{
	uint32_t error = 0;
	mmu_err_t err = mmu_vm_copy_to_user(&p->sp, va, src, len, store, NULL, &error);
	return err == MMU_OK && error == 0 ? 0 : -EFAULT;
}

/* mmu_vm_load_fn: the same instruction, the other way. */
static bool load(void *ctx, uint8_t *dst, mmu_vaddr_t va, size_t len, uint32_t *error_code)
{
	(void)ctx;
	struct percpu *pc = this_cpu();
	pc->trap = (struct trap_record){0};
	if (uaccess_copy(dst, (const void *)va, len) == 0)
		return true;
	*error_code = (uint32_t)pc->trap.error;
	return false;
}

int64_t copy_from_user(struct proc *p, void *dst, uint64_t va, size_t len)
{
	uint32_t error = 0;
	mmu_err_t err = mmu_vm_copy_from_user(&p->sp, dst, va, len, load, NULL, &error);
	return err == MMU_OK && error == 0 ? 0 : -EFAULT;
}

int64_t strncpy_from_user(struct proc *p, char *dst, uint64_t va, size_t max)
{
	uint32_t error = 0;
	size_t len = 0;
	mmu_err_t err = mmu_vm_strncpy_from_user(&p->sp, dst, va, max, load, NULL, &len, &error);
	return err == MMU_OK && error == 0 ? (int64_t)len : -EFAULT;
}

/* ---- in place: a user-access window ---- */

extern char uaccess_window_start[], uaccess_window_end[], uaccess_window_fixup[];

int64_t user_strnlen(uint64_t va, size_t max)
{
	if (!user_range_ok(va, 1))
		return -EFAULT;
	size_t room = user_end - va < max ? user_end - va : max;
	int64_t n = uaccess_strnlen(va, room);
	/* No NUL before the end of the user half: as the library's INVALID. */
	return n < 0 || ((size_t)n == room && room < max) ? -EFAULT : n;
}

bool uaccess_window_fault(struct trap_frame *f)
{
	struct proc *p = this_cpu()->proc;
	bool in_window = f->rip >= (uint64_t)uaccess_window_start && f->rip < (uint64_t)uaccess_window_end;
	if (f->vector != VEC_PF || !in_window || !p)
		return false;
	uint64_t cr2 = read_cr2();
	/* SMAP without AC would be ACCESS, and KERNEL_BUG below. */
	enum mmu_vm_fault_path path = mmu_vm_kernel_fault_path(true, uaccess_stac, f->rflags);
	struct mmu_vm_fault fault = mmu_vm_fault_decode((uint32_t)f->error, cr2, path);
	enum mmu_vm_outcome o = mmu_vm_handle_fault(&p->sp, &fault);
	if (mmu_vm_resolved(o))
		return true; /* the load runs again */
	if (o != MMU_VM_REFUSED && o != MMU_VM_NOMEM)
		kpanic("proc %d: fault at %lx in a user-access window: outcome %u", p->pid, cr2, (unsigned)o);
	f->rip = (uint64_t)uaccess_window_fixup;
	return true;
}
