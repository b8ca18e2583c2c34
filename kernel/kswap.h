/* SPDX-License-Identifier: MIT */
/* The test kernel's swap store (include/mmu64/vm.h, "swap"): a static
 * pool of KSWAP_SLOTS pages in the kernel image, shared by every process
 * that asks for it (SYS_SETSWAP), slots reference counted as the hooks
 * say. */
#ifndef KERNEL_KSWAP_H
#define KERNEL_KSWAP_H

#include <stdint.h>

#include "mmu64/mmu64.h"

#define KSWAP_SLOTS 64

/* The store for SP (ON) or none: mmu_vm_space_set_swap's answer. */
mmu_err_t kswap_set(struct mmu_vm_space *sp, bool on);
/* The store for the anonymous object OBJ (mmu_vm_object_set_swap). */
mmu_err_t kswap_set_object(struct mmu_vm_object *obj);
/* Slots in use now (a figure for SYS_MEMINFO and the accounting). */
uint64_t kswap_slots_used(void);

#endif
