/* SPDX-License-Identifier: MIT */
/* Dumps in the style of Linux's ptdump: one line per run of virtually
 * contiguous leaves with identical effective attributes. */
#include "internal.h"

/* What makes two leaves print alike. */
struct run_attrs {
	unsigned prot;
	enum mmu_level level;
	bool global;
	uint64_t cache; /* PWT|PCD and PAT bits, normalised to the 4K layout */
	unsigned pkey;
};

struct dump_op {
	mmu_line_fn out;
	void *ctx;
	bool wx_only;
	bool open;
	mmu_vaddr_t start, last;
	struct run_attrs attrs;
	size_t lines;
};

static const char *const level_names[] = {
	[MMU_LEVEL_PT] = "pte", [MMU_LEVEL_PD] = "pd", [MMU_LEVEL_PDPT] = "pdpt",
	[MMU_LEVEL_PML4] = "pml4", [MMU_LEVEL_PML5] = "pml5",
};

/* "4K", "12K", "2M", "1G", "512G", "1T": the largest unit that divides. */
static void format_size(char *buf, size_t n, uint64_t bytes)
{
	static const char units[] = "KMGTPE";
	unsigned u = 0;
	bytes >>= 10;
	while (u + 1 < sizeof(units) - 1 && bytes >= 1024 && bytes % 1024 == 0)
		bytes >>= 10, u++;
	mmu_fmt(buf, n, "%lu%c", (unsigned long)bytes, units[u]);
}

static const char *cache_name(uint64_t cache)
{
	if (cache == (MMU_PTE_PCD | MMU_PTE_PWT))
		return "UC";
	if (cache == MMU_PTE_PWT)
		return "WC";
	return cache ? "C?" : "  ";
}

static void run_emit(struct dump_op *op)
{
	const struct run_attrs *a = &op->attrs;
	bool wx = (a->prot & MMU_PROT_W) && (a->prot & MMU_PROT_X);
	if (!op->open || (op->wx_only && !wx))
		return;
	char size[16], pkey[8] = "", line[160];
	format_size(size, sizeof(size), op->last - op->start + 1);
	if (a->pkey)
		mmu_fmt(pkey, sizeof(pkey), " PK=%u", a->pkey);
	mmu_fmt(line, sizeof(line), "0x%016lx-0x%016lx %9s %s %s %s %s %s %s %s%s",
		(unsigned long)op->start, (unsigned long)op->last + 1, size, (a->prot & MMU_PROT_U) ? "USR" : "   ",
		(a->prot & MMU_PROT_W) ? "RW" : "ro", (a->prot & MMU_PROT_X) ? "x " : "NX", a->global ? "GLB" : "   ",
		a->level > MMU_LEVEL_PT ? "PSE" : "   ", cache_name(a->cache), level_names[a->level], pkey);
	op->out(op->ctx, line);
	op->lines++;
}

static bool attrs_equal(const struct run_attrs *a, const struct run_attrs *b)
{
	return a->prot == b->prot && a->level == b->level && a->global == b->global && a->cache == b->cache &&
	       a->pkey == b->pkey;
}

static void dump_leaf(struct dump_op *op, const struct run_attrs *a, mmu_vaddr_t va, mmu_vaddr_t last)
{
	if (op->open && op->last + 1 == va && attrs_equal(&op->attrs, a)) {
		op->last = last;
		return;
	}
	run_emit(op);
	op->open = true;
	op->start = va;
	op->last = last;
	op->attrs = *a;
}

static enum pt_step dump_present_leaf(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_pte_t v,
				      mmu_vaddr_t va, mmu_vaddr_t last)
{
	(void)e;
	uint64_t flags = mmu_pte_leaf_flags_for(mmu_pte_flags(v, level), level, MMU_LEVEL_PT);
	struct run_attrs a = {
		.prot = entry_prot(w->mmu, entry_path_upper(w, level), v),
		.level = level,
		.global = (v & MMU_PTE_G) != 0,
		.cache = flags & (MMU_PTE_PWT | MMU_PTE_PCD | MMU_PTE_PAT_4K),
		.pkey = (unsigned)((v & MMU_PTE_PK_MASK) >> MMU_PTE_PK_SHIFT),
	};
	/* The walk clips to the range: a huge leaf cut by START/END shows the
	 * part inside. */
	dump_leaf(w->op, &a, va, last);
	return PT_NEXT;
}

static const struct pt_visitor dump_visitor = {.leaf = dump_present_leaf};

static size_t dump_range(struct mmu_tree *tree, mmu_vaddr_t start, mmu_vaddr_t end, struct dump_op *op)
{
	mmu_vaddr_t last = end ? end - 1 : ~0ull;
	unsigned levels = tree->mmu->levels;
	if (start > last || !mmu_va_canonical(start, levels) || !mmu_va_canonical(last, levels) ||
	    mmu_va_is_kernel(start) != mmu_va_is_kernel(last))
		return 0;
	struct mmu_tree *owner = mmu_va_is_kernel(start) ? mmu_kernel_tree(tree->mmu) : tree;
	struct pt_walk w;
	pt_walk_init(&w, tree, &dump_visitor, op);
	tree_lock(owner);
	pt_walk_range(&w, start, last);
	tree_unlock(owner);
	run_emit(op);
	return op->lines;
}

size_t dump_view(struct mmu_tree *tree, mmu_pa_t root, mmu_vaddr_t start, mmu_vaddr_t end, mmu_line_fn out,
		 void *ctx)
{
	struct dump_op op = {.out = out, .ctx = ctx};
	mmu_vaddr_t last = end ? end - 1 : ~0ull;
	unsigned levels = tree->mmu->levels;
	if (start > last || !mmu_va_canonical(start, levels) || !mmu_va_canonical(last, levels) ||
	    mmu_va_is_kernel(start) != mmu_va_is_kernel(last))
		return 0;
	struct pt_walk w;
	pt_walk_view(&w, tree, root, &dump_visitor, &op);
	tree_lock(tree);
	pt_walk_range(&w, start, last);
	tree_unlock(tree);
	run_emit(&op);
	return op.lines;
}

void mmu_dump(struct mmu_tree *tree, mmu_vaddr_t start, mmu_vaddr_t end, mmu_line_fn out, void *ctx)
{
	struct dump_op op = {.out = out, .ctx = ctx};
	dump_range(tree, start, end, &op);
}

size_t mmu_audit_wx(struct mmu_tree *tree, mmu_vaddr_t start, mmu_vaddr_t end, mmu_line_fn out, void *ctx)
{
	struct dump_op op = {.out = out, .ctx = ctx, .wx_only = true};
	return dump_range(tree, start, end, &op);
}
