/* SPDX-License-Identifier: MIT */
/* The vector interpreter: runs one vector file (format v1,
 * docs/VECTORS.md) on an executor.
 *
 * Freestanding: no allocation, no stdio. The file is one buffer; results go
 * line by line (no newline) through a callback. The caller owns the session
 * storage (a kernel can keep it static; it is a few kilobytes). */
#ifndef MMU64_VEC_H
#define MMU64_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu64/mmu64.h"
#include "tools/vec/exec.h"
#include "tools/vec/parse.h"

#define VEC_MAX_FRAMES 64
#define VEC_MAX_SPACES 32
#define VEC_MAX_PROCS 16
#define VEC_PROC_SLOTS 128 /* region slots of a process's own array (`rstorage`) */
#define VEC_LINE_MAX 320 /* an output line, cut beyond */
#define VEC_MAX_OBJECTS 8   /* memory objects (`object`, docs/VECTORS-INSPECT.md) */
#define VEC_OBJECT_PAGES 16 /* pages of one object, at most */
#define VEC_OBJECT_MAPPERS 8 /* mapper records of one object (`omappers`), at most */
#define VEC_SWAP_SLOTS 16   /* pages of the in-memory swap pool (`swap`, docs/VECTORS-INSPECT.md) */
#define VEC_MAX_STORES 8    /* swap stores (`swap` commands) of a file */

/* Exit statuses of a file (docs/VECTORS.md, "Output and exit status"). */
enum vec_status {
	VEC_PASSED = 0,    /* every expectation held (or the file was skipped) */
	VEC_FAILED = 1,    /* an expectation failed, or the TLB sanitizer reported */
	VEC_MALFORMED = 2, /* nothing ran */
};

typedef void (*vec_out_fn)(void *ctx, const char *line);
struct vec_session;
struct vec_stmt;
/* Called after each command ran and reported (mmu64 view). */
typedef void (*vec_step_fn)(void *ctx, struct vec_session *s, const struct vec_stmt *st);

struct vec_io {
	const char *file; /* name used in diagnostics */
	const char *text;
	size_t len;
	vec_out_fn out;
	void *out_ctx;
	/* Optional (NULL/false in plain runs; docs/VECTORS-INSPECT.md). */
	bool raw;        /* `levels` adds each entry's raw value and address */
	vec_step_fn step;
	void *step_ctx;
};

struct vec_frame {
	bool used;
	char name[VEC_NAME_MAX + 1];
	mmu_pa_t pa;
	enum mmu_size size;
};

struct vec_space {
	bool used;
	char name[VEC_NAME_MAX + 1];
	struct mmu_tree tree;
};

struct vec_proc {
	bool used;
	char name[VEC_NAME_MAX + 1];
	struct mmu_vm_space sp;
	struct mmu_vm_region slots[VEC_PROC_SLOTS]; /* region storage `rstorage` gives it */
};

/* A memory object; a `store` one is pager-backed, the interpreter its
 * pager: page i is a frame it allocates on the first ask, every byte 0xa0
 * + i (tools/vec/cmd_object.c). */
struct vec_object {
	bool used, store;
	char name[VEC_NAME_MAX + 1];
	struct mmu_vm_object obj;
	mmu_pa_t slots[VEC_OBJECT_PAGES];
	mmu_pa_t page[VEC_OBJECT_PAGES]; /* store: the pager's frames (0: not made yet) */
	struct mmu_vm_object_mapper mapper[VEC_OBJECT_MAPPERS];
	struct vec_session *s;
};

/* A swap store (`swap P SLOTS`, tools/vec/cmd_swap.c): at most LIMIT
 * slots of the session's pool; a forked child shares its parent's. */
struct vec_store {
	bool used;
	unsigned limit, in_use;
	struct vec_session *s;
};

/* Everything one file run needs; private to the interpreter. */
struct vec_session {
	const struct vec_io *io;
	const struct vec_exec_ops *ops;
	void *ctx;
	struct mmu *mmu;
	struct vec_machine machine;
	unsigned line;           /* of the command running */
	unsigned passed, failed; /* expectations */
	unsigned sanitizer_seen; /* reports already charged to a line */
	struct vec_frame frame[VEC_MAX_FRAMES];
	struct vec_space space[VEC_MAX_SPACES];
	struct vec_proc proc[VEC_MAX_PROCS];
	struct vec_object object[VEC_MAX_OBJECTS];
	struct vec_store store[VEC_MAX_STORES];
	/* The swap pool: each slot's bytes (outside `mem`: a disk), its
	 * references and its store. */
	uint8_t swap_page[VEC_SWAP_SLOTS][MMU_PAGE_SIZE];
	uint8_t swap_refs[VEC_SWAP_SLOTS];
	uint8_t swap_store[VEC_SWAP_SLOTS];
	struct mmu_tree *active[MMU_MAX_CPUS]; /* loaded by `load`; NULL: kernel */
	bool kpti;                             /* kpti=1: the template is built */
	struct mmu_kpti kpti_template;
	/* `tlbsan N`: the next command must cause exactly N sanitizer
	 * reports (pending until that command has run, then armed). */
	bool tlbsan_pending, tlbsan_armed;
	unsigned tlbsan_next, tlbsan_expected;
};

/* Check the whole file, run it on the executor (OPS, CTX), print every
 * result and the summary line; returns an enum vec_status. A malformed
 * file prints one line "FILE:LINE: what is wrong" and runs nothing. */
int vec_run(struct vec_session *s, const struct vec_io *io, const struct vec_exec_ops *ops, void *ctx);

/* Only the check of vec_run: VEC_PASSED when well formed (and *MACHINE, if
 * not NULL, holds its machine line), else VEC_MALFORMED after printing the
 * diagnostic. */
int vec_check(const struct vec_io *io, struct vec_machine *machine);

#endif
