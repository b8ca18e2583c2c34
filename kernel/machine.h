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

/* The ring-3 stub and the top of CPU's user stack (mapped by setup). */
uint64_t machine_user_entry(void);
uint64_t machine_user_stack(unsigned cpu);

#endif
