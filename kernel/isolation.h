/* SPDX-License-Identifier: MIT */
/* KPTI for the test kernel's processes (isolation.c). */
#ifndef KERNEL_ISOLATION_H
#define KERNEL_ISOLATION_H

#include "mmu64/mmu64.h"

/* Build the shadow template from the entry sections; print its dump. */
struct mmu_kpti *isolation_init(struct mmu *mmu);
/* Audit SP's shadow against the allow-list; violations printed, counted. */
size_t isolation_audit(struct mmu_vm_space *sp);

#endif
