/* SPDX-License-Identifier: MIT */
/* Interpreter internals shared by run.c and the command files. */
#ifndef MMU64_VEC_RUN_H
#define MMU64_VEC_RUN_H

#include "tools/vec/text.h"
#include "tools/vec/vec.h"

/* A command: fill RESULT with `ok ...`, `error NAME`, `fault 0xE` or `gp`. */
typedef void (*vec_handler)(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *result);

/* Handlers, by file. */
void vec_cmd_space(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_drop(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_frame(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_map(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_unmap(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_protect(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_walk(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_entry(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_stats(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_tlbstats(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_dump(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_load(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_read(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_write(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_exec(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_poke(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_peek(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_pkru(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_proc(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_region(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_fork(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_kwrite(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_kread(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_kreadstr(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_same(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_exit(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_faults(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_harvest(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r); /* cmd_harvest.c */

/* Names: NULL when unknown. "kernel" is the kernel tree. vec_find_tree
 * also finds a process's tree; vec_find_pt_tree does not (map, unmap,
 * protect and drop refuse processes). */
struct mmu_tree *vec_find_tree(struct vec_session *s, const char *name);
struct mmu_tree *vec_find_pt_tree(struct vec_session *s, const char *name);
struct vec_proc *vec_find_proc(struct vec_session *s, const char *name);
/* The process whose tree CPU has loaded, or NULL. */
struct vec_proc *vec_active_proc(struct vec_session *s, unsigned cpu);

/* A user access by CPU whose active tree is a process: the hardware path,
 * then the process's fault handler and a retry, until done or refused.
 * False (R untouched) when CPU runs no process. */
bool vec_proc_user_access(struct vec_session *s, unsigned cpu, enum vec_access_kind kind, mmu_vaddr_t va,
			  uint8_t byte, struct vec_buf *r);
/* `ok [BYTE]`, `fault 0xE` or `gp` for an access's outcome. */
void vec_print_access(struct vec_buf *r, enum vec_access_kind kind, const struct vec_access *a);
/* kpti=1, after setup: build the shadows' template from the executor's
 * ranges. NULL, or the reason to skip (the machine is torn down then). */
const char *vec_kpti_start(struct vec_session *s);
/* After `load CPU A` (kpti=1): no user CR3 until the next user access
 * of a process on that CPU computes it (cmd_proc.c). */
void vec_kpti_loaded(struct vec_session *s, unsigned cpu);
/* Exit every process (all CPUs run `kernel` by then). */
void vec_release_procs(struct vec_session *s);
struct vec_frame *vec_find_frame(struct vec_session *s, const char *name);

/* The physical address of F+OFF with LEN bytes from there inside the
 * frame; false when F is unknown or the range leaves it (an INVALID). */
bool vec_frame_range(struct vec_session *s, const struct vec_arg *ref, uint64_t len, mmu_pa_t *out);

/* The kernel-half window vectors may use (VECTORS.md): PML4 slots
 * 400-415, the same numbers under PML5 slot 511 with levels=5. */
#define VEC_KERNEL_WINDOW_START 0xffffc80000000000ull
#define VEC_KERNEL_WINDOW_LEN 0x80000000000ull

/* False when [VA, VA+LEN) (LEN 0 read as 1) reaches the upper half of the
 * address space outside the window: every other kernel-half address is the
 * executor's own memory (a kernel's image, its direct map), so such a
 * command is `error INVALID` whatever it is, before anything runs. */
bool vec_kernel_range_ok(mmu_vaddr_t va, uint64_t len);

/* Results. */
void vec_result_err(struct vec_buf *r, mmu_err_t err); /* "ok" for MMU_OK */

/* Print a line of the running command that is not its result (dump). */
void vec_print_aside(struct vec_session *s, const char *text);

#endif
