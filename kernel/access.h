/* SPDX-License-Identifier: MIT */
/* CPU accesses for the vectors' read/write/exec (access.c). */
#ifndef KERNEL_ACCESS_H
#define KERNEL_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "tools/vec/exec.h"

struct access_req {
	enum vec_access_kind kind;
	uint64_t va;
	bool user;
	uint8_t byte;
	struct vec_access result;
};

/* Perform R on the calling CPU (run_on_cpu's function). */
void access_on_this_cpu(void *arg);

/* A supervisor store of BYTE to VA with EFLAGS.AC=1 on the calling CPU,
 * the #PF caught (the store of copy-to-user). */
struct vec_access access_user_copy_write(uint64_t va, uint8_t byte);
/* A supervisor load of the byte at VA with EFLAGS.AC=1 on the calling CPU,
 * the #PF caught (the load of copy-from-user). */
struct vec_access access_user_copy_read(uint64_t va);

#endif
