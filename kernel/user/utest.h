/* SPDX-License-Identifier: MIT */
/* The test program's harness (usertest.c, memtest.c): CHECK, which
 * reports a failed condition and makes the test return false, and the
 * small helpers every test uses. */
#ifndef KERNEL_USER_UTEST_H
#define KERNEL_USER_UTEST_H

#include <stdbool.h>

#include "kernel/user/ulib.h"

#define PAGE 4096ul
#define MIB (1ul << 20)

#define CHECK(cond, ...)                                       \
	do {                                                   \
		if (!(cond)) {                                 \
			printf("  FAIL %s:%d: ", __func__, __LINE__); \
			printf(__VA_ARGS__);                   \
			printf("\n");                          \
			return false;                          \
		}                                              \
	} while (0)

/* Bytes of the data pool not in use now. */
uint64_t free_bytes(void);
/* Allocations of the data pool in use now (a 2M frame counts once). */
uint64_t frames_used(void);
/* The walk debug call's answer for VA. */
struct uwalk walk_of(const volatile void *va);
/* Wait for one child; its status, or -1000 when there was none. */
int64_t wait_status(struct uwait *out);
/* A child that writes A or calls it as code: its status and fault. */
int64_t child_touch(volatile uint8_t *a, bool call, struct uwait *w);

struct utest {
	const char *name;
	bool (*fn)(void);
};

/* The process-space tests (memtest.c), run after usertest.c's own. */
extern const struct utest memtests[];
extern const unsigned memtests_count;

#endif
