/* SPDX-License-Identifier: MIT */
/* What the process-space workloads (W5 fork-cow, W7 demand-zero, W8
 * fork-exit) share: a machine, user writes through the fault handler,
 * frames backed before any timing, the clock and the report line. */
#ifndef MMU64_BENCH_VMBENCH_H
#define MMU64_BENCH_VMBENCH_H

#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"
#include "sim/sim.h"

/* Where the workloads put their anon region. */
#define BENCH_VM_VA 0x0000100000000000ull

/* The pages of a workload's MIB MiB region (1 MiB with --small). */
uint64_t bench_vm_pages(const struct bench_opts *o, uint64_t mib);
/* A one-CPU machine acting as CPU 0, or exit(1), with FRAMES data frames
 * backed before any timing, as the harness (docs/BENCH.md) does for the
 * table pool: otherwise every fault would pay the host's first-touch
 * fault, which no kernel pays. WORK names the workload in error messages,
 * as in every helper below. */
struct sim *bench_vm_machine(const char *work, uint64_t frames);
/* LEN bytes of host memory, every page of it written before any timing,
 * or exit(1). (A malloc followed by a memset to 0 would not do: the
 * compiler turns the pair into calloc, whose fresh pages the host backs
 * only at their first write, inside a timed phase.) */
void *bench_vm_backed(const char *work, size_t len);
/* exit(1) with a message unless ERR is MMU_OK. */
void bench_vm_must(const char *work, mmu_err_t err, const char *what);
double bench_vm_now_ns(void);
/* A user write by CPU 0 with the fault handler behind it; the outcome of
 * the fault it took (or -1 for none). exit(1) when refused or looping. */
int bench_vm_write(const char *work, struct sim *sim, struct mmu_vm_space *sp, mmu_vaddr_t va, uint8_t byte);
/* Sort V[0..N) (N > 0) and return its median. */
double bench_vm_median(double *v, unsigned n);
/* Sort V[0..N) and print `WORK PHASE UNIT=MEDIAN min=MIN max=MAX EXTRA`
 * (or the CSV line `WORK,PHASE,MEDIAN,MIN,MAX,EXTRA`). */
void bench_vm_report(const struct bench_opts *o, const char *work, const char *phase, const char *unit, double *v,
		     unsigned n, const char *extra);
/* The repetitions a workload runs: --reps, at most 1024. */
unsigned bench_vm_reps(const struct bench_opts *o);
/* exit(1) if SIM's TLB sanitizer reported anything. */
void bench_vm_check_sanitizer(const char *work, struct sim *sim);

#endif
