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

/* Names: NULL when unknown. "kernel" is the kernel tree. */
struct mmu_tree *vec_find_tree(struct vec_session *s, const char *name);
struct vec_frame *vec_find_frame(struct vec_session *s, const char *name);

/* The physical address of F+OFF with LEN bytes from there inside the
 * frame; false when F is unknown or the range leaves it (an INVALID). */
bool vec_frame_range(struct vec_session *s, const struct vec_arg *ref, uint64_t len, mmu_pa_t *out);

/* Results. */
void vec_result_err(struct vec_buf *r, mmu_err_t err); /* "ok" for MMU_OK */

/* Print a line of the running command that is not its result (dump). */
void vec_print_aside(struct vec_session *s, const char *text);

#endif
