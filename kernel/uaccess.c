/* SPDX-License-Identifier: MIT */
/* System calls' access to user memory.
 *
 * Stores go through mmu_vm_copy_to_user, which faults pages in (demand,
 * COW, stack growth) exactly as a user write would, the store itself
 * being uaccess_copy (entry.S: stac; rep movsb; clac, a #PF caught by
 * the exception table). Loads use the same instruction and, on a #PF,
 * the space's fault handler with the copy-user flag: a demand page is
 * mapped and the copy retried; anything refused is -EFAULT, and the
 * process lives on. */
#include "kernel/proc.h"

#include "kernel/idt.h"
#include "kernel/percpu.h"
#include "kernel/user/syscall.h"

#define PAGE 4096ull
#define RETRIES 4

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

int64_t copy_from_user(struct proc *p, void *dst, uint64_t va, size_t len)
{
	if (!user_range_ok(va, len))
		return -EFAULT;
	struct percpu *pc = this_cpu();
	uint8_t *d = dst;
	while (len) {
		size_t n = PAGE - (va & (PAGE - 1));
		if (n > len)
			n = len;
		unsigned tries = 0;
		for (;;) {
			pc->trap = (struct trap_record){0};
			if (uaccess_copy(d, (const void *)va, n) == 0)
				break;
			if (pc->trap.vector != VEC_PF || ++tries > RETRIES)
				return -EFAULT;
			struct mmu_vm_fault f = mmu_vm_fault_decode((uint32_t)pc->trap.error, pc->trap.cr2, MMU_VM_FAULT_COPY_USER);
			if (!mmu_vm_resolved(mmu_vm_handle_fault(&p->sp, &f)))
				return -EFAULT;
		}
		d += n, va += n, len -= n;
	}
	return 0;
}
