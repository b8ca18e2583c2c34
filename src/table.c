/* SPDX-License-Identifier: MIT */
/* Page-table pages: allocation through the port, the prepared pool a commit
 * draws from, and the `stats` counters. And the data frames of process
 * spaces, which reach the port only through here. */
#include "internal.h"

static atomic_int_fast64_t *table_counter(struct mmu *mmu, bool user)
{
	return user ? &mmu->user_tables : &mmu->kernel_tables;
}

/* A table page from the port, its metadata set (LINK: the pool's chain),
 * not yet counted. */
static inline mmu_err_t table_take_frame(struct mmu *mmu, bool user, uint64_t link, mmu_pa_t *out)
{
	mmu_err_t err = mmu->port.ops->frame_alloc(mmu->port.ctx, MMU_FRAME_TABLE, MMU_SIZE_4K, out);
	if (err != MMU_OK)
		return err;
	struct mmu_frame_meta *meta = port_meta(mmu, *out);
	table_live_set_word(meta, 0);
	meta->link = link;
	meta->flags = META_TABLE | (user ? META_USER : 0);
	return MMU_OK;
}

mmu_err_t table_alloc(struct mmu *mmu, bool user, mmu_pa_t *out)
{
	mmu_err_t err = table_take_frame(mmu, user, 0, out);
	if (err == MMU_OK)
		atomic_fetch_add_explicit(table_counter(mmu, user), 1, memory_order_relaxed);
	return err;
}

/* Whether the table page META describes holds only zero entries. The
 * live count counts the entries that are not zero, so an empty count
 * says it, except for a pinned table: a root's kernel-half entries, which
 * every tree shares, are not counted in it. */
static bool table_known_zero(const struct mmu_frame_meta *meta)
{
	return table_empty(meta) && !(meta->flags & META_PINNED);
}

void table_free_now(struct mmu *mmu, mmu_pa_t pa)
{
	struct mmu_frame_meta *meta = port_meta(mmu, pa);
	MMU_ASSERT(mmu, meta->flags & META_TABLE, "table_free_now: pa %lx flags %x is not a table",
		   (unsigned long)pa.bits, meta->flags);
	bool user = (meta->flags & META_USER) != 0;
	bool zeroed = table_known_zero(meta);
	meta->flags = 0;
	table_live_set_word(meta, 0);
	atomic_fetch_sub_explicit(table_counter(mmu, user), 1, memory_order_relaxed);
	const struct mmu_port_ops *ops = mmu->port.ops;
	if (zeroed && ops->table_free_zeroed)
		ops->table_free_zeroed(mmu->port.ctx, pa);
	else
		ops->frame_free(mmu->port.ctx, MMU_FRAME_TABLE, MMU_SIZE_4K, pa);
}

/* The tables are counted once for the pool (one atomic add a fill, not
 * one a table), before a failure drains them. */
mmu_err_t table_pool_fill(struct mmu *mmu, struct table_pool *pool, uint64_t n, bool user)
{
	uint64_t i;
	mmu_err_t err = MMU_OK;
	for (i = 0; i < n; i++) {
		mmu_pa_t pa;
		err = table_take_frame(mmu, user, pool->head, &pa);
		if (err != MMU_OK)
			break;
		pool->head = pa.bits;
		pool->count++;
	}
	if (i)
		atomic_fetch_add_explicit(table_counter(mmu, user), (int_fast64_t)i, memory_order_relaxed);
	if (err != MMU_OK) {
		table_pool_drain(mmu, pool);
		return MMU_E_NOMEM;
	}
	return MMU_OK;
}

mmu_pa_t table_pool_take(struct mmu *mmu, struct table_pool *pool)
{
	MMU_ASSERT(mmu, pool->count > 0, "table_pool_take: the prepare step counted too few tables");
	mmu_pa_t pa = mmu_pa(pool->head);
	struct mmu_frame_meta *meta = port_meta(mmu, pa);
	pool->head = meta->link;
	pool->count--;
	meta->link = 0;
	return pa;
}

void table_pool_drain(struct mmu *mmu, struct table_pool *pool)
{
	while (pool->count)
		table_free_now(mmu, table_pool_take(mmu, pool));
}

mmu_err_t frame_alloc_data(struct mmu *mmu, mmu_pa_t *out)
{
	return mmu->port.ops->frame_alloc(mmu->port.ctx, MMU_FRAME_DATA, MMU_SIZE_4K, out);
}

/* Mark (or unmark) the 512 pieces of the 2M data frame HEAD. */
static void frame_mark_2m(struct mmu *mmu, mmu_pa_t head, bool on)
{
	for (unsigned i = 0; i < MMU_ENTRIES_PER_TABLE; i++) {
		struct mmu_frame_meta *m = port_meta(mmu, mmu_pa_add(head, (uint64_t)i << MMU_PAGE_SHIFT));
		m->flags = (uint16_t)(on ? m->flags | META_DATA_2M : m->flags & ~META_DATA_2M);
	}
}

mmu_err_t frame_alloc_data_2m(struct mmu *mmu, mmu_pa_t *out)
{
	mmu_err_t err = mmu->port.ops->frame_alloc(mmu->port.ctx, MMU_FRAME_DATA, MMU_SIZE_2M, out);
	if (err == MMU_OK)
		frame_mark_2m(mmu, *out, true);
	return err;
}

/* The size of the data frame holding PA, whose head it makes PA; a 2M
 * frame loses its marks (it is being freed: no lookup of a piece follows). */
static enum mmu_size frame_data_release(struct mmu *mmu, mmu_pa_t *pa)
{
	*pa = frame_data_head(mmu, *pa);
	if (!(port_meta(mmu, *pa)->flags & META_DATA_2M))
		return MMU_SIZE_4K;
	frame_mark_2m(mmu, *pa, false);
	return MMU_SIZE_2M;
}

void frame_free_data(struct mmu *mmu, mmu_pa_t pa)
{
	enum mmu_size size = frame_data_release(mmu, &pa);
	mmu->port.ops->frame_free(mmu->port.ctx, MMU_FRAME_DATA, size, pa);
}

void frame_free_data_flushed(struct pt_walk *w, mmu_pa_t pa)
{
	enum mmu_size size = frame_data_release(w->mmu, &pa);
	mmu_tlb_batch_defer_free(w->batch, MMU_FRAME_DATA, size, pa);
}

void frame_copy(struct mmu *mmu, mmu_pa_t dst, mmu_pa_t src)
{
	uint64_t *d = port_p2v(mmu, dst);
	const uint64_t *s = port_p2v(mmu, src);
	for (unsigned i = 0; i < MMU_PAGE_SIZE / sizeof *d; i++)
		d[i] = s[i];
}
