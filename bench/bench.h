/* SPDX-License-Identifier: MIT */
/* Shared by the benchmark's workloads. */
#ifndef MMU64_BENCH_H
#define MMU64_BENCH_H

#include <stdbool.h>
#include <stdint.h>

struct bench_opts {
	unsigned reps;
	bool csv;
	bool small; /* tiny sizes: checks the benchmark runs, figures mean nothing */
	bool clear_tables; /* W1-W4: every table page cleared when handed out */
};

struct sim_config;
/* The software machine's defaults as every workload times it: those of
 * sim_config_default, with the check of the tables the library gives
 * back zeroed off (skip_zero_check), as a kernel built without its
 * invariant checks would run (bench.c). */
void bench_sim_config(struct sim_config *cfg);
/* W2's N distinct VAs in draw order and the shuffled order its walk
 * follows (docs/BENCH.md; the check values on standard error when N is
 * 65,536). */
void bench_w2_addresses(uint64_t n, uint64_t *va, uint32_t *order);
struct sim;
struct mmu_tree;
/* The machine W1-W4 and C2 run on (4 levels, the defaults of
 * bench_sim_config), with CPUS CPUs (THREADED: as threads), or exit(1).
 * PRETOUCH: the table pool written once before any timing (docs/BENCH.md);
 * CLEAR_TABLES: every table page cleared when handed out, as a port
 * without table_free_zeroed (a peer's harness that clears each table it
 * creates is compared with this). */
struct sim *bench_machine(unsigned cpus, bool threaded, bool pretouch, bool clear_tables);
/* What memory alone costs W2's walk on this machine (its `walk-raw`): the
 * same four dependent loads per page, in ORDER, with no library code;
 * returns a checksum so that the loads are not optimized away. Never
 * inlined, so that every caller times the same code. */
uint64_t bench_w2_raw_walk(struct sim *sim, const struct mmu_tree *t, const uint64_t *va, const uint32_t *order,
			   uint64_t n);

void bench_w5(const struct bench_opts *o);
void bench_w6(const struct bench_opts *o);
/* W7 demand-zero and W8 fork-exit (w7.c). */
void bench_w7(const struct bench_opts *o);
void bench_w8(const struct bench_opts *o);
/* W9 swap: page-out and page-in (w9.c). */
void bench_w9(const struct bench_opts *o);
/* C1: the TLB flush ceiling on the machine's cost model (ceiling.c). */
void bench_c1(const struct bench_opts *o);
/* C2: W2's walk from the bare loads to the library, step by step
 * (walkfloor.c). */
void bench_c2(const struct bench_opts *o);

#endif
