/* SPDX-License-Identifier: MIT */
/* Kernel page-table isolation (KPTI): for each process space, a shadow tree
 * that user mode runs on. Its user half is the space's own (the same
 * lower-level tables: the shadow root's user entries are copies of the
 * space root's, kept in sync whenever a user root entry is added or
 * removed); its kernel half maps only what entry and exit need (the
 * trampoline, the entry stacks, the IDT/GDT/TSS), never with US but on the
 * kernel's user pages (mmu_kernel_map_user, include/mmu64/pt.h).
 *
 * The kernel half of every shadow comes from one template, struct
 * mmu_kpti, built from an allow-list of kernel ranges: their leaves are
 * copied from the kernel tree at mmu_kpti_init (4K leaves, the same frames
 * and permissions, never G; U only on a page mmu_kernel_map_user mapped,
 * whose path then gets US in the template too). Those ranges must not change while the
 * template lives (entry code, stacks and descriptor tables are static).
 *
 * The kernel switches CR3 on every entry from user mode (to
 * mmu_vm_kernel_cr3(sp)) and on every exit to it (to
 * mmu_vm_user_cr3(sp)); the space stays "loaded" (mmu_tree_load) on the
 * CPU in both, so shootdowns reach it. Without PCIDs each switch drops the
 * non-global TLB entries, so an invalidation done on one CR3 covers both.
 * With PCIDs (mmu_config.pcid) the shadow runs under the space's PCID |
 * MMU_PCID_USER and the library keeps that PCID current: INVPCID where
 * the CPU has it, else a flush owed to the next exit (mmu_vm_user_cr3
 * then returns a CR3 without the no-flush bit). */
#ifndef MMU64_KPTI_H
#define MMU64_KPTI_H

#include "mmu.h"
#include "dump.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MMU_KPTI_MAX_RANGES 8

struct mmu_kpti_range {
	mmu_vaddr_t va;
	uint64_t len;
};

struct mmu_kpti {
	struct mmu_tree kernel; /* the template: its root's kernel-half entries */
	unsigned nranges;
	struct mmu_kpti_range range[MMU_KPTI_MAX_RANGES];
};

/* Build the template from RANGES (N of them; 0 gives an empty kernel half,
 * for a machine whose entry path is not code in memory, like the software
 * machine). INVALID: N above MMU_KPTI_MAX_RANGES, a range is empty, wraps
 * or is not in the kernel
 * half; UNALIGNED: not 4K-aligned; NOTEXIST: a page of a range is not
 * mapped in the kernel tree; NOMEM. Nothing allocated on error. */
mmu_err_t mmu_kpti_init(struct mmu *mmu, struct mmu_kpti *k, const struct mmu_kpti_range *ranges, unsigned n);

/* Dump [START, END) of the template (its kernel half) as mmu_dump does. */
void mmu_kpti_dump(struct mmu_kpti *k, mmu_vaddr_t start, mmu_vaddr_t end, mmu_line_fn out, void *ctx);

/* Free the template; every space using it must have exited. */
void mmu_kpti_fini(struct mmu_kpti *k);

#ifdef __cplusplus
}
#endif

#endif
