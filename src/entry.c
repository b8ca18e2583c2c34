/* SPDX-License-Identifier: MIT */
/* The entry writer's out-of-line half (src/entry.h): the writes of the
 * range walker's visitors, of the single-page calls' rarer paths, and of
 * roots. Each keeps the live count, the table cache and the invalidation
 * record together. */
#include "internal.h"

/* ---- the invalidation record ---- */

/* Record what changing the leaf OLD at VA (LEVEL) owes: its page, whether
 * it was global, and UNMAPPED (removed, or now another frame). */
static void entry_record(struct mmu_tlb_batch *b, mmu_vaddr_t va, enum mmu_level level, mmu_pte_t old, bool unmapped)
{
	if (unmapped)
		tlb_batch_note_unmapped(b);
	tlb_batch_add(b, va & ~(mmu_level_span(level) - 1), mmu_level_shift(level), 1, (old & MMU_PTE_G) != 0);
}

__attribute__((noinline)) void entry_invalidate_page(struct mmu_tree *tree, struct mmu_tlb_batch *given,
						     mmu_vaddr_t va, enum mmu_level level, mmu_pte_t old, bool unmapped)
{
	struct mmu_tlb_batch local;
	struct mmu_tlb_batch *b = begin_batch(tree, given, &local);
	entry_record(b, va, level, old, unmapped);
	end_batch(b, &local);
}

/* ---- the single-page calls' rarer paths ---- */

/* Clear the leaf at the end of path P (LEVEL) and the entries of the
 * tables that leaves empty, bottom up; each table goes to B's flush, or,
 * with no B, back to the port at once. */
static void clear_emptied(struct mmu_tree *tree, const struct pt_path *p, enum mmu_level level, struct mmu_tlb_batch *b)
{
	struct mmu *mmu = tree->mmu;
	entry_write(tree, port_meta(mmu, p->table[level]), level, p->entry[level], 0);
	for (enum mmu_level l = level; l < mmu_top_level(mmu); l++) {
		const struct mmu_frame_meta *meta = port_meta(mmu, p->table[l]);
		if (!table_empty(meta) || (meta->flags & META_PINNED))
			break;
		entry_write(tree, port_meta(mmu, p->table[l + 1]), l + 1, p->entry[l + 1], 0);
		if (b)
			mmu_tlb_batch_defer_free(b, MMU_FRAME_TABLE, MMU_SIZE_4K, p->table[l]);
		else
			table_free_now(mmu, p->table[l]);
	}
}

__attribute__((noinline)) void entry_clear_releasing(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va,
						     mmu_pte_t old, const struct pt_path *path,
						     struct mmu_tlb_batch *given)
{
	struct pt_path found;
	if (!path) {
		pt_path_find(tree, va, &found);
		path = &found;
	}
	MMU_ASSERT(tree->mmu, path->level == level && pte_load(path->entry[level]) == old,
		   "entry_clear_releasing: va %lx reached level %u, expected the leaf %lx at %u", (unsigned long)va,
		   path->level, (unsigned long)old, level);
	if (!entry_owes(tree, given, old)) {
		/* No batch, and no TLB can hold the tree (no CPU runs it, no
		 * PCID keeps it): nothing to invalidate, so the tables need no
		 * flush to wait for. */
		clear_emptied(tree, path, level, NULL);
		return;
	}
	struct mmu_tlb_batch local;
	struct mmu_tlb_batch *b = begin_batch(tree, given, &local);
	clear_emptied(tree, path, level, b);
	entry_record(b, va, level, old, true);
	end_batch(b, &local);
}

/* ---- the range walker's writes ---- */

/* In a prepare run (pt_walk_prepare) these write nothing; those that
 * take a table from the pool count it instead. */

void entry_set_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t value)
{
	if (!w->dry)
		entry_write_walk(w, level, e, value);
}

/* One atomic exchange, so the leaf returned carries an A or D bit a CPU
 * set up to the moment it went (an object page's page-out reports D for
 * writeback, as Linux's ptep_get_and_clear). */
mmu_pte_t entry_clear_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va)
{
	if (w->dry)
		return pte_load(e);
	struct mmu_frame_meta *meta = pt_table_meta(w, level);
	pt_cache_drop_below(w->tree, level);
	mmu_pte_t old = __atomic_exchange_n(e, 0, __ATOMIC_RELAXED);
	MMU_ASSERT(w->mmu, mmu_pte_present(old) && mmu_pte_is_leaf(old, level),
		   "entry_clear_leaf: level %u entry %lx is not a leaf", level, (unsigned long)old);
	uint8_t *lane = &meta->live[table_lane_of(e)];
	MMU_ASSERT(w->mmu, *lane > 0, "entry_clear_leaf: lane %u empty at level %u", table_lane_of(e), level);
	--*lane;
	entry_record(w->batch, va, level, old, true);
	return old;
}

void entry_rewrite_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, uint64_t clear,
			uint64_t set, bool invalidate)
{
	if (w->dry)
		return;
	mmu_pte_t old = pte_load(e);
	MMU_ASSERT(w->mmu, mmu_pte_present(old) && mmu_pte_is_leaf(old, level),
		   "entry_rewrite_leaf: level %u entry %lx is not a leaf", level, (unsigned long)old);
	entry_rewrite_leaf_bits(e, clear, set, tree_idle(w->tree));
	if (invalidate)
		entry_record(w->batch, va, level, old, (clear & MMU_PTE_ADDR_MASK) != 0);
}

/* Swap entries (include/mmu64/vm.h): not present but not zero, so they
 * count in the live count as leaves do and keep their table. */

mmu_pte_t entry_leaf_to_swap(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_pte_t swap,
			     mmu_pte_t keep)
{
	mmu_pte_t old = pte_load(e), value;
	if (w->dry)
		return old;
	/* A compare-exchange: KEEP's bits are the leaf's as it went, A and D
	 * set up to that moment included. Non-zero to non-zero: the live
	 * count stays, and a 4K leaf has no cached table below it. */
	do {
		MMU_ASSERT(w->mmu,
			   level == MMU_LEVEL_PT && mmu_pte_present(old) && swap != 0 && !mmu_pte_present(swap) &&
				   !(keep & (swap | MMU_PTE_ADDR_MASK | MMU_PTE_P)),
			   "entry_leaf_to_swap: level %u entry %lx to %lx keeping %lx", level, (unsigned long)old,
			   (unsigned long)swap, (unsigned long)keep);
		value = (old & keep) | swap;
	} while (!__atomic_compare_exchange_n(e, &old, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	entry_record(w->batch, va, level, old, true);
	return old;
}

void entry_rewrite_swap(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t value)
{
	if (w->dry)
		return;
	mmu_pte_t old = pte_load(e);
	MMU_ASSERT(w->mmu, level == MMU_LEVEL_PT && old != 0 && !mmu_pte_present(old),
		   "entry_rewrite_swap: level %u entry %lx is not a swap entry", level, (unsigned long)old);
	/* A not-present entry is never cached by a TLB: nothing owed. */
	entry_write_walk(w, level, e, value);
}

/* Clear BITS of *E with one atomic read-modify-write (a lock-prefixed
 * compare-exchange loop on x86) and return the value it replaced: a bit
 * the hardware sets at the same moment is either in that value or set
 * again after it, never lost. */
static mmu_pte_t entry_take_bits(mmu_pte_t *e, uint64_t bits)
{
	return __atomic_fetch_and(e, ~bits, __ATOMIC_RELAXED);
}

mmu_pte_t entry_harvest_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, uint64_t bits)
{
	if (w->dry)
		return pte_load(e);
	mmu_pte_t old = entry_take_bits(e, bits);
	MMU_ASSERT(w->mmu, mmu_pte_present(old) && mmu_pte_is_leaf(old, level),
		   "entry_harvest_leaf: level %u entry %lx is not a leaf", level, (unsigned long)old);
	/* A CPU that cached the leaf with D set writes through it without
	 * setting D again; one that cached it at all uses it without setting
	 * A. The translation stays: nothing was unmapped. */
	if (old & bits)
		entry_record(w->batch, va, level, old, false);
	return old;
}

/* Point the empty entry E at LEVEL of TREE (in the table whose metadata
 * is META) at a table from POOL; returns it. */
static mmu_pa_t install_table(struct mmu_tree *tree, struct mmu_frame_meta *meta, enum mmu_level level, mmu_pte_t *e,
			      struct table_pool *pool)
{
	MMU_ASSERT(tree->mmu, pte_load(e) == 0, "entry_install_table: level %u entry %lx is not empty", level,
		   (unsigned long)pte_load(e));
	mmu_pa_t pa = table_pool_take(tree->mmu, pool);
	entry_write(tree, meta, level, e, pa.bits | table_entry_flags(!tree->is_kernel));
	return pa;
}

mmu_pa_t entry_install_table(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e)
{
	if (!w->dry)
		return install_table(w->tree, pt_table_meta(w, level), level, e, &w->pool);
	w->dry_tables++;
	return mmu_pa(0);
}

/* The entry for VA at LEVEL of a pt_copy's other tree. Not in a prepare
 * run: the tables below its root are not there yet. */
static mmu_pte_t *copy_entry(const struct pt_walk *w, enum mmu_level level, mmu_vaddr_t va)
{
	return &table_of(w->mmu, w->copy->table[level])[mmu_va_index(va, level)];
}

void entry_copy_table(struct pt_walk *w, enum mmu_level level, mmu_vaddr_t va)
{
	if (w->dry) {
		w->dry_tables++;
		return;
	}
	struct pt_copy *c = w->copy;
	c->table[level - 1] = install_table(c->tree, port_meta(w->mmu, c->table[level]), level,
					    copy_entry(w, level, va), &w->pool);
}

void entry_copy_leaf(struct pt_walk *w, enum mmu_level level, mmu_vaddr_t va, mmu_pte_t value)
{
	if (!w->dry)
		entry_write(w->copy->tree, port_meta(w->mmu, w->copy->table[level]), level, copy_entry(w, level, va),
			    value);
}

void entry_split_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va)
{
	struct mmu *mmu = w->mmu;
	mmu_pte_t leaf = pte_load(e);
	MMU_ASSERT(mmu, level > MMU_LEVEL_PT && mmu_pte_present(leaf) && mmu_pte_is_leaf(leaf, level),
		   "entry_split_leaf: level %u entry %lx is not a huge leaf", level, (unsigned long)leaf);
	if (w->dry) {
		w->dry_tables++;
		return;
	}
	enum mmu_level child = level - 1;
	uint64_t addr = leaf & mmu_pte_addr_mask(leaf, level);
	uint64_t flags = mmu_pte_leaf_flags_for(mmu_pte_flags(leaf, level), level, child);
	mmu_pa_t table = table_pool_take(mmu, &w->pool);
	mmu_pte_t *entries = table_of(mmu, table);
	/* A fresh table no CPU can walk yet: plain stores. */
	for (unsigned i = 0; i < MMU_ENTRIES_PER_TABLE; i++)
		entries[i] = (addr + ((uint64_t)i << mmu_level_shift(child))) | flags;
	table_live_set_word(port_meta(mmu, table), TABLE_LIVE_FULL);
	pt_cache_drop_below(w->tree, level);
	entry_store(e, table.bits | table_entry_flags(!w->tree->is_kernel));
	/* The page size changes: the SDM asks for the old entry to go even
	 * where the translation stays the same (a protect that changes no bit
	 * of the page still splits it). */
	entry_record(w->batch, va, level, leaf, false);
	atomic_fetch_add_explicit(&mmu->demotions, 1, memory_order_relaxed);
}

/* The huge leaf that could replace the full table of leaves ENTRIES (at
 * level CHILD), or 0: the first maps a frame aligned to the parent's span,
 * each next one the following frame, all with the same bits but A and D
 * (which the promoted leaf ORs, so no dirty page is forgotten). */
static mmu_pte_t promoted_leaf(const mmu_pte_t *entries, enum mmu_level child)
{
	const uint64_t ad = MMU_PTE_A | MMU_PTE_D;
	mmu_pte_t first = pte_load(&entries[0]);
	if (!mmu_pte_present(first) || !mmu_pte_is_leaf(first, child))
		return 0;
	uint64_t addr_mask = mmu_pte_addr_mask(first, child), step = mmu_level_span(child);
	uint64_t base = first & addr_mask, flags = first & ~addr_mask & ~ad, seen_ad = 0;
	if (!mmu_is_aligned(base, step * MMU_ENTRIES_PER_TABLE))
		return 0;
	for (unsigned i = 0; i < MMU_ENTRIES_PER_TABLE; i++) {
		mmu_pte_t e = pte_load(&entries[i]);
		if ((e & ~ad) != ((base + i * step) | flags))
			return 0;
		seen_ad |= e & ad;
	}
	return base | mmu_pte_leaf_flags_for(flags | seen_ad, child, child + 1);
}

bool entry_try_promote(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va)
{
	if (w->dry)
		return false;
	mmu_pa_t table;
	enum mmu_level top_leaf = w->mmu->page_1g ? MMU_LEVEL_PDPT : MMU_LEVEL_PD;
	if (level > top_leaf || mmu_pte_next_table(pte_load(e), level, &table) != MMU_OK)
		return false;
	struct mmu_frame_meta *meta = port_meta(w->mmu, table);
	if (table_live_word(meta) != TABLE_LIVE_FULL || (meta->flags & META_PINNED))
		return false;
	mmu_pte_t leaf = promoted_leaf(table_of(w->mmu, table), level - 1);
	if (!leaf)
		return false;
	va &= ~(mmu_level_span(level) - 1);
	entry_write_walk(w, level, e, leaf);
	/* The page size changes: the small translations must go before the
	 * table that held them is reused. */
	tlb_batch_add(w->batch, va, mmu_level_shift(level - 1), MMU_ENTRIES_PER_TABLE, (leaf & MMU_PTE_G) != 0);
	mmu_tlb_batch_defer_free(w->batch, MMU_FRAME_TABLE, MMU_SIZE_4K, table);
	atomic_fetch_add_explicit(&w->mmu->promotions, 1, memory_order_relaxed);
	return true;
}

void entry_release_table(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e)
{
	if (w->dry)
		return;
	mmu_pa_t table;
	mmu_err_t err = mmu_pte_next_table(pte_load(e), level, &table);
	MMU_ASSERT(w->mmu, err == MMU_OK, "entry_release_table: level %u entry %lx is not a table", level,
		   (unsigned long)pte_load(e));
	entry_write_walk(w, level, e, 0);
	mmu_tlb_batch_defer_free(w->batch, MMU_FRAME_TABLE, MMU_SIZE_4K, table);
}

/* ---- runs of a page table ---- */

/* A run's entries that became non-zero, or zero: N[k] of them at the
 * offsets k, k + 4, k + 8, ... from the run's first entry, so that each
 * counts in its lane of the live count. */
struct run_lanes {
	unsigned n[4];
};

static bool run_lanes_any(const struct run_lanes *d) { return (d->n[0] | d->n[1] | d->n[2] | d->n[3]) != 0; }

/* The COUNT entries from the run's first: every lane its share. */
static struct run_lanes run_lanes_all(unsigned count)
{
	struct run_lanes d;
	for (unsigned k = 0; k < 4; k++)
		d.n[k] = count / 4 + (k < count % 4);
	return d;
}

/* Add (ADD) or take D from the live count of the walk's page table, for a
 * run from FIRST that wrote its entries itself. */
static void run_count(struct pt_walk *w, const mmu_pte_t *first, const struct run_lanes *d, bool add)
{
	struct mmu_frame_meta *meta = pt_table_meta(w, MMU_LEVEL_PT);
	for (unsigned k = 0; k < 4; k++) {
		unsigned lane = (table_lane_of(first) + k) % 4, n = d->n[k], now = meta->live[lane];
		MMU_ASSERT(w->mmu, add ? now + n <= TABLE_LANE_MAX : now >= n, "entry run: lane %u holds %u, %c%u", lane,
			   now, add ? '+' : '-', n);
		meta->live[lane] = (uint8_t)(add ? now + n : now - n);
	}
}

bool entry_run_fill(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count, mmu_pte_t leaf)
{
	if (w->dry) {
		for (unsigned i = first; i < first + count; i++) {
			if (pte_load(&entries[i]))
				return false;
		}
		return true;
	}
	/* Unrolled: a store a cycle wherever the loop happens to be placed. */
#pragma GCC unroll 8
	for (unsigned i = 0; i < count; i++)
		entry_store(&entries[first + i], leaf + ((uint64_t)i << MMU_PAGE_SHIFT));
	struct run_lanes d = run_lanes_all(count);
	run_count(w, &entries[first], &d, true);
	return true;
}

/* The quiet form: one straight pass the compiler can unroll, plain
 * accesses since no hardware walker can touch the entries, and a record
 * only if a leaf was global. A non-present entry is zero, so zero stays
 * zero. */
static bool run_change_quiet(struct pt_walk *w, mmu_pte_t *entries, unsigned count, mmu_vaddr_t va, bool unmap,
			     uint64_t perm_bits)
{
	uint64_t seen = 0;
	if (unmap) {
		struct run_lanes present = {{0}};
#pragma GCC unroll 4
		for (unsigned i = 0; i < count; i++) {
			seen |= entries[i];
			present.n[i % 4] += entries[i] != 0;
			entries[i] = 0;
		}
		run_count(w, entries, &present, false);
	} else {
		const uint64_t keep = ~MMU_PTE_PERM_MASK, set = perm_bits;
#pragma GCC unroll 4
		for (unsigned i = 0; i < count; i++) {
			mmu_pte_t v = entries[i];
			seen |= v;
			entries[i] = v ? (v & keep) | set : 0;
		}
	}
	if (seen & MMU_PTE_G) {
		if (unmap)
			tlb_batch_note_unmapped(w->batch);
		tlb_batch_add(w->batch, va, MMU_PAGE_SHIFT, count, true);
	}
	return seen != 0;
}

bool entry_run_change(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count, mmu_vaddr_t va,
		      bool unmap, uint64_t perm_bits, bool quiet)
{
	if (w->dry) {
		for (unsigned i = first; i < first + count; i++) {
			if (mmu_pte_present(pte_load(&entries[i])))
				return true;
		}
		return false;
	}
	if (quiet)
		return run_change_quiet(w, &entries[first], count, va, unmap, perm_bits);
	unsigned run = 0, present = 0;
	struct run_lanes removed = {{0}};
	bool run_global = false, idle = tree_idle(w->tree);
	for (unsigned i = 0; i <= count; i++) {
		mmu_pte_t *e = &entries[first + i];
		mmu_pte_t v = i < count ? pte_load(e) : 0;
		mmu_pte_t nv = unmap ? 0 : (v & ~MMU_PTE_PERM_MASK) | perm_bits;
		present += mmu_pte_present(v);
		if (i == count || !mmu_pte_present(v) || nv == v) {
			if (run)
				tlb_batch_add(w->batch, va + ((uint64_t)(i - run) << MMU_PAGE_SHIFT), MMU_PAGE_SHIFT,
						  run, run_global);
			run = 0;
			run_global = false;
			continue;
		}
		if (unmap) {
			entry_store(e, 0);
			removed.n[i % 4]++;
		} else {
			entry_store_bits(e, MMU_PTE_PERM_MASK, perm_bits, idle);
		}
		run++;
		run_global |= (v & MMU_PTE_G) != 0;
	}
	if (run_lanes_any(&removed)) {
		tlb_batch_note_unmapped(w->batch);
		run_count(w, &entries[first], &removed, false);
	}
	return present != 0;
}

/* ---- roots ---- */

void entry_copy_kernel_half(struct mmu *mmu, mmu_pa_t root)
{
	/* A fresh root no CPU walks yet, and source entries that never change
	 * after mmu_init: a plain copy. */
	const unsigned half = MMU_ENTRIES_PER_TABLE / 2;
	__builtin_memcpy(table_of(mmu, root) + half, table_of(mmu, mmu->kernel.root) + half, half * sizeof(mmu_pte_t));
}

void entry_link_kernel_top(struct mmu *mmu, unsigned slot, mmu_pa_t table)
{
	struct mmu_tree *k = mmu_kernel_tree(mmu);
	entry_write(k, port_meta(mmu, k->root), mmu_top_level(mmu), &table_of(mmu, k->root)[slot],
		    table.bits | table_entry_flags(false));
}

bool entry_unlink_kernel_top(struct mmu *mmu, unsigned slot, mmu_pa_t *table)
{
	struct mmu_tree *k = mmu_kernel_tree(mmu);
	mmu_pte_t *e = &table_of(mmu, k->root)[slot];
	if (mmu_pte_next_table(pte_load(e), mmu_top_level(mmu), table) != MMU_OK)
		return false;
	entry_write(k, port_meta(mmu, k->root), mmu_top_level(mmu), e, 0);
	return true;
}

void entry_fill_shadow(struct mmu *mmu, mmu_pa_t shadow, mmu_pa_t user_root, mmu_pa_t kernel_root)
{
	mmu_pte_t *dst = table_of(mmu, shadow);
	const mmu_pte_t *user = table_of(mmu, user_root), *kern = table_of(mmu, kernel_root);
	for (unsigned i = 0; i < MMU_ENTRIES_PER_TABLE; i++)
		entry_store(&dst[i], pte_load(i < MMU_ENTRIES_PER_TABLE / 2 ? &user[i] : &kern[i]));
}

void entry_mirror_slot(struct mmu *mmu, mmu_pa_t shadow, mmu_pa_t user_root, unsigned slot)
{
	entry_store(&table_of(mmu, shadow)[slot], pte_load(&table_of(mmu, user_root)[slot]));
}

void entry_set_user_path(struct mmu_tree *tree, const struct pt_path *p)
{
	for (unsigned level = (unsigned)mmu_top_level(tree->mmu); level > (unsigned)p->level; level--)
		entry_store_bits(p->entry[level], 0, MMU_PTE_US, false);
	/* The cached tables' UPPER bits were taken without US. */
	pt_cache_drop_below(tree, mmu_top_level(tree->mmu));
}
