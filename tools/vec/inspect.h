/* SPDX-License-Identifier: MIT */
/* Inspection and experiment commands (docs/VECTORS-INSPECT.md): levels,
 * leaves, tlb, setpte, invlpg, shadow, regions, rprotect, rremove, promote and
 * tlbsan, and the driver's hooks for them. Internal to the interpreter. */
#ifndef MMU64_VEC_INSPECT_H
#define MMU64_VEC_INSPECT_H

#include "tools/vec/run.h"

void vec_cmd_levels(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_leaves(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_tlb(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_setpte(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_invlpg(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_shadow(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_regions(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_rprotect(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_rremove(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_promote(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_tlbsan(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_rresize(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_rminaddr(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_rhuge(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_rstorage(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
/* Memory objects (cmd_object.c). */
void vec_cmd_object(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_robject(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_orelease(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_orefs(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
/* The object named NAME, NULL when none (cmd_object.c). */
struct vec_object *vec_find_object(struct vec_session *s, const char *name);
/* The reverse map of objects (cmd_object.c), an object's store (cmd_swap.c). */
void vec_cmd_oswap(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_omappers(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_opageout(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_oaccessed(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
/* Swap (cmd_swap.c). */
void vec_cmd_swap(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_pageout(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
void vec_cmd_swapped(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r);
/* Release every object and the store's frames (no process maps them by then). */
void vec_release_objects(struct vec_session *s);

/* The entries of run.c's handler table. */
#define VEC_INSPECT_HANDLERS                                                                          \
	[VEC_OP_LEVELS] = vec_cmd_levels, [VEC_OP_LEAVES] = vec_cmd_leaves, [VEC_OP_TLB] = vec_cmd_tlb,   \
	[VEC_OP_SETPTE] = vec_cmd_setpte,                                                              \
	[VEC_OP_INVLPG] = vec_cmd_invlpg, [VEC_OP_SHADOW] = vec_cmd_shadow,                            \
	[VEC_OP_REGIONS] = vec_cmd_regions, [VEC_OP_RPROTECT] = vec_cmd_rprotect,                       \
	[VEC_OP_RREMOVE] = vec_cmd_rremove, [VEC_OP_PROMOTE] = vec_cmd_promote,                         \
	[VEC_OP_TLBSAN] = vec_cmd_tlbsan, [VEC_OP_RRESIZE] = vec_cmd_rresize,                          \
	[VEC_OP_RMINADDR] = vec_cmd_rminaddr, [VEC_OP_RSTORAGE] = vec_cmd_rstorage,                    \
	[VEC_OP_OBJECT] = vec_cmd_object, [VEC_OP_ROBJECT] = vec_cmd_robject,                          \
	[VEC_OP_ORELEASE] = vec_cmd_orelease, [VEC_OP_OREFS] = vec_cmd_orefs,                          \
	[VEC_OP_RHUGE] = vec_cmd_rhuge, [VEC_OP_SWAP] = vec_cmd_swap, [VEC_OP_PAGEOUT] = vec_cmd_pageout,  \
	[VEC_OP_SWAPPED] = vec_cmd_swapped, [VEC_OP_OMAPPERS] = vec_cmd_omappers,                        \
	[VEC_OP_OPAGEOUT] = vec_cmd_opageout, [VEC_OP_OACCESSED] = vec_cmd_oaccessed,                    \
	[VEC_OP_OSWAP] = vec_cmd_oswap,

/* Before setup: the reason to skip a file that needs what the executor
 * lacks (a TLB listing, a sanitizer), or NULL. */
const char *vec_inspect_skip(const struct vec_session *s);
/* After each command: a `tlbsan N` arms its expectation for the command
 * that follows it. */
void vec_tlbsan_arm(struct vec_session *s, const struct vec_stmt *st);
/* The sanitizer check of an armed command: prints the sanitizer line
 * (expected, or FAIL when the count differs) and returns true; false when
 * nothing is armed (the ordinary check runs). */
bool vec_tlbsan_expected(struct vec_session *s, const char *where, unsigned reports, const char *last);

/* Shared with cmd_pt.c: NAME+0xOFF of the named frame holding PA (or
 * anon+0xOFF inside a leaf of SIZE); a translation as `walk` prints it
 * after `ok` (`F+0x0 4K rw-u A D`); an entry's flag names (`entry`). */
void vec_print_pa(struct vec_session *s, struct vec_buf *r, mmu_pa_t pa, enum mmu_size size);
void vec_print_translation(struct vec_session *s, struct vec_buf *r, const struct mmu_translation *t);
void vec_print_entry_flags(struct vec_buf *r, mmu_pte_t e, enum mmu_level level);

#endif
