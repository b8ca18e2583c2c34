/* SPDX-License-Identifier: MIT */
/* The software machine (sim/) as an executor of vectors. Hosted. */
#ifndef MMU64_EXEC_SIM_H
#define MMU64_EXEC_SIM_H

#include "sim/sim.h"
#include "tools/vec/exec.h"

struct exec_sim {
	struct sim *sim;
	uint64_t user_cr3[MMU_MAX_CPUS]; /* kpti=1: CR3 of user accesses, 0: the current one */
};

extern const struct vec_exec_ops exec_sim_ops;

#endif
