/* SPDX-License-Identifier: MIT */
/* The process table and the scheduler.
 *
 * One lock (proc_lock) guards every process's state, parent and status;
 * it is never held across a call into mmu64 (which may wait for
 * shootdown acknowledgements with interrupts briefly on). A process's
 * space is touched only by the CPU running it, and at exit by that same
 * CPU after it went back to the kernel tree (mmu_vm_space_exit is BUSY
 * while the tree is loaded anywhere). */
#include "kernel/proc.h"

#include "kernel/bootinfo.h"
#include "kernel/cpu.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/layout.h"
#include "kernel/memobj.h"
#include "kernel/percpu.h"
#include "kernel/spinlock.h"
#include "kernel/user/syscall.h"

static struct proc procs[NPROC];
static struct spinlock proc_lock = SPINLOCK_INIT;
static int next_pid = 1;
static _Atomic unsigned live;
static struct proc_config config;
int64_t proc_first_status = -1;
const struct proc_config *proc_cfg = &config;

void proc_init(const struct proc_config *c)
{
	config = *c;
	uaccess_init(c->smap, boot_info.levels);
}

unsigned proc_live(void) { return live; }

struct proc *proc_alloc(struct proc *parent)
{
	struct proc *p = NULL;
	bool on = spin_lock_irqsave(&proc_lock);
	for (unsigned i = 0; i < NPROC && !p; i++) {
		if (procs[i].state == P_FREE) {
			p = &procs[i];
			p->state = P_EMBRYO;
			p->pid = next_pid++;
			p->parent = parent;
			p->leave = LEAVE_NONE;
			p->status = 0;
			p->fault_va = 0;
			p->fault_error = 0;
			p->heap_len = parent ? parent->heap_len : 0; /* fork copies the heap region */
			live++;
		}
	}
	spin_unlock_irqrestore(&proc_lock, on);
	return p;
}

void proc_release_slot(struct proc *p)
{
	bool on = spin_lock_irqsave(&proc_lock);
	p->state = P_FREE;
	live--;
	spin_unlock_irqrestore(&proc_lock, on);
}

void proc_make_runnable(struct proc *p)
{
	bool on = spin_lock_irqsave(&proc_lock);
	p->state = P_RUNNABLE;
	spin_unlock_irqrestore(&proc_lock, on);
}

/* Under proc_lock. */
static void proc_free_locked(struct proc *p)
{
	p->state = P_FREE;
	p->parent = NULL;
	live--;
}

int proc_reap_child(struct proc *p, struct uwait *w)
{
	int found = -1;
	bool on = spin_lock_irqsave(&proc_lock);
	for (unsigned i = 0; i < NPROC; i++) {
		struct proc *c = &procs[i];
		if (c->state == P_FREE || c->parent != p)
			continue;
		if (c->state != P_ZOMBIE) {
			found = 0;
			continue;
		}
		found = c->pid;
		*w = (struct uwait){.status = c->status, .fault_va = c->fault_va, .fault_error = c->fault_error};
		proc_free_locked(c);
		break;
	}
	spin_unlock_irqrestore(&proc_lock, on);
	return found;
}

struct proc *proc_spawn(const void *image, size_t len)
{
	struct proc *p = proc_alloc(NULL);
	if (!p) {
		kprintf("proc: no free process slot\n");
		return NULL;
	}
	uint64_t entry = 0;
	mmu_err_t err = mmu_vm_space_create(config.mmu, &p->sp);
	if (err != MMU_OK) {
		kprintf("proc: space: %s\n", mmu_err_name(err));
		proc_release_slot(p);
		return NULL;
	}
	if (config.kpti)
		err = mmu_vm_kpti_enable(&p->sp, config.kpti);
	if (err == MMU_OK)
		err = elf_load(&p->sp, image, len, &entry);
	if (err == MMU_OK)
		err = mmu_vm_region_add(&p->sp, USTACK_TOP - USTACK_SIZE, USTACK_SIZE, MMU_PROT_R | MMU_PROT_W,
					MMU_VM_STACK, 0);
	if (err != MMU_OK) {
		kprintf("proc: loading the program: %s\n", mmu_err_name(err));
		(void)mmu_vm_space_exit(&p->sp);
		proc_release_slot(p);
		return NULL;
	}
	p->tf = (struct trap_frame){
		.rip = entry,
		.cs = SEL_UCODE,
		.rflags = RFLAGS_IF | 0x2, /* interrupts on: shootdown IPIs reach us in ring 3 */
		.rsp = USTACK_TOP,
		.ss = SEL_UDATA,
	};
	proc_make_runnable(p);
	return p;
}

/* ---- leaving the CPU ---- */

_Noreturn void proc_leave(struct proc *p, enum proc_leave why, const struct trap_frame *f)
{
	if (f)
		p->tf = *f;
	p->leave = why;
	user_resume();
}

_Noreturn void proc_kill(struct proc *p, const struct trap_frame *f, const char *why, uint64_t va)
{
	kprintf("proc %d: killed: %s at %lx (rip %lx, error %lx)\n", p->pid, why, va, f->rip, f->error);
	p->status = STATUS_SEGV;
	p->fault_va = va;
	p->fault_error = f->error;
	proc_leave(p, LEAVE_EXIT, NULL);
}

/* After the exiting process's CPU is back on the kernel tree: free the
 * space, then become a zombie for the parent (or go away when there is
 * none), and hand our own children to nobody. */
static void finish_exit(struct proc *p)
{
	mmu_err_t err = mmu_vm_space_exit(&p->sp);
	if (err != MMU_OK)
		kpanic("proc %d: space exit: %s", p->pid, mmu_err_name(err));
	memobj_sweep(); /* the shared objects only this space still mapped */
	if (p->pid == 1)
		proc_first_status = p->status;
	bool on = spin_lock_irqsave(&proc_lock);
	for (unsigned i = 0; i < NPROC; i++) {
		struct proc *c = &procs[i];
		if (c->state == P_FREE || c->parent != p)
			continue;
		if (c->state == P_ZOMBIE)
			proc_free_locked(c);
		else
			c->parent = NULL;
	}
	if (!p->parent) {
		proc_free_locked(p);
	} else {
		p->state = P_ZOMBIE;
		/* The parent's wait restarts (its RIP was moved back). */
		if (p->parent->state == P_WAITING)
			p->parent->state = P_RUNNABLE;
	}
	spin_unlock_irqrestore(&proc_lock, on);
}

/* A parent that found no zombie blocks, unless a child exited meanwhile. */
static void finish_wait(struct proc *p)
{
	bool on = spin_lock_irqsave(&proc_lock);
	bool zombie = false;
	for (unsigned i = 0; i < NPROC; i++)
		if (procs[i].state == P_ZOMBIE && procs[i].parent == p)
			zombie = true;
	p->state = zombie ? P_RUNNABLE : P_WAITING;
	spin_unlock_irqrestore(&proc_lock, on);
}

/* ---- the scheduler ---- */

static struct proc *pick(void)
{
	static unsigned cursor; /* round robin over the table */
	struct proc *p = NULL;
	bool on = spin_lock_irqsave(&proc_lock);
	for (unsigned n = 0; n < NPROC && !p; n++) {
		struct proc *c = &procs[(cursor + n) % NPROC];
		if (c->state == P_RUNNABLE) {
			c->state = P_RUNNING;
			p = c;
			cursor = (cursor + n + 1) % NPROC;
		}
	}
	spin_unlock_irqrestore(&proc_lock, on);
	return p;
}

static uint64_t slices[MAX_CPUS];

uint64_t proc_slices(unsigned cpu) { return slices[cpu]; }

/* Load P's space, run it until it leaves, go back to the kernel tree. */
static void run(struct percpu *pc, struct proc *p)
{
	mmu_tree_load(&p->sp.tree);
	if (config.kpti) {
		pc->kpti_kernel_cr3 = mmu_vm_kernel_cr3(&p->sp);
		pc->kpti_user_cr3 = mmu_vm_user_cr3(&p->sp);
	}
	pc->tss.rsp[0] = entry_stack_top(pc->index);
	p->leave = LEAVE_NONE;
	slices[pc->index]++;
	irq_disable();
	pc->proc = p;
	proc_enter(&p->tf);
	pc->proc = NULL;
	pc->kpti_kernel_cr3 = pc->kpti_user_cr3 = 0;
	mmu_tree_load(mmu_kernel_tree(config.mmu));
	irq_enable();
}

void sched_run(void)
{
	struct percpu *pc = this_cpu();
	irq_enable();
	while (atomic_load(&live) != 0) {
		struct proc *p = pick();
		if (!p) {
			cpu_pause();
			continue;
		}
		run(pc, p);
		if (p->leave == LEAVE_EXIT)
			finish_exit(p);
		else if (p->leave == LEAVE_WAIT)
			finish_wait(p);
		else
			kpanic("proc %d left cpu %u without a reason", p->pid, pc->index);
	}
}
