/* The walkers: the range walker that every range operation shares (map,
 * unmap, protect, walk, entry, dump, destroy, fork), the single-address
 * descents the single-page calls use (src/page.c), and the entry writes
 * they perform. */
#include "internal.h"

void pt_walk_init(struct pt_walk *w, struct mmu_tree *tree, const struct pt_visitor *visitor, void *op)
{
	*w = (struct pt_walk){.mmu = tree->mmu, .tree = tree, .visitor = visitor, .op = op, .root = tree->root};
}

void pt_walk_view(struct pt_walk *w, struct mmu_tree *tree, mmu_pa_t root, const struct pt_visitor *visitor, void *op)
{
	pt_walk_init(w, tree, visitor, op);
	w->root = root;
	w->no_cache = true;
}

/* Remember a page table or page directory (LEVEL) on VA's path, with
 * UPPER, what the levels above allow, for the single-page calls that follow
 * (a user tree never caches the kernel half: the kernel tree's lock guards
 * those tables). */
static inline void pt_cache_set(struct mmu_tree *tree, enum mmu_level level, mmu_pa_t table, mmu_pte_t *entries,
				mmu_vaddr_t va, uint64_t upper)
{
	*pt_cache(tree, level) = (struct mmu_leaf_cache){
		.base = va & ~(mmu_level_span(level + 1) - 1),
		.entries = entries,
		.table = table,
		.meta = port_meta(tree->mmu, table),
		.upper = upper,
	};
}

/* The same for the range walker, UPPER from the path it went down. */
static void pt_cache_fill(struct pt_walk *w, enum mmu_level level, mmu_pa_t table, mmu_pte_t *entries,
			  mmu_vaddr_t va)
{
	if (w->no_cache || mmu_va_is_kernel(va) != w->tree->is_kernel)
		return;
	uint64_t all_and = MMU_PTE_RW | MMU_PTE_US, any_xd = 0;
	for (unsigned l = level + 1; l <= (unsigned)mmu_top_level(w->mmu); l++) {
		all_and &= w->path[l];
		any_xd |= w->path[l] & MMU_PTE_XD;
	}
	pt_cache_set(w->tree, level, table, entries, va, all_and | any_xd);
}

/* The single-address descents below share these: VA's entry in TABLE at
 * the level whose index starts at bit SHIFT, and whether a descent goes on
 * below entry V at LEVEL (a present table entry: PS is a leaf in a PDPTE
 * or PDE and never set higher up). */
static inline mmu_pte_t *path_entry(struct mmu *mmu, mmu_pa_t table, mmu_vaddr_t va, unsigned shift)
{
	return &table_of(mmu, table)[(va >> shift) & (MMU_ENTRIES_PER_TABLE - 1)];
}

static inline bool path_goes_on(mmu_pte_t v, unsigned level)
{
	return level > MMU_LEVEL_PT && mmu_pte_present(v) && !(v & MMU_PTE_PS);
}

/* The walker's single-address form: follow VA (in TREE's own half) down
 * from the root, a few instructions per level and no visitor, recording
 * each table and entry, and caching the page directory and page table it
 * reaches as the range walker does. Writes nothing else. The single-page
 * calls that change a tree use it. */
void pt_path_find(struct mmu_tree *tree, mmu_vaddr_t va, struct pt_path *p)
{
	struct mmu *mmu = tree->mmu;
	uint64_t upper = MMU_PTE_RW | MMU_PTE_US; /* RW, US ANDed and XD ORed so far */
	mmu_pa_t table = tree->root;
	unsigned level = (unsigned)mmu_top_level(mmu);
	for (unsigned shift = mmu_level_shift((enum mmu_level)level);; shift -= MMU_INDEX_BITS, level--) {
		mmu_pte_t *e = path_entry(mmu, table, va, shift);
		p->table[level] = table;
		p->entry[level] = e;
		if (level <= MMU_CACHED_LEVELS)
			pt_cache_set(tree, (enum mmu_level)level, table, e - ((va >> shift) & (MMU_ENTRIES_PER_TABLE - 1)),
				     va, upper);
		mmu_pte_t v = pte_load(e);
		if (!path_goes_on(v, level))
			break;
		upper = (upper & (v | MMU_PTE_XD)) | (v & MMU_PTE_XD);
		table = mmu_pa(v & MMU_PTE_ADDR_MASK);
	}
	p->level = (enum mmu_level)level;
}

/* The same descent for a single-page call that missed the table cache:
 * nothing recorded but the page directory and page table it reaches, which
 * it caches. This is the hot miss path of random single-page calls, and it
 * is kept this lean on purpose: such a call is bound by cache misses, and
 * only a short instruction stream lets the CPU overlap the misses of
 * consecutive calls. Recording the path as pt_path_find does would cost
 * ~80 more instructions a call (docs/DESIGN.md has the figures). */
void pt_cache_descend(struct mmu_tree *tree, mmu_vaddr_t va)
{
	struct mmu *mmu = tree->mmu;
	if (mmu_va_is_kernel(va) != tree->is_kernel)
		return;
	uint64_t upper = MMU_PTE_RW | MMU_PTE_US; /* RW, US ANDed and XD ORed so far */
	mmu_pte_t v = tree->root.bits;
	unsigned level = (unsigned)mmu_top_level(mmu);
	for (unsigned shift = mmu_level_shift((enum mmu_level)level); level > MMU_LEVEL_PD;
	     shift -= MMU_INDEX_BITS, level--) {
		v = pte_load(path_entry(mmu, mmu_pa(v & MMU_PTE_ADDR_MASK), va, shift));
		if (!path_goes_on(v, level))
			return;
		upper = (upper & (v | MMU_PTE_XD)) | (v & MMU_PTE_XD);
	}
	mmu_pa_t pd = mmu_pa(v & MMU_PTE_ADDR_MASK);
	mmu_pte_t *pd_entries = table_of(mmu, pd);
	pt_cache_set(tree, MMU_LEVEL_PD, pd, pd_entries, va, upper);
	v = pte_load(&pd_entries[mmu_va_index(va, MMU_LEVEL_PD)]);
	if (!path_goes_on(v, MMU_LEVEL_PD))
		return;
	mmu_pa_t pt = mmu_pa(v & MMU_PTE_ADDR_MASK);
	upper = (upper & (v | MMU_PTE_XD)) | (v & MMU_PTE_XD);
	pt_cache_set(tree, MMU_LEVEL_PT, pt, table_of(mmu, pt), va, upper);
}

static void walk_table(struct pt_walk *w, mmu_pa_t table, enum mmu_level level, mmu_vaddr_t va, mmu_vaddr_t last)
{
	struct mmu *mmu = w->mmu;
	mmu_pte_t *entries = table_of(mmu, table);
	w->table[level] = table;
	if (level <= MMU_CACHED_LEVELS)
		pt_cache_fill(w, level, table, entries, va);
	if (level == MMU_LEVEL_PT) {
		if (w->visitor->pt_run) {
			unsigned count = (unsigned)((last - va) >> MMU_PAGE_SHIFT) + 1;
			if (w->visitor->pt_run(w, entries, mmu_va_index(va, level), count, va) == PT_STOP)
				w->stop = true;
			return;
		}
	}
	for (unsigned i = mmu_va_index(va, level);; i++) {
		mmu_vaddr_t e_last = pt_entry_last(va, level, last);
		mmu_pte_t *e = &entries[i];
		enum pt_step step = w->visitor->entry(w, level, e, va, e_last);
		if (step == PT_STOP)
			w->stop = true;
		if (step == PT_DESCEND) {
			mmu_pa_t next;
			mmu_err_t err = mmu_pte_next_table(pte_load(e), level, &next);
			MMU_ASSERT(mmu, err == MMU_OK, "walk: descend at level %u va %lx into entry %lx", level,
				   (unsigned long)va, (unsigned long)pte_load(e));
			w->path[level] = pte_load(e);
			walk_table(w, next, level - 1, va, e_last);
			if (w->visitor->leave)
				w->visitor->leave(w, level, e, va, e_last);
		}
		if (w->stop || e_last == last)
			return;
		va = e_last + 1;
	}
}

void pt_walk_range(struct pt_walk *w, mmu_vaddr_t va, mmu_vaddr_t last)
{
	/* The public calls refuse a destroyed tree; getting here means one
	 * was destroyed while a call on it waited for its lock. */
	MMU_ASSERT(w->mmu, !w->tree->dead, "pt_walk_range: tree %lx was destroyed (walk of %lx..%lx)",
		   (unsigned long)(uintptr_t)w->tree, (unsigned long)va, (unsigned long)last);
	w->stop = false;
	walk_table(w, w->root, mmu_top_level(w->mmu), va, last);
}

void pt_add_live(struct pt_walk *w, enum mmu_level level, int delta)
{
	struct mmu_frame_meta *meta = pt_table_meta(w, level);
	int live = (int)meta->live + delta;
	MMU_ASSERT(w->mmu, live >= 0 && live <= (int)MMU_ENTRIES_PER_TABLE, "pt_add_live: live %u%+d at level %u",
		   meta->live, delta, level);
	meta->live = (uint16_t)live;
}

void pt_set_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t value)
{
	table_set_entry(w->tree, pt_table_meta(w, level), level, e, value);
}

void pt_update_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, uint64_t clear, uint64_t set)
{
	mmu_pte_t old = pte_load(e);
	MMU_ASSERT(w->mmu, mmu_pte_present(old) && mmu_pte_is_leaf(old, level),
		   "pt_update_leaf: level %u entry %lx is not a leaf", level, (unsigned long)old);
	pte_rewrite_bits(e, clear, set, tree_idle(w->tree));
}

static bool walk_in_user_half(const struct pt_walk *w) { return !w->tree->is_kernel; }

mmu_pa_t pt_install_table(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e)
{
	MMU_ASSERT(w->mmu, pte_load(e) == 0, "pt_install_table: level %u entry %lx is not empty", level,
		   (unsigned long)pte_load(e));
	mmu_pa_t pa = table_pool_take(w->mmu, &w->pool);
	pt_set_entry(w, level, e, pa.bits | table_entry_flags(walk_in_user_half(w)));
	return pa;
}

void pt_split_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t leaf_va)
{
	struct mmu *mmu = w->mmu;
	mmu_pte_t leaf = pte_load(e);
	MMU_ASSERT(mmu, level > MMU_LEVEL_PT && mmu_pte_present(leaf) && mmu_pte_is_leaf(leaf, level),
		   "pt_split_leaf: level %u entry %lx is not a huge leaf", level, (unsigned long)leaf);
	enum mmu_level child = level - 1;
	uint64_t addr = leaf & mmu_pte_addr_mask(leaf, level);
	uint64_t flags = mmu_pte_leaf_flags_for(mmu_pte_flags(leaf, level), level, child);
	mmu_pa_t table = table_pool_take(mmu, &w->pool);
	mmu_pte_t *entries = table_of(mmu, table);
	for (unsigned i = 0; i < MMU_ENTRIES_PER_TABLE; i++)
		entries[i] = (addr + ((uint64_t)i << mmu_level_shift(child))) | flags;
	port_meta(mmu, table)->live = MMU_ENTRIES_PER_TABLE;
	pt_cache_drop_below(w->tree, level);
	pte_store(e, table.bits | table_entry_flags(walk_in_user_half(w)));
	/* The page size changes: the SDM asks for the old entry to go even
	 * where the translation stays the same (a protect that changes no bit
	 * of the page still splits it). */
	mmu_tlb_batch_add(w->batch, leaf_va, mmu_level_shift(level), 1, (leaf & MMU_PTE_G) != 0);
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

bool pt_try_promote(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va)
{
	mmu_pa_t table;
	enum mmu_level top_leaf = w->mmu->page_1g ? MMU_LEVEL_PDPT : MMU_LEVEL_PD;
	if (level > top_leaf || mmu_pte_next_table(pte_load(e), level, &table) != MMU_OK)
		return false;
	struct mmu_frame_meta *meta = port_meta(w->mmu, table);
	if (meta->live != MMU_ENTRIES_PER_TABLE || (meta->flags & META_PINNED))
		return false;
	mmu_pte_t leaf = promoted_leaf(table_of(w->mmu, table), level - 1);
	if (!leaf)
		return false;
	va &= ~(mmu_level_span(level) - 1);
	pt_set_entry(w, level, e, leaf);
	/* The page size changes: the small translations must go before the
	 * table that held them is reused. */
	mmu_tlb_batch_add(w->batch, va, mmu_level_shift(level - 1), MMU_ENTRIES_PER_TABLE, (leaf & MMU_PTE_G) != 0);
	mmu_tlb_batch_defer_free(w->batch, MMU_FRAME_TABLE, MMU_SIZE_4K, table);
	atomic_fetch_add_explicit(&w->mmu->promotions, 1, memory_order_relaxed);
	return true;
}

void pt_release_table(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e)
{
	mmu_pa_t table;
	mmu_err_t err = mmu_pte_next_table(pte_load(e), level, &table);
	MMU_ASSERT(w->mmu, err == MMU_OK, "pt_release_table: level %u entry %lx is not a table", level,
		   (unsigned long)pte_load(e));
	pt_set_entry(w, level, e, 0);
	mmu_tlb_batch_defer_free(w->batch, MMU_FRAME_TABLE, MMU_SIZE_4K, table);
}

unsigned pt_effective_prot(const struct pt_walk *w, enum mmu_level level, mmu_pte_t leaf)
{
	mmu_pte_t all_and = leaf, any_xd = leaf & MMU_PTE_XD;
	for (unsigned l = level + 1; l <= (unsigned)mmu_top_level(w->mmu); l++) {
		all_and &= w->path[l];
		any_xd |= w->path[l] & MMU_PTE_XD;
	}
	return prot_of_bits(w->mmu, all_and, any_xd);
}
