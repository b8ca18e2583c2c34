/* SPDX-License-Identifier: MIT */
/* The walkers: the range walker that every range operation shares (map,
 * unmap, protect, walk, entry, dump, destroy, fork), and the
 * single-address descents the single-page calls use (src/page.c). They
 * read entries only; the writes are src/entry.c's. */
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
	pt_cache_set(w->tree, level, table, entries, va, entry_path_upper(w, level));
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
	uint64_t upper = ENTRY_UPPER_ALL;
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
		upper = entry_fold(upper, v);
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
	uint64_t upper = ENTRY_UPPER_ALL;
	mmu_pte_t v = tree->root.bits;
	unsigned level = (unsigned)mmu_top_level(mmu);
	for (unsigned shift = mmu_level_shift((enum mmu_level)level); level > MMU_LEVEL_PD;
	     shift -= MMU_INDEX_BITS, level--) {
		v = pte_load(path_entry(mmu, mmu_pa(v & MMU_PTE_ADDR_MASK), va, shift));
		if (!path_goes_on(v, level))
			return;
		upper = entry_fold(upper, v);
	}
	mmu_pa_t pd = mmu_pa(v & MMU_PTE_ADDR_MASK);
	mmu_pte_t *pd_entries = table_of(mmu, pd);
	pt_cache_set(tree, MMU_LEVEL_PD, pd, pd_entries, va, upper);
	v = pte_load(&pd_entries[mmu_va_index(va, MMU_LEVEL_PD)]);
	if (!path_goes_on(v, MMU_LEVEL_PD))
		return;
	mmu_pa_t pt = mmu_pa(v & MMU_PTE_ADDR_MASK);
	upper = entry_fold(upper, v);
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
