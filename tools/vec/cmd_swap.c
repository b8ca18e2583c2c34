/* SPDX-License-Identifier: MIT */
/* Swap (docs/VECTORS-INSPECT.md, "Swap"): swap, pageout, swapped, and the
 * in-memory swap store, which is the interpreter itself (a pool of
 * VEC_SWAP_SLOTS pages in the session, outside `mem`, as a disk is), so
 * both executors run the same store through their own peek and poke. */
#include <string.h>

#include "tools/vec/inspect.h"
#include "tools/vec/run.h"

/* ---- the store (struct mmu_vm_swap_ops) ---- */

static mmu_err_t store_write(void *ctx, mmu_pa_t frame, uint64_t *slot)
{
	struct vec_store *st = ctx;
	struct vec_session *s = st->s;
	if (st->in_use >= st->limit)
		return MMU_E_NOMEM;
	for (unsigned i = 0; i < VEC_SWAP_SLOTS; i++) {
		if (s->swap_refs[i])
			continue;
		for (uint64_t b = 0; b < MMU_PAGE_SIZE; b++)
			s->swap_page[i][b] = s->ops->peek(s->ctx, mmu_pa(frame.bits + b));
		s->swap_refs[i] = 1;
		s->swap_store[i] = (uint8_t)(st - s->store);
		st->in_use++;
		*slot = i;
		return MMU_OK;
	}
	return MMU_E_NOMEM; /* the pool is full */
}

static mmu_err_t store_read(void *ctx, uint64_t slot, mmu_pa_t frame)
{
	struct vec_session *s = ((struct vec_store *)ctx)->s;
	for (uint64_t b = 0; b < MMU_PAGE_SIZE; b++)
		s->ops->poke(s->ctx, mmu_pa(frame.bits + b), s->swap_page[slot][b]);
	return MMU_OK;
}

static void store_dup(void *ctx, uint64_t slot)
{
	struct vec_session *s = ((struct vec_store *)ctx)->s;
	s->swap_refs[slot]++;
}

static void store_free(void *ctx, uint64_t slot)
{
	struct vec_session *s = ((struct vec_store *)ctx)->s;
	if (--s->swap_refs[slot] == 0)
		s->store[s->swap_store[slot]].in_use--;
}

static const struct mmu_vm_swap_ops store_ops = {store_write, store_read, store_dup, store_free};

/* ---- the commands ---- */

/* A free store of SLOTS pool pages, NULL when every one is taken. */
static struct vec_store *store_new(struct vec_session *s, uint64_t slots)
{
	for (unsigned i = 0; i < VEC_MAX_STORES; i++)
		if (!s->store[i].used) {
			s->store[i] = (struct vec_store){.limit = (unsigned)slots, .s = s};
			return &s->store[i];
		}
	return NULL;
}

/* A free store of SLOTS for `swap` or `oswap`, its owner FOUND: INVALID
 * for SLOTS (1 .. VEC_SWAP_SLOTS) or an unknown owner, NOMEM when every
 * store is taken. It counts as used once the library took it. */
static mmu_err_t store_take(struct vec_session *s, bool found, uint64_t slots, struct vec_store **out)
{
	if (!found || slots == 0 || slots > VEC_SWAP_SLOTS)
		return MMU_E_INVALID;
	*out = store_new(s, slots);
	return *out ? MMU_OK : MMU_E_NOMEM;
}

/* `swap P SLOTS`: a new store of SLOTS pool pages for P
 * (mmu_vm_space_set_swap); errors as store_take's, then BUSY as the
 * library says. */
void vec_cmd_swap(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	struct vec_store *store = NULL;
	mmu_err_t err = store_take(s, p != NULL, st->arg[1].num, &store);
	if (err == MMU_OK)
		err = mmu_vm_space_set_swap(&p->sp, &store_ops, store);
	if (err == MMU_OK)
		store->used = true;
	vec_result_err(r, err);
}

/* `oswap O SLOTS`: a new store for the anonymous object O
 * (mmu_vm_object_set_swap), as `swap` gives one to a process. */
void vec_cmd_oswap(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_object *o = vec_find_object(s, st->arg[0].name);
	struct vec_store *store = NULL;
	mmu_err_t err = store_take(s, o != NULL, st->arg[1].num, &store);
	if (err == MMU_OK)
		err = mmu_vm_object_set_swap(&o->obj, &store_ops, store);
	if (err == MMU_OK)
		store->used = true;
	vec_result_err(r, err);
}

/* `pageout P VA`: mmu_vm_page_out. */
void vec_cmd_pageout(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	vec_result_err(r, p ? mmu_vm_page_out(&p->sp, st->arg[1].num) : MMU_E_INVALID);
}

/* `swapped P`: `ok N M`, P's pages in swap and the slots its store holds
 * (M 0 without a store). */
void vec_cmd_swapped(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	if (!p) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	const struct vec_store *store = p->sp.swap_ctx;
	vb_str(r, "ok ");
	vb_dec(r, p->sp.swapped);
	vb_char(r, ' ');
	vb_dec(r, store ? store->in_use : 0);
}
