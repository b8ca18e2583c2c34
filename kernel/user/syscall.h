/* SPDX-License-Identifier: MIT */
/* The system calls of the test kernel's user programs: shared by the kernel
 * (kernel/syscall.c) and the programs (kernel/user/). `int $0x81` with the
 * number in RAX and up to three arguments in RDI, RSI, RDX; the result
 * comes back in RAX (negative: an error, see below). */
#ifndef KERNEL_USER_SYSCALL_H
#define KERNEL_USER_SYSCALL_H

#include <stdint.h>

#define SYSCALL_VECTOR 0x81

enum {
	SYS_EXIT,    /* (status): never returns */
	SYS_WRITE,   /* (buf, len): to the console; len or -EFAULT */
	SYS_FORK,    /* (): the child's pid, 0 in the child */
	SYS_WAIT,    /* (struct uwait *): a child's pid, -ECHILD when none */
	SYS_READ,    /* (buf, len, byte): the kernel stores LEN copies of BYTE
	              * into BUF through copy-to-user, as read() does; len or
	              * -EFAULT (the process lives on) */
	SYS_MAP,     /* (va, len, prot): an anonymous demand-zero region */
	SYS_UNMAP,   /* (va, len): region and pages gone */
	SYS_PROTECT, /* (va, len, prot): new permissions for the regions'
	              * parts in the range (mmu_vm_region_protect); 0,
	              * -EINVAL or -ENOMEM */
	SYS_WALK,    /* (va, struct uwalk *): the MMU's view of VA (debug) */
	SYS_GETPID,  /* () */
	SYS_MEMINFO, /* (struct umeminfo *) */
	SYS_STRCOPY, /* (src, dst, max): the kernel copies the string at SRC
	              * in (strncpy-from-user, max <= USTR_MAX) and back out to
	              * DST (copy-to-user, its NUL too when it had one): its
	              * length; MAX when no NUL came within MAX; -EFAULT */
	SYS_STRLEN,  /* (str, max): the length of the string at STR, read by
	              * the kernel in place (a user-access window); as above */
	SYS_SBRK,    /* (increment): move the break (the end of the heap at
	              * UHEAP_BASE) by INCREMENT bytes, a multiple of 4K, either
	              * way (mmu_vm_region_resize); the old break, -EINVAL
	              * (unaligned, below UHEAP_BASE) or -ENOMEM (above
	              * UHEAP_MAX, another region in the way) */
	SYS_MAPSHARED, /* (va, len, prot): a new anonymous memory object of
	              * LEN bytes mapped MMU_VM_SHARED: fork's children share
	              * its pages, never COW; freed once no region maps it;
	              * 0, -EINVAL, -ENOMEM (no object slot left) */
	SYS_MAPFILE, /* (va, len, prot): the kernel's read-only file
	              * (UFILE_PAGES pages, ufile_word) from its start, mapped
	              * private through the pager hook: a write copies the page,
	              * the file never changes; 0 or -EINVAL (LEN beyond the
	              * file's end too) */
	SYS_SETHUGE, /* (on): 2M pages for the process's anonymous regions
	              * (mmu_vm_space_set_huge); 0 */
	SYS_SETSWAP, /* (on): the kernel's swap store for the process
	              * (mmu_vm_space_set_swap; a fork child inherits it) or
	              * none; 0, -EBUSY (pages are out and would lose it) */
	SYS_PAGEOUT, /* (va): page out the 4K page at VA (mmu_vm_page_out):
	              * its frame freed, the next access pages it back in; 0,
	              * -ENOENT (nothing mapped there, or already out),
	              * -EBUSY (shared after fork), -ENOMEM (the store is
	              * full), -EINVAL (no store, not an anonymous page, a 2M
	              * leaf, unaligned) */
	SYS_FILEPAGEOUT, /* (page): page PAGE of SYS_MAPFILE's file out of
	              * every process that maps it (mmu_vm_object_page_out,
	              * one shootdown): the next touch in each maps it again
	              * through the pager; 0 (clean), 1 (dirty), -ENOENT (not
	              * resident), -EBUSY (a mapper is inside a call of the
	              * library on another CPU: try again), -EINVAL (PAGE
	              * beyond the file) */
	SYS_OPAGEOUT, /* (va): the page of the memory object mapped at VA
	              * (SYS_MAPSHARED's, whose pages go to the swap pool, or
	              * the file's) out of every process that maps it
	              * (mmu_vm_object_page_out); the next touch in each brings
	              * it back; 0 (clean), 1 (dirty), -ENOENT (not resident),
	              * -EBUSY (try again), -ENOMEM (the pool is full),
	              * -EINVAL (no object there) */
	SYS_COUNT
};

#define USTR_MAX 256 /* the longest string SYS_STRCOPY takes */

/* Errors (negated in RAX). */
enum { ENOENT = 2, EFAULT = 14, ECHILD = 10, ENOMEM = 12, EBUSY = 16, EINVAL = 22, ENOSYS = 38, EAGAIN = 11 };

/* Protection bits of SYS_MAP and SYS_PROTECT (mmu64's MMU_PROT_R/W/X). */
#define UPROT_R 1u
#define UPROT_W 2u
#define UPROT_X 4u

/* The heap: SYS_SBRK's break starts at UHEAP_BASE (no region while the
 * heap is empty) and stays at most UHEAP_MAX above it. */
#define UHEAP_BASE 0x0000000040000000ul
#define UHEAP_MAX (256ul << 20)

/* The kernel's read-only file of SYS_MAPFILE: UFILE_PAGES pages whose
 * 64-bit word I of page P is ufile_word(P, I). */
#define UFILE_PAGES 4u
static inline uint64_t ufile_word(uint64_t page, uint64_t i)
{
	return 0x66696c6500000000ul ^ (page << 16) ^ i; /* "file" */
}

/* Where the kernel puts a program's stack: a stack region of USTACK_SIZE
 * below USTACK_TOP that grows down to mmu64's default maximum (8 MiB). */
#define USTACK_TOP 0x00007fffff000000ul
#define USTACK_SIZE 0x10000ul

/* A killed process's status (as a shell shows a SIGSEGV death). */
#define STATUS_SEGV 139

struct uwait {
	int64_t status;
	uint64_t fault_va;    /* the refused access that killed it, else 0 */
	uint64_t fault_error; /* its #PF error code */
};

struct uwalk {
	int64_t err;   /* 0, or the mmu_err_t (NOTEXIST: not mapped) */
	uint64_t pa;   /* the physical address VA translates to */
	uint64_t leaf; /* the raw leaf entry */
	uint64_t prot; /* effective UPROT_* (and 8: user) */
	uint64_t size; /* bytes the leaf maps: 4K, 2M or 1G */
};

struct umeminfo {
	uint64_t pool_frames; /* 4K frames of the data pool */
	uint64_t frames_used; /* in use now */
	uint64_t kpti;        /* 1: user mode runs on a shadow tree */
	uint64_t swap_slots;  /* the swap store's slots in use now */
};

/* x86 paging-entry bits the tests look at. */
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_XD (1ull << 63)
#define PF_P 1u
#define PF_W 2u
#define PF_U 4u
#define PF_ID 16u

#endif
