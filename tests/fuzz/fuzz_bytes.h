/* SPDX-License-Identifier: MIT */
/* The fuzz input as a stream of choices (harness fuzz-ops): each decision
 * the harness makes takes the next bytes of the input, so libFuzzer's
 * mutations become changes of decisions. An exhausted input answers 0. */
#ifndef MMU64_FUZZ_BYTES_H
#define MMU64_FUZZ_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fuzz_bytes {
	const uint8_t *p;
	size_t n;
};

extern struct fuzz_bytes fuzz_in;

static inline bool fuzz_more(void) { return fuzz_in.n > 0; }

/* Uniform enough in [0, N): as many bytes as N needs, modulo N. */
static inline uint64_t fuzz_below(uint64_t n)
{
	uint64_t v = 0;
	if (n <= 1)
		return 0;
	for (uint64_t span = n - 1; span; span >>= 8) {
		if (fuzz_in.n) {
			v = v << 8 | *fuzz_in.p++;
			fuzz_in.n--;
		}
	}
	return v % n;
}

static inline bool fuzz_chance(unsigned percent) { return fuzz_below(100) < percent; }

/* The process-space half of fuzz-ops (fuzz_procs.c): one run over the
 * rest of the input; traps on a mismatch. */
void fuzz_procs_run(void);

/* A mismatch: print it and trap (libFuzzer saves the input). */
#define FUZZ_FAIL(...)                                                                                \
	do {                                                                                          \
		fprintf(stderr, "fuzz-ops: ");                                                        \
		fprintf(stderr, __VA_ARGS__);                                                         \
		fprintf(stderr, "\n");                                                                \
		__builtin_trap();                                                                     \
	} while (0)

#endif
