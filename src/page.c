/* SPDX-License-Identifier: MIT */
/* The entry point of map, walk, unmap and protect. A single 4K or 2M page
 * is handled here: from the table cache (the page table and page
 * directory the walker went through last), else along VA's path from the
 * root, which refills the cache, allocating the tables a map needs and
 * releasing the tables an unmap empties. These are the calls a fault
 * handler and a page-at-a-time loop make, so they skip the general checks
 * and the range walker. Everything else goes to the general paths (map.c,
 * lookup.c, change.c), and so does a single page wherever they must
 * decide: an argument they may refuse, options, a split, a promotion, a
 * kernel-half walk from a user tree. */
#include "internal.h"

/* Each call is written once for a constant LEVEL (PT for a 4K page, PD
 * for a 2M one) and instantiated for both, so that every shift and mask
 * below is a constant: these paths run a few dozen instructions. */
#define PAGE_INLINE static inline __attribute__((always_inline))

/* VA is in TREE's own half: canonical, and its sign is the tree's. */
static inline bool page_in_half(const struct mmu_tree *tree, mmu_vaddr_t va)
{
	unsigned shift = mmu_va_bits(tree->mmu->levels) - 1;
	return (va >> shift) == (-(uint64_t)tree->is_kernel >> shift);
}

/* PROT is valid and readable: the general path reports the others. */
static inline bool page_prot_ok(unsigned prot)
{
	return prot_check(prot) == MMU_OK && (prot & MMU_PROT_R);
}

/* The entry of a leaf or a hole at LEVEL for VA, when its table is cached;
 * NULL when it is not, or when the entry is a table (the page lies below). */
PAGE_INLINE mmu_pte_t *page_entry_cached(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va)
{
	mmu_pte_t *e = pt_cache_lookup(tree, level, va);
	if (!e)
		return NULL;
	mmu_pte_t v = pte_load(e);
	return mmu_pte_present(v) && !mmu_pte_is_leaf(v, level) ? NULL : e;
}

/* The same, on a miss following VA's path from the root into *P (which
 * refills the cache); P->level is 0 when the path was not needed. */
PAGE_INLINE mmu_pte_t *page_entry(struct mmu_tree *tree, enum mmu_level level, mmu_vaddr_t va, struct pt_path *p)
{
	p->level = 0;
	mmu_pte_t *e = page_entry_cached(tree, level, va);
	if (e || tree->dead) /* a destroyed tree: the general path refuses it */
		return e;
	pt_path_find(tree, va, p);
	return page_entry_cached(tree, level, va);
}

/* A map whose page table (or page directory) is missing: VA's path P
 * ends above LEVEL. Allocate the tables between its last entry and LEVEL
 * first (NOMEM changes nothing), then link them top down and write the
 * leaf. */
static __attribute__((noinline)) void map_allocating(struct mmu_tree *tree, struct pt_path *p, enum mmu_level level,
						     mmu_vaddr_t va, mmu_pte_t leaf, mmu_err_t *err)
{
	struct mmu *mmu = tree->mmu;
	MMU_ASSERT(mmu, p->level > level, "map_allocating: va %lx's path reaches level %u, not above %u",
		   (unsigned long)va, p->level, level);
	/* A huge leaf above covers VA. */
	if (pte_load(p->entry[p->level])) {
		*err = MMU_E_DUPLICATED;
		return;
	}
	struct table_pool pool = {0};
	*err = table_pool_fill(mmu, &pool, p->level - level, !tree->is_kernel);
	if (*err == MMU_OK)
		entry_link_path(tree, p, level, va, leaf, &pool);
}

PAGE_INLINE bool map_at(struct mmu_tree *tree, bool held, enum mmu_level level, mmu_vaddr_t va, mmu_pa_t pa,
			unsigned prot, mmu_err_t *err)
{
	uint64_t span = mmu_level_span(level);
	/* PA is aligned to the page: its last byte is below MAXPHYADDR iff
	 * PA is. A process space's tree holds no 2M leaf (map.c). */
	if (tree->promote || (level > MMU_LEVEL_PT && tree->process) || !mmu_is_aligned(va | pa.bits, span) ||
	    !page_in_half(tree, va) || (pa.bits & tree->mmu->pa_reserved) || !page_prot_ok(prot))
		return false;
	mmu_pte_t leaf = pa.bits | MMU_PTE_P | prot_to_pte(tree->mmu, prot) | (level > MMU_LEVEL_PT ? MMU_PTE_PS : 0);
	op_lock(tree, held);
	/* An entry in use, leaf or table, maps something inside the range:
	 * tables are never left empty. */
	mmu_pte_t *e = pt_cache_lookup(tree, level, va);
	struct pt_path p;
	if (!e) {
		/* A destroyed tree has an empty cache, so its calls all come
		 * here; the general path refuses them. */
		if (tree->dead) {
			op_unlock(tree, held);
			return false;
		}
		pt_path_find(tree, va, &p);
		e = pt_cache_lookup(tree, level, va);
	}
	if (e) {
		*err = pte_load(e) ? MMU_E_DUPLICATED : MMU_OK;
		if (*err == MMU_OK)
			entry_write_cached(tree, level, e, leaf);
	} else {
		map_allocating(tree, &p, level, va, leaf, err);
	}
	op_unlock(tree, held);
	return true;
}

mmu_err_t page_map(struct mmu_tree *tree, bool held, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
		   const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch)
{
	mmu_err_t err;
	if (!opts && len == mmu_level_span(MMU_LEVEL_PT) && map_at(tree, held, MMU_LEVEL_PT, va, pa, prot, &err))
		return err;
	if (!opts && len == mmu_level_span(MMU_LEVEL_PD) && map_at(tree, held, MMU_LEVEL_PD, va, pa, prot, &err))
		return err;
	return map_general(tree, held, va, pa, len, prot, opts, batch);
}

/* The translation of present leaf V at LEVEL, UPPER the bits above it. */
PAGE_INLINE void translation_of(const struct mmu *mmu, enum mmu_level level, mmu_vaddr_t va, mmu_pte_t v,
				uint64_t upper, struct mmu_translation *out)
{
	*out = (struct mmu_translation){
		.pa = mmu_pa((v & mmu_pte_addr_mask(v, level)) | (va & (mmu_level_span(level) - 1))),
		.size = (enum mmu_size)level,
		.prot = entry_prot(mmu, upper, v),
		.leaf = v,
	};
}

/* VA's leaf or hole in the cached page table, else in the cached page
 * directory; *LEVEL says which. */
PAGE_INLINE mmu_pte_t *walk_entry_cached(struct mmu_tree *tree, mmu_vaddr_t va, enum mmu_level *level)
{
	*level = MMU_LEVEL_PT;
	mmu_pte_t *e = page_entry_cached(tree, MMU_LEVEL_PT, va);
	if (e)
		return e;
	*level = MMU_LEVEL_PD;
	return page_entry_cached(tree, MMU_LEVEL_PD, va);
}

/* A 4K page, a 2M page or a hole, from the table cache (filled from the
 * root on a miss). */
PAGE_INLINE bool walk_cached(struct mmu_tree *tree, bool held, mmu_vaddr_t va, struct mmu_translation *out,
			     mmu_err_t *err)
{
	if (!page_in_half(tree, va))
		return false;
	op_lock(tree, held);
	enum mmu_level level;
	mmu_pte_t *e = walk_entry_cached(tree, va, &level);
	if (!e && !tree->dead) { /* a destroyed tree: the general path refuses it */
		pt_cache_descend(tree, va);
		e = walk_entry_cached(tree, va, &level);
	}
	mmu_pte_t v = e ? pte_load(e) : 0;
	uint64_t upper = e ? pt_cache(tree, level)->upper : 0;
	op_unlock(tree, held);
	if (!e)
		return false;
	*err = mmu_pte_present(v) ? MMU_OK : MMU_E_NOTEXIST;
	if (*err != MMU_OK)
		return true;
	if (level == MMU_LEVEL_PT)
		translation_of(tree->mmu, MMU_LEVEL_PT, va, v, upper, out);
	else
		translation_of(tree->mmu, MMU_LEVEL_PD, va, v, upper, out);
	return true;
}

mmu_err_t page_walk(struct mmu_tree *tree, bool held, mmu_vaddr_t va, struct mmu_translation *out)
{
	mmu_err_t err;
	if (walk_cached(tree, held, va, out, &err))
		return err;
	return walk_general(tree, held, va, out);
}

/* Unmap (PERM_BITS unused) or protect the page at VA, under the lock. */
PAGE_INLINE bool change_at(struct mmu_tree *tree, bool held, enum mmu_level level, mmu_vaddr_t va, bool unmap,
			   uint64_t perm_bits, struct mmu_tlb_batch *given, mmu_err_t *err)
{
	if (!mmu_is_aligned(va, mmu_level_span(level)) || !page_in_half(tree, va) || (!unmap && tree->promote))
		return false;
	op_lock(tree, held);
	struct pt_path path;
	mmu_pte_t *e = page_entry(tree, level, va, &path);
	if (!e) {
		op_unlock(tree, held);
		return false;
	}
	mmu_pte_t v = pte_load(e);
	*err = mmu_pte_present(v) ? MMU_OK : MMU_E_NOTEXIST;
	mmu_pte_t nv = unmap ? 0 : (v & ~MMU_PTE_PERM_MASK) | perm_bits;
	if (*err == MMU_OK && unmap && pt_cache(tree, level)->meta->live == 1) {
		/* The last leaf of its table: the tables it empties go too. */
		entry_clear_releasing(tree, level, va, v, &path, given);
	} else if (*err == MMU_OK && nv != v) {
		bool idle = tree_idle(tree);
		if (unmap)
			entry_write_cached(tree, level, e, 0);
		else
			entry_rewrite_leaf_bits(e, MMU_PTE_PERM_MASK, perm_bits, idle);
		if (entry_owes(tree, given, v, idle))
			entry_invalidate_page(tree, given, va, level, v, unmap);
	}
	op_unlock(tree, held);
	return true;
}

mmu_err_t page_unmap(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, struct mmu_tlb_batch *batch)
{
	mmu_err_t err;
	if (len == mmu_level_span(MMU_LEVEL_PT) && change_at(tree, held, MMU_LEVEL_PT, va, true, 0, batch, &err))
		return err;
	if (len == mmu_level_span(MMU_LEVEL_PD) && change_at(tree, held, MMU_LEVEL_PD, va, true, 0, batch, &err))
		return err;
	return unmap_general(tree, held, va, len, batch);
}

mmu_err_t page_protect(struct mmu_tree *tree, bool held, mmu_vaddr_t va, uint64_t len, unsigned prot,
		       struct mmu_tlb_batch *batch)
{
	mmu_err_t err;
	uint64_t bits = prot_to_pte(tree->mmu, prot);
	if (page_prot_ok(prot) && len == mmu_level_span(MMU_LEVEL_PT) &&
	    change_at(tree, held, MMU_LEVEL_PT, va, false, bits, batch, &err))
		return err;
	if (page_prot_ok(prot) && len == mmu_level_span(MMU_LEVEL_PD) &&
	    change_at(tree, held, MMU_LEVEL_PD, va, false, bits, batch, &err))
		return err;
	return protect_general(tree, held, va, len, prot, batch);
}
