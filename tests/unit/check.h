/* SPDX-License-Identifier: MIT */
/* A small assertion kit for the unit tests: every failure prints the file,
 * the line, the expression and the values, and the test exits non-zero. */
#ifndef MMU64_TEST_CHECK_H
#define MMU64_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <stdatomic.h>

extern int check_failures;
/* Failures seen by CPU threads (TCHECK_EQ); main adds them. */
extern atomic_int check_thread_failures;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                                \
		}                                                                        \
	} while (0)

#define CHECK_EQ(a, b)                                                                   \
	do {                                                                             \
		uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);             \
		if (check_a_ != check_b_) {                                              \
			fprintf(stderr, "%s:%d: %s == %s failed: 0x%" PRIx64 " != 0x%" PRIx64 "\n", \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_);         \
			check_failures++;                                                \
		}                                                                        \
	} while (0)

#define CHECK_ERR(call, err)                                                             \
	do {                                                                             \
		mmu_err_t check_e_ = (call);                                             \
		if (check_e_ != (err)) {                                                 \
			fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, \
				#call, mmu_err_name(check_e_), mmu_err_name(err));       \
			check_failures++;                                                \
		}                                                                        \
	} while (0)

#define CHECK_OK(call) CHECK_ERR(call, MMU_OK)

/* CHECK and CHECK_EQ for code running on a CPU thread: names the CPU (a variable
 * `cpu` in scope) and counts atomically. */
#define TCHECK(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: cpu %u: CHECK(%s) failed\n", __FILE__, __LINE__, cpu, #cond); \
			atomic_fetch_add(&check_thread_failures, 1);                               \
		}                                                                                  \
	} while (0)

#define TCHECK_EQ(a, b)                                                                            \
	do {                                                                                       \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                   \
		if (a_ != b_) {                                                                    \
			fprintf(stderr, "%s:%d: cpu %u: %s == %s failed: 0x%" PRIx64 " != 0x%" PRIx64 "\n", \
				__FILE__, __LINE__, cpu, #a, #b, a_, b_);                          \
			atomic_fetch_add(&check_thread_failures, 1);                               \
		}                                                                                  \
	} while (0)

/* Stop the test at the first failure inside loops that would repeat it. */
#define CHECK_STOP_ON_FAILURE()                                                          \
	do {                                                                             \
		if (check_failures) {                                                    \
			fprintf(stderr, "stopping after %d failure(s)\n", check_failures); \
			exit(1);                                                         \
		}                                                                        \
	} while (0)

/* Whether FN(ARG) ends in abort() (a panic, a machine's sim_die), run in
 * a child process with its standard error closed: the expected message
 * is not a failure. A child that returns exits 0: not aborted. */
#include <stdbool.h>
bool check_aborts(void (*fn)(void *), void *arg);

/* Each test file defines test_main(); check.c's main runs it and reports. */
int test_main(int argc, char **argv);

#endif
