/* SPDX-License-Identifier: MIT */
/* The built-in user-mode test (usertest.c). */
#ifndef KERNEL_USERTEST_H
#define KERNEL_USERTEST_H

_Noreturn void usertest_run(void);

#endif
