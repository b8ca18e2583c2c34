/* SPDX-License-Identifier: MIT */
/* The executor interface of the vector interpreter.
 *
 * A vector runs the same on every executor: the interpreter (tools/vec/)
 * does the parsing, the bookkeeping of names and the printing, and calls the
 * mmu64 library directly for page-table commands; everything that needs the
 * machine itself (a CPU, physical memory, the TLB sanitizer) goes through
 * the ops below. The software machine implements them in tools/exec_sim.c;
 * the test kernel implements them on real (emulated) hardware.
 *
 * The interpreter runs on CPU 0 and expects to be back on CPU 0 after every
 * call. */
#ifndef MMU64_VEC_EXEC_H
#define MMU64_VEC_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu64/mmu64.h"

/* The `machine` line (docs/VECTORS.md), defaults filled in. */
struct vec_machine {
	unsigned levels;   /* 4 or 5 */
	unsigned cpus;     /* 1 .. MMU_MAX_CPUS */
	uint64_t mem;      /* bytes for `frame` (and process spaces) */
	bool nx, smep, smap, wp, pke, kpti;
	bool pcid, invpcid; /* extension (docs/VECTORS.md): CR4.PCIDE, INVPCID */
	bool needs_1g;     /* the file asks for a 1G frame or a 1G leaf */
	bool needs_tlb_list, needs_sanitizer; /* `tlb`, `tlbsan` (docs/VECTORS-INSPECT.md) */
};

enum vec_access_kind { VEC_READ, VEC_WRITE, VEC_EXEC };
enum vec_outcome { VEC_ACCESS_OK, VEC_ACCESS_PF, VEC_ACCESS_GP };

struct vec_access {
	enum vec_outcome outcome;
	uint8_t byte;        /* VEC_READ that succeeded: the byte read */
	uint32_t error_code; /* VEC_ACCESS_PF: the #PF error code */
};

typedef void (*vec_cpu_fn)(void *arg);

/* One cached translation of a CPU's TLB (the `tlb` command). */
struct vec_tlb_entry {
	mmu_vaddr_t va;
	mmu_pa_t pa;
	enum mmu_size size;
	unsigned pcid, pkey;
	bool w, u, xd, global, dirty;
};
typedef void (*vec_tlb_fn)(void *arg, const struct vec_tlb_entry *e);

struct vec_exec_ops {
	/* Bring up a machine as M says, with the kernel tree loaded on every
	 * CPU, and give its mmu instance in *MMU. Returns NULL when done, or
	 * the reason the executor cannot provide M (printed as `skip REASON`;
	 * teardown is not called then). */
	const char *(*setup)(void *ctx, const struct vec_machine *m, struct mmu **mmu);
	/* A zeroed, naturally aligned data frame of SIZE; NOMEM when `mem`
	 * has no room. */
	mmu_err_t (*frame_alloc)(void *ctx, enum mmu_size size, mmu_pa_t *out);
	void (*frame_free)(void *ctx, enum mmu_size size, mmu_pa_t pa);
	/* Data frames in use, whatever their size (the `stats` figure). */
	uint64_t (*frames_in_use)(void *ctx);
	/* Physical memory, no MMU. PA always lies in a frame from frame_alloc. */
	uint8_t (*peek)(void *ctx, mmu_pa_t pa);
	void (*poke)(void *ctx, mmu_pa_t pa, uint8_t byte);
	/* An access by CPU through its active tree: CPL 3 when USER, else a
	 * supervisor access with EFLAGS.AC clear. For VEC_EXEC on hardware the
	 * byte at VA is executed (vectors put 0xc3, ret, there). */
	struct vec_access (*access)(void *ctx, unsigned cpu, enum vec_access_kind kind, mmu_vaddr_t va,
				    bool user, uint8_t byte);
	/* A supervisor write of BYTE to VA by CPU with EFLAGS.AC=1 (the store
	 * of copy-to-user: stac; mov; clac, the #PF caught). Called on CPU
	 * (inside run_on_cpu). NULL op: the executor cannot (`kwrite` is then
	 * `error INVALID`). */
	struct vec_access (*user_copy_write)(void *ctx, unsigned cpu, mmu_vaddr_t va, uint8_t byte);
	/* A supervisor read of the byte at VA by CPU with EFLAGS.AC=1 (the
	 * load of copy-from-user, the #PF caught), on CPU as above. NULL op:
	 * `kread` and `kreadstr` are `error INVALID`. */
	struct vec_access (*user_copy_read)(void *ctx, unsigned cpu, mmu_vaddr_t va);
	/* KPTI (`machine kpti=1`; neither is called otherwise). The kernel
	 * ranges every shadow's kernel half maps (entry trampoline, stacks,
	 * IDT/GDT/TSS): *N of them, 0 for none. Then the CR3 that CPU's
	 * user accesses run with: 0 (the active tree's own) at every `load`,
	 * and before each user access of a process its shadow's, as
	 * mmu_vm_user_cr3 gives it on that CPU for that exit to user mode. NULL ops: the executor skips kpti=1 in setup. */
	const struct mmu_kpti_range *(*kpti_ranges)(void *ctx, unsigned *n);
	void (*set_user_cr3)(void *ctx, unsigned cpu, uint64_t cr3);
	/* Run FN(ARG) on CPU (mmu64 calls inside act on that CPU), then come
	 * back to CPU 0. */
	void (*run_on_cpu)(void *ctx, unsigned cpu, vec_cpu_fn fn, void *arg);
	/* Write PKRU on CPU (only called when the machine has pke=1). */
	void (*set_pkru)(void *ctx, unsigned cpu, uint32_t pkru);
	/* TLB sanitizer reports since setup, and the last one's text (never
	 * NULL). NULL op: the executor has no sanitizer. */
	unsigned (*sanitizer_reports)(void *ctx, const char **last);
	/* Every translation CPU's TLB holds, in any order. NULL op: the
	 * executor cannot list them (real TLBs); files using `tlb` skip. */
	void (*tlb_entries)(void *ctx, unsigned cpu, vec_tlb_fn fn, void *arg);
	/* Release the machine. Every tree the interpreter made is destroyed
	 * and every frame freed before this is called. */
	void (*teardown)(void *ctx);
};

#endif
