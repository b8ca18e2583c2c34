/* SPDX-License-Identifier: MIT */
/* Bringing up the machine a vector's `machine` line asks for. */
#ifndef KERNEL_MACHINE_H
#define KERNEL_MACHINE_H

#include <stdbool.h>

#include "mmu64/mmu64.h"
#include "tools/vec/exec.h"

struct cpu_features {
	bool nx, smep, smap, pke, la57, pages_1g, pge;
};
struct cpu_features cpu_features(void);

/* NULL when done (*MMU is the instance, its kernel tree loaded on CPUs
 * 0 .. m->cpus-1), else why M cannot be provided. */
const char *machine_setup(const struct vec_machine *m, struct mmu **mmu);

/* Map the image and the direct map global (the default). The usertest
 * boot with KPTI clears it first, as Linux clears _PAGE_GLOBAL under PTI:
 * a global kernel entry would stay in the TLB across the switch to the
 * shadow tree. */
extern bool machine_kernel_global;

/* The ring-3 stub and the top of CPU's user stack (mapped by setup). */
uint64_t machine_user_entry(void);
uint64_t machine_user_stack(unsigned cpu);

/* kpti=1: the ranges of the shadows' kernel half (the ring-3 stub's
 * pages among them keep their US: mmu_kernel_map_user). */
const struct mmu_kpti_range *machine_kpti_ranges(unsigned *n);

#endif
