/* SPDX-License-Identifier: MIT */
/* The software machine: a second implementation of the mmu64 port.
 *
 * Physical memory is one lazily reserved arena; CPUs carry CR0.WP, CR3,
 * CR4 (SMEP SMAP PKE PGE LA57 PCIDE), EFER.NXE and PKRU; a walker follows
 * the Intel SDM bit for bit (docs/PAGING.md); each CPU has an
 * unbounded TLB tagged by PCID that keeps every successful translation until
 * it is invalidated; and a TLB sanitizer reports every use of a translation
 * the tables no longer allow and every frame freed while a TLB still holds
 * it.
 *
 * Hosted code (it uses libc and pthreads); never linked into a kernel. */
#ifndef MMU64_SIM_H
#define MMU64_SIM_H

/* This header is the machine's public API: `make install` puts it in
 * <mmu64/sim.h> beside libmmu64-sim.a (pkg-config mmu64-sim), for testing
 * a kernel's memory code on the host under the TLB sanitizer.
 * sim/internal.h is the machine's insides and is not installed.
 *
 * A test creates a machine (sim_create), runs its code against the mmu
 * instance the machine made (sim_mmu) with data frames from
 * sim_frame_alloc, acts as one CPU or another (sim_set_cpu, or
 * sim_run_cpus for real threads), touches memory as that CPU would
 * (sim_access), and asserts sim_tlbsan_reports() == 0 at the end;
 * sim_fail_alloc_after reaches the out-of-memory paths.
 * examples/hello/hello.c is a complete one. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu64/mmu64.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sim;

struct sim_config {
	unsigned levels;        /* 4 or 5 (CR4.LA57) */
	unsigned ncpus;         /* 1 .. MMU_MAX_CPUS */
	uint64_t mem;           /* bytes of data frames (frame commands, processes) */
	bool nx, smep, smap, wp, pke, pge, pcide;
	unsigned maxphyaddr;    /* physical address bits, default 46 */
	unsigned flush_ceiling; /* passed to mmu_init; 0 = library default */
	bool threaded;          /* one thread per CPU (sim_run_cpus); IPIs queued */
	bool no_invpcid;        /* with pcide: the CPU lacks INVPCID (the library's fallback runs) */
	/* A table page the library gives back as all zero (the port's
	 * table_free_zeroed) is handed out again without clearing it. The
	 * machine reads it first and dies if a byte is not zero, unless this
	 * is set: the benchmark's setting, as a kernel built without its
	 * invariant checks. */
	bool skip_zero_check;
	/* Clear every table page handed out, those given back as zero too:
	 * the machine as a port without table_free_zeroed. */
	bool clear_every_table;
};

/* levels=4 cpus=2 mem=2G nx smep smap wp pge, no pke/pcide, maxphyaddr 46. */
void sim_config_default(struct sim_config *cfg);

/* A machine with its mmu64 instance initialised and the kernel tree loaded
 * on every CPU. NULL when the arena cannot be reserved. */
struct sim *sim_create(const struct sim_config *cfg);
/* Destroys the mmu (mmu_fini) and releases the arena. */
void sim_destroy(struct sim *sim);

struct mmu *sim_mmu(struct sim *sim);
const struct sim_config *sim_config(const struct sim *sim);

/* The CPU the calling thread acts as (what the port's cpu_id answers).
 * Single-threaded code switches CPUs with this; sim_run_cpus sets it for
 * each of its threads. */
void sim_set_cpu(struct sim *sim, unsigned cpu);
unsigned sim_cpu(const struct sim *sim);

/* Data frames, taken from the `mem` pool, zeroed, naturally aligned. */
mmu_err_t sim_frame_alloc(struct sim *sim, enum mmu_size size, mmu_pa_t *out);
void sim_frame_free(struct sim *sim, enum mmu_size size, mmu_pa_t pa);
uint64_t sim_frames_in_use(const struct sim *sim);  /* data frames, any size */
uint64_t sim_tables_in_use(const struct sim *sim);  /* table pages, kernel half included */
struct mmu_frame_meta *sim_frame_meta(struct sim *sim, mmu_pa_t pa);

/* Raw physical memory, no MMU. NULL when PA is outside the arena. */
uint8_t *sim_phys(struct sim *sim, mmu_pa_t pa);

/* CPU accesses through the MMU. */
enum sim_access_kind { SIM_READ, SIM_WRITE, SIM_EXEC };
enum sim_outcome { SIM_OK, SIM_PF, SIM_GP };
struct sim_access {
	enum sim_outcome outcome;
	uint8_t byte;        /* SIM_READ: the byte read */
	uint32_t error_code; /* SIM_PF: the #PF error code */
	uint64_t cr2;        /* SIM_PF: the faulting address */
};
/* USER: a CPL 3 access. AC: EFLAGS.AC for a supervisor access (SMAP). */
struct sim_access sim_access(struct sim *sim, unsigned cpu, enum sim_access_kind kind, mmu_vaddr_t va,
			     bool user, bool ac, uint8_t byte);

/* Registers and TLB instructions, as a kernel would use them. */
struct sim_cpu_regs {
	uint64_t cr0, cr3, cr4, efer;
	uint32_t pkru;
};
struct sim_cpu_regs sim_cpu_regs(const struct sim *sim, unsigned cpu);
void sim_set_pkru(struct sim *sim, unsigned cpu, uint32_t pkru);
void sim_write_cr3(struct sim *sim, unsigned cpu, uint64_t cr3);
void sim_write_cr4(struct sim *sim, unsigned cpu, uint64_t cr4); /* PGE toggle flushes all */
void sim_invlpg(struct sim *sim, unsigned cpu, mmu_vaddr_t va);
void sim_invpcid(struct sim *sim, unsigned cpu, unsigned type, unsigned pcid, mmu_vaddr_t va);
size_t sim_tlb_size(const struct sim *sim, unsigned cpu); /* cached translations */

/* What a CPU's TLB did, counted where it happens, cumulative since the
 * machine was created (callers take differences). A hit is an access the
 * TLB answered; a miss is a hardware walk (faulting ones too, and the walk a
 * write through a clean cached entry makes to set D); walk_reads are the
 * paging-structure entries those walks read (the machine has no
 * paging-structure caches: every walk starts at the root). invlpgs counts
 * one-page invalidations (INVLPG, INVPCID type 0); flushes every
 * invalidation of more than one page (a flushing CR3 write, INVPCID types
 * 1-3, a CR4 write that flushes). The sanitizer's own walks are not
 * counted. */
struct sim_events {
	uint64_t tlb_hits, tlb_misses, walk_reads, invlpgs, flushes;
};
struct sim_events sim_cpu_events(struct sim *sim, unsigned cpu);

/* Cycles per event (cost.c): the machine counts, the weights price. */
struct sim_cost_model {
	double hit, walk_read, invlpg, flush;
};
/* Round figures assumed for a current x86 core, not measurements. */
struct sim_cost_model sim_cost_model_default(void);
/* The weighted sum of DELTA (misses cost what their walk_reads cost). */
double sim_cost_cycles(const struct sim_cost_model *m, const struct sim_events *delta);

/* Allocation-failure injection: the next AFTER allocations of USE succeed,
 * every later one fails with NOMEM. AFTER < 0 switches injection off. */
void sim_fail_alloc_after(struct sim *sim, enum mmu_frame_use use, long after);
/* Allocations made of USE so far (to find every allocation point). */
uint64_t sim_alloc_count(const struct sim *sim, enum mmu_frame_use use);

/* The TLB sanitizer. Always on. Each report is printed to stderr as
 * "tlbsan: ..." and counted; tests assert the count stays 0. */
unsigned sim_tlbsan_reports(const struct sim *sim);
const char *sim_tlbsan_last(const struct sim *sim); /* "" when none */
/* Check every CPU's cached translations (those of its current PCID and the
 * global ones) against the current tables now, reporting the stale ones as
 * above; returns how many it reported. sim_run_cpus runs it when its
 * threads are done. */
unsigned sim_tlbsan_audit(struct sim *sim);

/* Run FN on every CPU, one thread each (cfg.threaded must be set); returns
 * when every thread returned. IPIs are queued and taken in sim_poll() and in
 * the port's cpu_relax. */
typedef void (*sim_cpu_fn)(struct sim *sim, unsigned cpu, void *arg);
void sim_run_cpus(struct sim *sim, sim_cpu_fn fn, void *arg);
/* Take the IPIs waiting for the calling CPU. */
void sim_poll(struct sim *sim);

#ifdef __cplusplus
}
#endif

#endif
