/* SPDX-License-Identifier: MIT */
/* The kernel's vector executor (exec_kernel.c). */
#ifndef KERNEL_EXEC_KERNEL_H
#define KERNEL_EXEC_KERNEL_H

#include "tools/vec/exec.h"

extern const struct vec_exec_ops exec_kernel_ops;

#endif
