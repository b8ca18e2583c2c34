/* SPDX-License-Identifier: MIT */
/* Helpers for library tests on the software machine (only the public API of
 * sim/sim.h): machines, CPU switching, an independent permission oracle, a
 * raw snapshot of a tree's user half read straight from physical memory,
 * and table counts derived from a list of leaves. */
#ifndef MMU64_TEST_SIMTEST_H
#define MMU64_TEST_SIMTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "sim/sim.h"

/* A machine or exit(1). */
struct sim *st_machine(const struct sim_config *cfg);
/* The TLB sanitizer of SIM reported nothing (the last report printed if
 * it did). */
void st_check_sanitizer(struct sim *sim);

/* sim_config_default with LEVELS and NCPUS. */
struct sim *st_default(unsigned levels, unsigned ncpus);
/* sim_config_default with NCPUS, one thread each (sim_run_cpus), MEM bytes
 * of data frames. */
struct sim *st_threaded(unsigned ncpus, uint64_t mem);

/* Load TREE on CPU (the library call runs as CPU), then act again as the
 * CPU that was current before. */
void st_load(struct sim *sim, unsigned cpu, struct mmu_tree *tree);
/* A machine of CFG with a new user tree TREE, loaded on CPU 1 when LOADED
 * (a CPU runs it: its changes owe the TLBs), or exit(1). */
struct sim *st_machine_tree(const struct sim_config *cfg, struct mmu_tree *tree, bool loaded);

/* Outcome of an access as one number, so CHECK_EQ prints all three: OK, GP
 * or the #PF error code. */
#define ST_OK 0x1000u
#define ST_GP 0x2000u
uint32_t st_result(struct sim_access a);

/* #PF error-code bits (SDM 4.7), written here, not taken from sim/. */
#define ST_PF_P 0x1u
#define ST_PF_W 0x2u
#define ST_PF_U 0x4u
#define ST_PF_RSVD 0x8u
#define ST_PF_ID 0x10u

/* What the SDM says an access does to a page with effective permissions
 * PROT (MMU_PROT_* letters; PRESENT false for no translation), on a CPU with
 * the given control bits. Rules 7-10 and 12 of docs/PAGING.md. */
struct st_cpu_mode {
	bool nx, smep, smap, wp;
};
struct st_cpu_mode st_mode_of(const struct sim_config *cfg);
uint32_t st_expect(struct st_cpu_mode m, bool present, unsigned prot, enum sim_access_kind kind, bool user, bool ac);

/* Every non-zero entry of TREE's user half (kernel tree: upper half), in
 * walk order, read from physical memory with a walker written here. Two
 * snapshots are equal iff the trees hold exactly the same tables and
 * entries (addresses, flags, A/D included). */
struct st_snapshot {
	uint64_t *v; /* triples: level, VA the entry starts at, entry value */
	size_t n, cap;
};
void st_snapshot_take(struct sim *sim, struct mmu_tree *tree, struct st_snapshot *s);
bool st_snapshot_equal(const struct st_snapshot *a, const struct st_snapshot *b);
void st_snapshot_free(struct st_snapshot *s);
/* Table pages reached from TREE's root in its own half, root included. */
uint64_t st_count_tables(struct sim *sim, struct mmu_tree *tree);

/* The output of mmu_dump as one string (malloc'd). */
char *st_dump(struct mmu_tree *tree);

/* Tables a user tree needs for leaves at VAs [i] of sizes [i]: the root and
 * every distinct table on the way down, computed from addresses alone. */
uint64_t st_tables_for_leaves(unsigned levels, const uint64_t *va, const enum mmu_size *size, size_t n);

/* A small PRNG (xorshift64*), seeded explicitly. */
struct st_rng {
	uint64_t s;
};
void st_rng_seed(struct st_rng *r, uint64_t seed);
uint64_t st_rng_next(struct st_rng *r);
/* Uniform in [0, n). */
uint64_t st_rng_below(struct st_rng *r, uint64_t n);

#endif
