/* SPDX-License-Identifier: MIT */
/* Processes of the test kernel: user programs in ring 3, each an mmu64
 * process space (include/mmu64/vm.h), scheduled on every CPU without
 * preemption (a process runs until it makes a blocking call, exits or is
 * killed). */
#ifndef KERNEL_PROC_H
#define KERNEL_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/idt.h"
#include "mmu64/mmu64.h"

#define NPROC 32

enum proc_state { P_FREE, P_EMBRYO, P_RUNNABLE, P_RUNNING, P_WAITING, P_ZOMBIE };

/* Why a process left its CPU (set by the trap handler before user_resume). */
enum proc_leave { LEAVE_NONE, LEAVE_EXIT, LEAVE_WAIT };

struct proc {
	enum proc_state state;
	enum proc_leave leave;
	int pid;
	struct proc *parent;
	int64_t status;    /* exit status, once a zombie */
	uint64_t fault_va;    /* the refused access that killed it, else 0 */
	uint64_t fault_error; /* and its #PF error code */
	uint64_t heap_len;    /* SYS_SBRK: the break is UHEAP_BASE + heap_len */
	struct trap_frame tf; /* the user registers while it is not running */
	struct mmu_vm_space sp;
};

struct proc_config {
	struct mmu *mmu;
	struct mmu_kpti *kpti; /* NULL: no shadow trees */
	bool smap;
};

void proc_init(const struct proc_config *c);

/* A process running the static ELF image at IMAGE (LEN bytes), with its
 * stack region; NULL with the reason printed when it cannot be made. */
struct proc *proc_spawn(const void *image, size_t len);

/* Run processes on the calling CPU until none is left anywhere. */
void sched_run(void);

/* How many times CPU entered a process. */
uint64_t proc_slices(unsigned cpu);

/* Processes not yet freed (zombies included). */
unsigned proc_live(void);

/* The exit status of the first process (pid 1), once it exited. */
extern int64_t proc_first_status;

/* The trap handler for a process's traps from ring 3 (idt.c): a system
 * call, a page fault, or another exception (which kills). Returns to the
 * process, or leaves the CPU through user_resume. */
void proc_trap(struct proc *p, struct trap_frame *f);

/* Leave the CPU for the scheduler: set P->leave first (syscall.c). */
_Noreturn void proc_leave(struct proc *p, enum proc_leave why, const struct trap_frame *f);

/* Kill P from its own trap context: report on the console, exit 139. */
_Noreturn void proc_kill(struct proc *p, const struct trap_frame *f, const char *why, uint64_t va);

/* Under the process lock (proc.c), used by syscall.c. */
struct proc *proc_alloc(struct proc *parent); /* P_EMBRYO, or NULL */
void proc_make_runnable(struct proc *p);
void proc_release_slot(struct proc *p); /* an embryo without a space */
/* wait: reap a zombie child of P (its pid, and *W filled) or return 0 when
 * P has children still running, -1 when it has none. */
struct uwait;
int proc_reap_child(struct proc *p, struct uwait *w);

/* uaccess.c: system calls' access to the memory of the running process.
 * 0, or -EFAULT when the process may not access it (the process lives). */
int64_t copy_from_user(struct proc *p, void *dst, uint64_t va, size_t len);
int64_t copy_to_user(struct proc *p, uint64_t va, const void *src, size_t len);
/* The NUL-terminated string at VA into DST, at most MAX bytes: its length;
 * MAX when no NUL came within MAX (DST not terminated); -EFAULT. */
int64_t strncpy_from_user(struct proc *p, char *dst, uint64_t va, size_t max);
/* The length of the string at VA of the running process, read in place in
 * a user-access window (at most MAX): as strncpy_from_user. */
int64_t user_strnlen(uint64_t va, size_t max);
/* The trap dispatcher's hook: F is a #PF in a user-access window, handled
 * (resolved: retried; refused: resumed at the fixup); false otherwise. */
struct trap_frame;
bool uaccess_window_fault(struct trap_frame *f);
void uaccess_init(bool smap, unsigned levels);
/* [VA, VA+LEN) lies in the user half. */
bool user_range_ok(uint64_t va, size_t len);

/* elf_load.c: map IMAGE's PT_LOAD segments into SP as regions and copy
 * their bytes; the entry point in *ENTRY. */
mmu_err_t elf_load(struct mmu_vm_space *sp, const void *image, size_t len, uint64_t *entry);

extern const struct proc_config *proc_cfg;

#endif
