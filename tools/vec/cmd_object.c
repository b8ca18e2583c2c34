/* SPDX-License-Identifier: MIT */
/* Memory objects (docs/VECTORS-INSPECT.md, "Shared and pager-backed
 * memory"): object, robject, orelease, orefs, and the pager of `store`
 * objects, which is the interpreter itself, so both executors run the
 * same pager through their own frame_alloc and poke. */
#include <string.h>

#include "tools/vec/inspect.h"
#include "tools/vec/run.h"

#define STORE_BYTE 0xa0 /* page i of a store: every byte STORE_BYTE + i */

struct vec_object *vec_find_object(struct vec_session *s, const char *name)
{
	for (unsigned i = 0; i < VEC_MAX_OBJECTS; i++)
		if (s->object[i].used && vec_str_eq(s->object[i].name, name))
			return &s->object[i];
	return NULL;
}

/* The pager of a store: page I is made on the first ask (a file's page
 * read into the cache), with the pager's own reference; NOMEM when `mem`
 * has no room. */
static mmu_err_t store_get_page(void *ctx, uint64_t i, mmu_pa_t *out)
{
	struct vec_object *o = ctx;
	struct vec_session *s = o->s;
	if (!o->page[i].bits) {
		mmu_pa_t pa;
		if (s->ops->frame_alloc(s->ctx, MMU_SIZE_4K, &pa) != MMU_OK)
			return MMU_E_NOMEM;
		for (uint64_t b = 0; b < MMU_PAGE_SIZE; b++)
			s->ops->poke(s->ctx, mmu_pa(pa.bits + b), (uint8_t)(STORE_BYTE + i));
		mmu_vm_frame_ref(s->mmu, pa);
		o->page[i] = pa;
	}
	*out = o->page[i];
	return MMU_OK;
}

static const struct mmu_vm_pager_ops store_pager = {.get_page = store_get_page};
/* A store shared regions may write (a file opened for writing). */
static const struct mmu_vm_pager_ops wstore_pager = {.get_page = store_get_page, .shared_writable = true};

/* `object O anon|store PAGES`: INVALID for PAGES 0 or above
 * VEC_OBJECT_PAGES, DUPLICATED for a name taken, NOMEM when every slot
 * is. */
void vec_cmd_object(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	uint64_t pages = st->arg[2].num;
	struct vec_object *o = NULL;
	for (unsigned i = 0; i < VEC_MAX_OBJECTS && !o; i++)
		if (!s->object[i].used)
			o = &s->object[i];
	mmu_err_t err = pages == 0 || pages > VEC_OBJECT_PAGES ? MMU_E_INVALID
		      : vec_find_object(s, st->arg[0].name)     ? MMU_E_DUPLICATED
		      : !o                                  ? MMU_E_NOMEM
							    : MMU_OK;
	if (err == MMU_OK) {
		memset(o->page, 0, sizeof o->page);
		o->s = s;
		o->store = st->arg[1].num != 0;
		const struct mmu_vm_pager_ops *ops = st->arg[1].num == 2 ? &wstore_pager : &store_pager;
		err = o->store ? mmu_vm_object_init_pager(s->mmu, &o->obj, o->slots, pages, ops, o)
			       : mmu_vm_object_init_anon(s->mmu, &o->obj, o->slots, pages);
	}
	if (err == MMU_OK) {
		o->used = true;
		memcpy(o->name, st->arg[0].name, sizeof o->name);
	}
	vec_result_err(r, err);
}

void vec_cmd_robject(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	struct vec_object *o = vec_find_object(s, st->arg[5].name);
	vec_result_err(r, p && o ? mmu_vm_region_add_object(&p->sp, st->arg[1].num, st->arg[2].num,
							    (unsigned)st->arg[3].num, (enum mmu_vm_kind)st->arg[4].num,
							    &o->obj, st->arg[6].num)
				 : MMU_E_INVALID);
}

/* After the library let go of them: the store's own references, and its
 * frames with them. */
static void store_free(struct vec_object *o)
{
	struct vec_session *s = o->s;
	for (unsigned i = 0; i < VEC_OBJECT_PAGES; i++)
		if (o->page[i].bits && mmu_vm_frame_unref(s->mmu, o->page[i]))
			s->ops->frame_free(s->ctx, MMU_SIZE_4K, o->page[i]);
	memset(o->page, 0, sizeof o->page);
}

static mmu_err_t object_release(struct vec_object *o)
{
	mmu_err_t err = mmu_vm_object_release(&o->obj);
	if (err == MMU_OK) {
		store_free(o);
		o->used = false;
	}
	return err;
}

/* `orelease O`: BUSY while a region maps O. */
void vec_cmd_orelease(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_object *o = vec_find_object(s, st->arg[0].name);
	vec_result_err(r, o ? object_release(o) : MMU_E_INVALID);
}

/* `orefs O PAGE`: `ok N`, the references on the frame of O's page (the
 * object's, each leaf's, a store's own); `ok 0` when not resident. */
void vec_cmd_orefs(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_object *o = vec_find_object(s, st->arg[0].name);
	mmu_pa_t pa;
	mmu_err_t err = o ? mmu_vm_object_page(&o->obj, st->arg[1].num, &pa) : MMU_E_INVALID;
	if (err != MMU_OK && err != MMU_E_NOTEXIST) {
		vec_result_err(r, err);
		return;
	}
	vb_str(r, "ok ");
	vb_dec(r, err == MMU_OK ? mmu_vm_frame_refs(s->mmu, pa) : 0);
}

/* `omappers O RECORDS`: O's mapper records (RECORDS 0: none); INVALID
 * above VEC_OBJECT_MAPPERS. */
void vec_cmd_omappers(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_object *o = vec_find_object(s, st->arg[0].name);
	uint64_t n = st->arg[1].num;
	mmu_err_t err = !o || n > VEC_OBJECT_MAPPERS ? MMU_E_INVALID
		      : mmu_vm_object_set_mapper_storage(&o->obj, n ? o->mapper : NULL, (unsigned)n);
	vec_result_err(r, err);
}

/* `opageout O PAGE`: `ok clean` or `ok dirty`. */
void vec_cmd_opageout(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_object *o = vec_find_object(s, st->arg[0].name);
	bool dirty = false;
	mmu_err_t err = o ? mmu_vm_object_page_out(&o->obj, st->arg[1].num, &dirty) : MMU_E_INVALID;
	if (err != MMU_OK) {
		vec_result_err(r, err);
		return;
	}
	vb_str(r, dirty ? "ok dirty" : "ok clean");
}

/* `oaccessed O PAGE keep|clear`: `ok yes` or `ok no`. */
void vec_cmd_oaccessed(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_object *o = vec_find_object(s, st->arg[0].name);
	bool ref = false;
	mmu_err_t err = o ? mmu_vm_object_page_referenced(&o->obj, st->arg[1].num,
							  st->arg[2].num ? MMU_VM_ACCESSED_CLEAR : MMU_VM_ACCESSED_KEEP, &ref)
			  : MMU_E_INVALID;
	if (err != MMU_OK) {
		vec_result_err(r, err);
		return;
	}
	vb_str(r, ref ? "ok yes" : "ok no");
}

void vec_release_objects(struct vec_session *s)
{
	for (unsigned i = 0; i < VEC_MAX_OBJECTS; i++)
		if (s->object[i].used)
			(void)object_release(&s->object[i]);
}
