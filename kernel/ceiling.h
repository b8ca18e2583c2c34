/* SPDX-License-Identifier: MIT */
/* The flush-ceiling measurement (boot argument `ceiling`). */
#ifndef MMU64_KERNEL_CEILING_H
#define MMU64_KERNEL_CEILING_H

_Noreturn void ceiling_run(void);

#endif
