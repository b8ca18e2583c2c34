/* SPDX-License-Identifier: MIT */
/* A process's traps from ring 3: system calls (int 0x81), page faults
 * (mmu64's fault handler decides; the access is retried by returning),
 * and any other exception (the process is killed, the kernel lives on).
 * Runs on the CPU's entry stack with interrupts off; the library's waits
 * for shootdown acknowledgements open interrupt windows themselves. */
#include "kernel/proc.h"

#include "kernel/cpu.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/kswap.h"
#include "kernel/layout.h"
#include "kernel/memobj.h"
#include "kernel/percpu.h"
#include "kernel/pmem.h"
#include "kernel/user/syscall.h"

#define CHUNK 256

/* `mmu_err_t` to the negative errno a program sees. */
static int64_t err_to_errno(mmu_err_t err)
{
	switch (err) {
	case MMU_OK: return 0;
	case MMU_E_NOMEM: return -ENOMEM;
	case MMU_E_NOSPACE: return -ENOMEM; /* no region slot: Linux's max_map_count says ENOMEM too */
	default: return -EINVAL;
	}
}

static int64_t sys_write(struct proc *p, uint64_t va, uint64_t len)
{
	char buf[CHUNK];
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < CHUNK ? len - done : CHUNK;
		int64_t r = copy_from_user(p, buf, va + done, n);
		if (r < 0)
			return r;
		serial_write(buf, n);
		done += n;
	}
	return (int64_t)len;
}

/* As read(): the kernel stores into the user's buffer, faulting in demand
 * pages and breaking COW as a user write would. */
static int64_t sys_read(struct proc *p, uint64_t va, uint64_t len, uint8_t byte)
{
	uint8_t buf[CHUNK];
	memset(buf, byte, sizeof buf);
	for (uint64_t done = 0; done < len;) {
		uint64_t n = len - done < CHUNK ? len - done : CHUNK;
		int64_t r = copy_to_user(p, va + done, buf, n);
		if (r < 0)
			return r;
		done += n;
	}
	return (int64_t)len;
}

static int64_t sys_fork(struct proc *p, const struct trap_frame *f)
{
	struct proc *c = proc_alloc(p);
	if (!c)
		return -EAGAIN;
	mmu_err_t err = mmu_vm_fork(&p->sp, &c->sp);
	if (err != MMU_OK) {
		proc_release_slot(c); /* nothing was made */
		return err_to_errno(err);
	}
	c->tf = *f;
	c->tf.rax = 0;
	proc_make_runnable(c);
	return c->pid;
}

/* No zombie yet: leave the CPU with RIP back on `int $0x81`, so the call
 * runs again when a child exits. */
static int64_t sys_wait(struct proc *p, struct trap_frame *f, uint64_t uva)
{
	struct uwait w;
	int pid = proc_reap_child(p, &w);
	if (pid < 0)
		return -ECHILD;
	if (pid == 0) {
		f->rip -= 2;
		proc_leave(p, LEAVE_WAIT, f);
	}
	if (uva && copy_to_user(p, uva, &w, sizeof w) < 0)
		return -EFAULT;
	return pid;
}

static int64_t sys_walk(struct proc *p, uint64_t va, uint64_t uva)
{
	struct mmu_translation t;
	struct uwalk w = {0};
	if (!user_range_ok(va, 1))
		return -EINVAL; /* the kernel half's layout is none of its business */
	mmu_err_t err = mmu_walk(&p->sp.tree, va, &t);
	w.err = err;
	if (err == MMU_OK) {
		w.pa = mmu_pa_bits(t.pa);
		w.leaf = t.leaf;
		w.prot = t.prot;
		w.size = mmu_size_bytes(t.size);
	}
	return copy_to_user(p, uva, &w, sizeof w);
}

static int64_t sys_meminfo(struct proc *p, uint64_t uva)
{
	struct umeminfo m = {
		.pool_frames = pmem_data_pool_frames(),
		.frames_used = pmem_data_in_use(),
		.kpti = proc_cfg->kpti != NULL,
		.swap_slots = kswap_slots_used(),
	};
	return copy_to_user(p, uva, &m, sizeof m);
}

/* As a path name comes in: copied into the kernel, then (so that the
 * program can check the bytes) copied back out to DST. */
static int64_t sys_strcopy(struct proc *p, uint64_t src, uint64_t dst, uint64_t max)
{
	char buf[USTR_MAX];
	if (max > USTR_MAX)
		return -EINVAL;
	int64_t len = strncpy_from_user(p, buf, src, max);
	if (len < 0)
		return len;
	size_t out = (uint64_t)len < max ? (size_t)len + 1 : (size_t)len;
	return copy_to_user(p, dst, buf, out) < 0 ? -EFAULT : len;
}

/* brk: the heap is one anonymous region at UHEAP_BASE, absent while it
 * is empty (a region is never 0 bytes long). Growth maps nothing; a
 * shrink frees the pages cut off (mmu_vm_region_resize), so a touch past
 * the new break faults with no region and kills. */
static int64_t sys_sbrk(struct proc *p, int64_t increment)
{
	uint64_t old = p->heap_len, len = old + (uint64_t)increment;
	if ((uint64_t)increment % MMU_PAGE_SIZE || (increment < 0 && 0 - (uint64_t)increment > old))
		return -EINVAL;
	if (increment > 0 && (uint64_t)increment > UHEAP_MAX - old)
		return -ENOMEM;
	mmu_err_t err = MMU_OK;
	if (len != old && old == 0)
		err = mmu_vm_region_add(&p->sp, UHEAP_BASE, len, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0);
	else if (len != old && len == 0)
		err = mmu_vm_region_remove(&p->sp, UHEAP_BASE, old);
	else if (len != old)
		err = mmu_vm_region_resize(&p->sp, UHEAP_BASE, len);
	if (err == MMU_E_DUPLICATED)
		return -ENOMEM; /* a mapping in the way: brk's answer */
	if (err != MMU_OK)
		return err_to_errno(err);
	p->heap_len = len;
	return (int64_t)(UHEAP_BASE + old);
}

/* An unmap may have dropped a shared object's last mapping. */
static int64_t sys_unmap(struct proc *p, uint64_t va, uint64_t len)
{
	mmu_err_t err = mmu_vm_region_remove(&p->sp, va, len);
	if (err == MMU_OK)
		memobj_sweep();
	return err_to_errno(err);
}

/* The swap calls' errors: BUSY and NOTEXIST mean something here. */
static int64_t swap_errno(mmu_err_t err)
{
	return err == MMU_E_BUSY ? -EBUSY : err == MMU_E_NOTEXIST ? -ENOENT : err_to_errno(err);
}

/* The file's page out of every process: 1 when a leaf had D. */
static int64_t sys_filepageout(uint64_t page)
{
	bool dirty = false;
	mmu_err_t err = memobj_file_page_out(page, &dirty);
	return err == MMU_OK ? (int64_t)dirty : swap_errno(err);
}

/* The page of the object mapped at VA out of every process. */
static int64_t sys_opageout(struct proc *p, uint64_t va)
{
	bool dirty = false;
	mmu_err_t err = memobj_page_out_at(&p->sp, va, &dirty);
	return err == MMU_OK ? (int64_t)dirty : swap_errno(err);
}

static int64_t do_syscall(struct proc *p, struct trap_frame *f)
{
	uint64_t a = f->rdi, b = f->rsi, c = f->rdx;
	switch (f->rax) {
	case SYS_EXIT:
		p->status = (int64_t)a;
		proc_leave(p, LEAVE_EXIT, NULL);
	case SYS_WRITE: return sys_write(p, a, b);
	case SYS_FORK: return sys_fork(p, f);
	case SYS_WAIT: return sys_wait(p, f, a);
	case SYS_READ: return sys_read(p, a, b, (uint8_t)c);
	case SYS_MAP: return err_to_errno(mmu_vm_region_add(&p->sp, a, b, (unsigned)c, MMU_VM_ANON, 0));
	case SYS_UNMAP: return sys_unmap(p, a, b);
	case SYS_PROTECT: return err_to_errno(mmu_vm_region_protect(&p->sp, a, b, (unsigned)c));
	case SYS_WALK: return sys_walk(p, a, b);
	case SYS_GETPID: return p->pid;
	case SYS_MEMINFO: return sys_meminfo(p, a);
	case SYS_STRCOPY: return sys_strcopy(p, a, b, c);
	case SYS_STRLEN: return user_strnlen(a, b);
	case SYS_SBRK: return sys_sbrk(p, (int64_t)a);
	case SYS_MAPSHARED: return err_to_errno(memobj_map_shared(&p->sp, a, b, (unsigned)c));
	case SYS_MAPFILE: return err_to_errno(memobj_map_file(&p->sp, a, b, (unsigned)c));
	case SYS_SETHUGE: return err_to_errno(mmu_vm_space_set_huge(&p->sp, a != 0));
	case SYS_SETSWAP: return swap_errno(kswap_set(&p->sp, a != 0));
	case SYS_PAGEOUT: return swap_errno(mmu_vm_page_out(&p->sp, a));
	case SYS_FILEPAGEOUT: return sys_filepageout(a);
	case SYS_OPAGEOUT: return sys_opageout(p, a);
	default: return -ENOSYS;
	}
}

static const char *outcome_name(enum mmu_vm_outcome o)
{
	switch (o) {
	case MMU_VM_SEGV: return "segv";
	case MMU_VM_KERNEL_BUG: return "kernel bug";
	case MMU_VM_CORRUPT: return "page-table corruption (RSVD)";
	case MMU_VM_NOMEM: return "out of memory on a fault";
	case MMU_VM_DEAD: return "fault on an exited space";
	default: return "refused";
	}
}

/* A user #PF: decode, let the space's policy decide, retry (return) when
 * it resolved the fault. */
static void page_fault(struct proc *p, struct trap_frame *f)
{
	uint64_t cr2 = read_cr2();
	struct mmu_vm_fault fault = mmu_vm_fault_decode((uint32_t)f->error, cr2, MMU_VM_FAULT_ACCESS);
	enum mmu_vm_outcome out = mmu_vm_handle_fault(&p->sp, &fault);
	if (mmu_vm_resolved(out))
		return;
	if (out == MMU_VM_CORRUPT || out == MMU_VM_KERNEL_BUG || out == MMU_VM_DEAD)
		kpanic("proc %d: fault at %lx: %s", p->pid, cr2, outcome_name(out));
	proc_kill(p, f, outcome_name(out), cr2);
}

void proc_trap(struct proc *p, struct trap_frame *f)
{
	switch (f->vector) {
	case VEC_PROC_SYSCALL:
		f->rax = (uint64_t)do_syscall(p, f);
		return;
	case VEC_PF:
		page_fault(p, f);
		return;
	default:
		proc_kill(p, f, f->vector == VEC_GP ? "general protection" : "exception", f->rip);
	}
}
