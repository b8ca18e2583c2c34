/* SPDX-License-Identifier: MIT */
/* mmu_map: prepare (the map's walk run without committing: check every
 * entry, count the tables needed), allocate them, then commit (the same
 * walk, writing entries; cannot fail). */
#include "internal.h"

struct map_op {
	mmu_vaddr_t last;                      /* last byte of the range */
	uint64_t pa_delta;                     /* pa - va, modulo 2^64 */
	enum mmu_size forced;                  /* MMU_SIZE_ANY or the only leaf size allowed */
	enum mmu_level top_leaf;               /* the largest leaf the CPU has (PDPT: 1G pages) */
	uint64_t leaf_flags[MMU_LEVEL_PDPT + 1]; /* leaf flags per leaf level */
	bool duplicated;
	bool promote;
};

/* With KPTI no kernel leaf is global (Linux's rule): a global entry would
 * survive the switch to a shadow and answer user-mode accesses there. Read
 * under the kernel tree's lock, which mmu_kpti_init holds while it sets
 * mmu->kpti and strips the leaves made before. */
static void map_op_drop_global(struct map_op *op)
{
	for (unsigned l = MMU_LEVEL_PT; l <= MMU_LEVEL_PDPT; l++)
		op->leaf_flags[l] &= ~MMU_PTE_G;
}

static enum pt_step drop_global_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t v,
				     mmu_vaddr_t va, mmu_vaddr_t last)
{
	(void)last;
	if (v & MMU_PTE_G)
		entry_rewrite_leaf(w, level, e, va, MMU_PTE_G, 0, true);
	return PT_NEXT;
}

static const struct pt_visitor drop_global_visitor = {.leaf = drop_global_leaf};

/* From now on kernel maps drop G (map_op_drop_global); the leaves made
 * before lose it here, and every CPU drops the global entries it cached
 * of them. */
void tree_kernel_not_global(struct mmu *mmu)
{
	struct mmu_tree *kernel = mmu_kernel_tree(mmu);
	struct mmu_tlb_batch batch;
	struct pt_walk w;
	mmu_tlb_batch_init(&batch, kernel);
	pt_walk_init(&w, kernel, &drop_global_visitor, NULL);
	w.batch = &batch;
	tree_lock(kernel);
	mmu->kpti = true;
	pt_walk_range(&w, mmu_kernel_first(mmu), ~0ull);
	mmu_tlb_flush(&batch);
	mmu_tlb_batch_done(&batch);
	tree_unlock(kernel);
}

/* Whether a leaf at LEVEL starts at VA: the largest-leaf rule of VECTORS.md
 * (VA and PA aligned to the size, the leaf inside the range), or the forced
 * size. */
static bool leaf_fits(const struct map_op *op, enum mmu_level level, mmu_vaddr_t va)
{
	if (level > op->top_leaf)
		return false;
	if (op->forced != MMU_SIZE_ANY)
		return level == (enum mmu_level)op->forced;
	uint64_t span = mmu_level_span(level);
	return mmu_is_aligned(va, span) && mmu_is_aligned(va + op->pa_delta, span) && va + (span - 1) <= op->last;
}

/* One visitor, run twice: as the prepare run (pt_walk_prepare), which
 * finds DUPLICATED and counts the tables the commit installs, then as the
 * commit, which cannot fail. An entry in use under a would-be leaf maps
 * something inside the range: a table is never left empty. */
static enum pt_step map_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
			      mmu_vaddr_t last)
{
	(void)last;
	struct map_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	bool fits = leaf_fits(op, level, va);
	if ((fits && v) || (mmu_pte_present(v) && mmu_pte_is_leaf(v, level))) {
		op->duplicated = true;
		return PT_STOP;
	}
	if (fits) {
		entry_set_leaf(w, level, e, (va + op->pa_delta) | op->leaf_flags[level]);
		return PT_NEXT;
	}
	if (!mmu_pte_present(v))
		entry_install_table(w, level, e);
	return PT_DESCEND;
}

/* Page-table runs: 4K leaves only, so every position is a leaf. */
static enum pt_step map_run(struct pt_walk *w, mmu_pte_t *entries, unsigned first, unsigned count, mmu_vaddr_t va)
{
	struct map_op *op = w->op;
	if (entry_run_fill(w, entries, first, count, (va + op->pa_delta) | op->leaf_flags[MMU_LEVEL_PT]))
		return PT_NEXT;
	op->duplicated = true;
	return PT_STOP;
}

static void map_leave(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_vaddr_t last)
{
	(void)last;
	if (((struct map_op *)w->op)->promote)
		entry_try_promote(w, level, e, va);
}

static mmu_err_t map_prepared(const struct pt_walk *w)
{
	return ((const struct map_op *)w->op)->duplicated ? MMU_E_DUPLICATED : MMU_OK;
}

static const struct pt_visitor map_visitor = {
	.entry = map_entry, .leave = map_leave, .pt_run = map_run, .prepared = map_prepared};

static const uint64_t cache_bits[] = {
	[MMU_CACHE_WB] = 0,
	[MMU_CACHE_WC] = MMU_PTE_PWT,
	[MMU_CACHE_UC] = MMU_PTE_PCD | MMU_PTE_PWT,
};

static mmu_err_t map_check_opts(const struct mmu_tree *tree, const struct mmu_map_opts *o, unsigned prot)
{
	bool size_ok = o->size == MMU_SIZE_ANY || o->size == MMU_SIZE_4K || o->size == MMU_SIZE_2M ||
		       (o->size == MMU_SIZE_1G && tree->mmu->page_1g);
	if (!size_ok || (unsigned)o->cache > MMU_CACHE_UC || o->pkey > 15)
		return MMU_E_INVALID;
	/* A process space's tree takes 2M leaves only from its fault handler
	 * (pt_map_2m), with a data frame's references behind them. */
	if (tree->process && (o->promote || (o->size != MMU_SIZE_ANY && o->size != MMU_SIZE_4K)))
		return MMU_E_INVALID;
	return prot_check(prot);
}

static mmu_err_t map_check(const struct mmu_tree *tree, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
			   const struct mmu_map_opts *o)
{
	mmu_err_t err = range_check(tree, va, len);
	if (err == MMU_OK)
		err = map_check_opts(tree, o, prot);
	/* A range wrapping or reaching MAXPHYADDR (reserved bits in a leaf). */
	if (err == MMU_OK && (pa.bits + (len - 1) < pa.bits || ((pa.bits + (len - 1)) & tree->mmu->pa_reserved)))
		err = MMU_E_INVALID;
	if (err != MMU_OK)
		return err;
	uint64_t align = o->size == MMU_SIZE_ANY ? MMU_PAGE_SIZE : mmu_size_bytes(o->size);
	if (!mmu_is_aligned(va, align) || !mmu_is_aligned(pa.bits, align) || !mmu_is_aligned(len, align))
		return MMU_E_UNALIGNED;
	if (!(prot & MMU_PROT_R))
		return MMU_E_INVALID_PERMISSION;
	return MMU_OK;
}

/* The bits a leaf gets for PROT and the options: exactly these, never A/D. */
static uint64_t leaf_flags_4k(const struct mmu *mmu, unsigned prot, const struct mmu_map_opts *o)
{
	uint64_t f = MMU_PTE_P | prot_to_pte(mmu, prot) | cache_bits[o->cache] | ((uint64_t)o->pkey << MMU_PTE_PK_SHIFT);
	if (o->global)
		f |= MMU_PTE_G;
	return f;
}

static void map_op_init(struct map_op *op, const struct mmu *mmu, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len,
			unsigned prot, const struct mmu_map_opts *o)
{
	*op = (struct map_op){.last = va + (len - 1), .pa_delta = pa.bits - va, .forced = o->size};
	op->promote = o->promote;
	op->top_leaf = mmu->page_1g ? MMU_LEVEL_PDPT : MMU_LEVEL_PD;
	uint64_t f = leaf_flags_4k(mmu, prot, o);
	for (enum mmu_level l = MMU_LEVEL_PT; l <= MMU_LEVEL_PDPT; l++)
		op->leaf_flags[l] = mmu_pte_leaf_flags_for(f, MMU_LEVEL_PT, l);
}

/* Prepare, then commit: the same walk of the same visitor. */
static mmu_err_t map_walk(struct mmu_tree *tree, mmu_vaddr_t va, struct map_op *op, struct mmu_tlb_batch *batch)
{
	struct pt_walk w;
	pt_walk_init(&w, tree, &map_visitor, op);
	struct mmu_tlb_batch local;
	if (op->promote)
		w.batch = begin_batch(tree, batch, &local);
	mmu_err_t err = pt_walk_op(&w, va, op->last);
	if (op->promote)
		end_batch(w.batch, &local);
	return err;
}

mmu_err_t pt_map_2m(struct mmu_tree *tree, mmu_vaddr_t va, mmu_pa_t pa, unsigned prot)
{
	const struct mmu_map_opts o = {.size = MMU_SIZE_2M};
	MMU_ASSERT(tree->mmu, tree->process && mmu_is_aligned(va | pa.bits, mmu_size_bytes(MMU_SIZE_2M)),
		   "pt_map_2m: %lx -> %lx in tree %lx", (unsigned long)va, (unsigned long)pa.bits,
		   (unsigned long)tree->root.bits);
	struct map_op op;
	map_op_init(&op, tree->mmu, va, pa, mmu_size_bytes(MMU_SIZE_2M), prot, &o);
	tree_lock(tree);
	mmu_err_t err = tree->dead ? MMU_E_INVALID : map_walk(tree, va, &op, NULL);
	tree_unlock(tree);
	return err;
}

/* Everything but a single page from the table cache (src/page.c). Not-
 * present entries are never cached, so a map owes the TLBs nothing,
 * unless it promotes (the page size changes). */
mmu_err_t map_general(struct mmu_tree *tree, bool held, mmu_vaddr_t va, mmu_pa_t pa, uint64_t len, unsigned prot,
		      const struct mmu_map_opts *opts, struct mmu_tlb_batch *batch)
{
	struct mmu_map_opts o = opts ? *opts : (struct mmu_map_opts){0};
	mmu_err_t err = map_check(tree, va, pa, len, prot, &o);
	if (err != MMU_OK)
		return err;
	if (tree->process)
		o.size = MMU_SIZE_4K; /* the largest leaf there */
	struct map_op op;
	map_op_init(&op, tree->mmu, va, pa, len, prot, &o);
	op_lock(tree, held);
	/* Whether the tree promotes is read under its lock, which
	 * mmu_tree_set_promote takes (a process tree never promotes, so
	 * map_check's refusal of promote there needs only the option). */
	op.promote |= tree->promote;
	if (o.global && !tree->is_kernel)
		tree_note_global(tree);
	if (o.global && tree->is_kernel && tree->mmu->kpti)
		map_op_drop_global(&op);
	err = map_walk(tree, va, &op, batch);
	op_unlock(tree, held);
	return err;
}
