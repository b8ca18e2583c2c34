/* SPDX-License-Identifier: MIT */
/* The memory objects the test kernel's processes map (include/mmu64/vm.h,
 * "memory objects"): anonymous shared memory from a static pool, and one
 * read-only file whose pages live in kernel-owned frames and reach the
 * library through the pager hook. */
#ifndef KERNEL_MEMOBJ_H
#define KERNEL_MEMOBJ_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu64/mmu64.h"

/* Make the file (UFILE_PAGES frames of the data pool, filled with
 * ufile_word, held by the kernel for good) and its pager-backed object;
 * before the first process, so its frames are in every figure. */
void memobj_init(struct mmu *mmu);

/* A new anonymous object of LEN bytes mapped shared at [VA, VA+LEN) in
 * SP: MMU_OK, or the error with nothing made (NOSPACE: the pool is full). */
mmu_err_t memobj_map_shared(struct mmu_vm_space *sp, uint64_t va, uint64_t len, unsigned prot);

/* The file mapped private from its first page at [VA, VA+LEN): a write
 * copies the page, the file's frames are never written. (No shared view:
 * protect could later give it W; Linux's VM_MAYWRITE has no counterpart
 * here.) */
mmu_err_t memobj_map_file(struct mmu_vm_space *sp, uint64_t va, uint64_t len, unsigned prot);

/* Page PAGE of the file out of every process that maps it
 * (mmu_vm_object_page_out): *DIRTY when a leaf had D. The file keeps its
 * frame; the next touch maps it again through the pager. */
mmu_err_t memobj_file_page_out(uint64_t page, bool *dirty);

/* The page of the memory object SP maps at VA (the file, or a shared
 * object, whose pages go to the swap pool) out of every process:
 * INVALID when no object is mapped there. */
mmu_err_t memobj_page_out_at(struct mmu_vm_space *sp, uint64_t va, bool *dirty);

/* Release every pool object that no region maps any more (after an
 * unmap or a space's exit: nothing can map such an object again). */
void memobj_sweep(void);

#endif
