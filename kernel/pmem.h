/* SPDX-License-Identifier: MIT */
/* Physical memory of the test kernel.
 *
 *   [0, 1 GiB)  the kernel: image, then a bump area for page-table pages,
 *               frame metadata and kernel buffers (never handed to vectors)
 *   1 GiB chunks above that, naturally aligned: the data pool of `mem`
 *               bytes for `frame` and process pages, a binary buddy with
 *               the software machine's policy (sim/buddy.c), so NOMEM and
 *               1G availability come out the same.
 *
 * The chunk holding the top of low memory is never used for data: SeaBIOS,
 * ACPI tables and the initrd live there, and the pool relies on untouched
 * RAM reading as zero (a frame is only zeroed where it was handed out
 * before). */
#ifndef KERNEL_PMEM_H
#define KERNEL_PMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu64/mmu64.h"

void pmem_init(void);
/* Zeroed 4K-multiple kernel memory from the bump area (never freed). */
uint64_t pmem_boot_alloc(uint64_t bytes);

/* Page-table pages (4K, zeroed). */
mmu_err_t pmem_table_alloc(mmu_pa_t *out);
void pmem_table_free(mmu_pa_t pa);
/* The port's table_free_zeroed: PA is checked to be all zero (a panic
 * if not) and handed out again without clearing. */
void pmem_table_free_zeroed(mmu_pa_t pa);

/* The data pool: false when RAM has no room for MEM bytes. */
bool pmem_data_init(uint64_t mem);
mmu_err_t pmem_data_alloc(enum mmu_size size, mmu_pa_t *out);
void pmem_data_free(enum mmu_size size, mmu_pa_t pa);
uint64_t pmem_data_in_use(void);
uint64_t pmem_data_pool_frames(void); /* 4K frames of the pool */

struct mmu_frame_meta *pmem_meta(mmu_pa_t pa);

/* 1 GiB chunks of RAM above the kernel's gigabyte that the pool could use. */
unsigned pmem_data_chunks_available(void);

#endif
