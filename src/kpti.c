/* SPDX-License-Identifier: MIT */
/* KPTI: the template of the shadows' kernel half, each space's shadow root
 * (user entries mirrored from the space's root), and the audit. See
 * include/mmu64/kpti.h. */
#include "vm_internal.h"

/* ---- the template ---- */

static mmu_err_t kpti_ranges_check(struct mmu *mmu, const struct mmu_kpti_range *r, unsigned n)
{
	if (n > MMU_KPTI_MAX_RANGES)
		return MMU_E_INVALID;
	for (unsigned i = 0; i < n; i++) {
		mmu_err_t err = range_check(mmu_kernel_tree(mmu), r[i].va, r[i].len);
		if (err != MMU_OK)
			return err;
		if (!mmu_is_aligned(r[i].va | r[i].len, MMU_PAGE_SIZE))
			return MMU_E_UNALIGNED;
	}
	for (unsigned i = 0; i < n; i++) {
		struct mmu_translation t;
		for (uint64_t off = 0; off < r[i].len; off += MMU_PAGE_SIZE)
			if (mmu_walk(mmu_kernel_tree(mmu), r[i].va + off, &t) != MMU_OK)
				return MMU_E_NOTEXIST;
	}
	return MMU_OK;
}

/* Copy the kernel's leaf at VA into the template as a 4K leaf without G
 * or US (a global entry would outlive the shadow's CR3). */
static mmu_err_t kpti_copy_page(struct mmu_kpti *k, mmu_vaddr_t va)
{
	struct mmu_translation t;
	mmu_err_t err = mmu_walk(mmu_kernel_tree(k->kernel.mmu), va, &t);
	if (err != MMU_OK)
		return err;
	/* U only on the kernel's user pages (mmu_kernel_map_user), with US on
	 * their path in the template as in the kernel tree. */
	bool user = kernel_user_range(k->kernel.mmu, va, va + (MMU_PAGE_SIZE - 1)) && (t.prot & MMU_PROT_U);
	struct mmu_map_opts opts = {.size = MMU_SIZE_4K};
	err = mmu_map(&k->kernel, va, mmu_pa(t.pa.bits & ~(MMU_PAGE_SIZE - 1)), MMU_PAGE_SIZE,
		      user ? t.prot : t.prot & ~MMU_PROT_U, &opts, NULL);
	if (err == MMU_OK && user)
		kernel_user_paths(&k->kernel, va, MMU_PAGE_SIZE);
	return err;
}

/* ---- no global kernel leaves while KPTI is on ---- */

mmu_err_t mmu_kpti_init(struct mmu *mmu, struct mmu_kpti *k, const struct mmu_kpti_range *ranges, unsigned n)
{
	mmu_err_t err = kpti_ranges_check(mmu, ranges, n);
	if (err != MMU_OK)
		return err;
	mmu_pa_t root;
	err = table_alloc(mmu, false, &root);
	if (err != MMU_OK)
		return err;
	__builtin_memset(k, 0, sizeof *k); /* no 1.3 KiB temporary at -O0 */
	tree_init_template(&k->kernel, mmu, root);
	k->nranges = n;
	for (unsigned i = 0; i < n; i++)
		k->range[i] = ranges[i];
	for (unsigned i = 0; i < n && err == MMU_OK; i++)
		for (uint64_t off = 0; off < ranges[i].len && err == MMU_OK; off += MMU_PAGE_SIZE)
			err = kpti_copy_page(k, ranges[i].va + off);
	if (err != MMU_OK) {
		mmu_kpti_fini(k);
		return err;
	}
	tree_kernel_not_global(mmu);
	return MMU_OK;
}

void mmu_kpti_fini(struct mmu_kpti *k)
{
	/* Shadows that used the template are gone; what a CPU still caches
	 * from them goes with a full flush everywhere. */
	tree_destroy_template(&k->kernel);
}

void mmu_kpti_dump(struct mmu_kpti *k, mmu_vaddr_t start, mmu_vaddr_t end, mmu_line_fn out, void *ctx)
{
	mmu_dump(&k->kernel, start, end, out, ctx);
}

/* ---- shadows ---- */

void vm_kpti_sync(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	if (!sp->kpti)
		return;
	struct mmu *mmu = sp->tree.mmu;
	entry_mirror_slot(mmu, sp->shadow, sp->tree.root, mmu_va_index(va, mmu_top_level(mmu)));
}

void vm_kpti_attach(struct mmu_vm_space *sp, struct mmu_kpti *k, mmu_pa_t shadow)
{
	struct mmu *mmu = sp->tree.mmu;
	table_pin(mmu, shadow);
	entry_fill_shadow(mmu, shadow, sp->tree.root, k->kernel.root);
	sp->shadow = shadow;
	sp->kpti = k;
	/* Before the shadow first runs: from now on invalidations of the
	 * space also owe its user PCID. */
	atomic_store_explicit(&sp->tree.user_pcid, true, memory_order_relaxed);
}

void vm_kpti_detach(struct mmu_vm_space *sp)
{
	sp->kpti = NULL;
	sp->shadow = mmu_pa(0);
}

mmu_err_t mmu_vm_kpti_enable(struct mmu_vm_space *sp, struct mmu_kpti *k)
{
	mmu_pa_t shadow;
	mmu_err_t err = MMU_E_INVALID;
	vm_lock(sp);
	if (!sp->kpti && !sp->tree.dead && k->kernel.mmu == sp->tree.mmu)
		err = table_alloc(sp->tree.mmu, true, &shadow);
	if (err == MMU_OK)
		vm_kpti_attach(sp, k, shadow);
	vm_unlock(sp);
	return err;
}

uint64_t mmu_vm_user_cr3(struct mmu_vm_space *sp)
{
	return sp->kpti ? pcid_shadow_cr3(&sp->tree, sp->shadow) : mmu_tree_cr3(&sp->tree);
}

uint64_t mmu_vm_kernel_cr3(const struct mmu_vm_space *sp) { return pcid_tree_cr3(&sp->tree); }

mmu_err_t mmu_vm_kpti_dump(struct mmu_vm_space *sp, mmu_vaddr_t start, mmu_vaddr_t end, mmu_line_fn out, void *ctx)
{
	vm_lock(sp);
	mmu_err_t err = sp->kpti ? MMU_OK : MMU_E_NOTEXIST;
	if (err == MMU_OK)
		dump_view(&sp->tree, sp->shadow, start, end, out, ctx);
	vm_unlock(sp);
	return err;
}

/* ---- the audit ---- */

struct audit_op {
	const struct mmu_kpti *k;
	mmu_line_fn out;
	void *ctx;
	size_t violations;
};

static void violation(struct audit_op *op, const char *what, mmu_vaddr_t va, unsigned level, mmu_pte_t e)
{
	char line[128];
	op->violations++;
	if (!op->out)
		return;
	mmu_fmt(line, sizeof line, "kpti: %s: va %lx level %u entry %lx", what, (unsigned long)va, level,
		(unsigned long)e);
	op->out(op->ctx, line);
}

static bool allowed(const struct mmu_kpti *k, mmu_vaddr_t va, mmu_vaddr_t last)
{
	for (unsigned i = 0; i < k->nranges; i++)
		if (va >= k->range[i].va && last - k->range[i].va <= k->range[i].len - 1)
			return true;
	return false;
}

static enum pt_step audit_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				mmu_vaddr_t last)
{
	struct audit_op *op = w->op;
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v))
		return PT_NEXT;
	bool leaf_entry = mmu_pte_is_leaf(v, level);
	mmu_vaddr_t leaf = va & ~(mmu_level_span(level) - 1), leaf_last = leaf + (mmu_level_span(level) - 1);
	/* US only on the path to, and on, the kernel's user pages. */
	bool user_ok = leaf_entry ? kernel_user_range(w->mmu, leaf, leaf_last) : kernel_user_overlaps(w->mmu, va, last);
	if ((v & MMU_PTE_US) && !user_ok)
		violation(op, "US in the kernel half", va, level, v);
	if (!leaf_entry)
		return PT_DESCEND;
	if (!allowed(op->k, leaf, leaf + (mmu_level_span(level) - 1)))
		violation(op, "leaf outside the allow-list", leaf, level, v);
	return PT_NEXT;
}

static const struct pt_visitor audit_visitor = {.entry = audit_entry};

size_t mmu_vm_kpti_audit(struct mmu_vm_space *sp, mmu_line_fn out, void *ctx)
{
	struct audit_op op = {.out = out, .ctx = ctx};
	vm_lock(sp);
	if (!sp->kpti) {
		vm_unlock(sp);
		return 0;
	}
	op.k = sp->kpti;
	struct mmu *mmu = sp->tree.mmu;
	const mmu_pte_t *shadow = table_of(mmu, sp->shadow), *user = table_of(mmu, sp->tree.root);
	unsigned shift = mmu_level_shift(mmu_top_level(mmu));
	const mmu_pte_t *tmpl = table_of(mmu, op.k->kernel.root);
	/* A differs where the CPU walked one root and not the other. */
	for (unsigned i = 0; i < MMU_ENTRIES_PER_TABLE / 2; i++)
		if ((pte_load(&shadow[i]) ^ pte_load(&user[i])) & ~MMU_PTE_A)
			violation(&op, "user root entry differs", (mmu_vaddr_t)i << shift, mmu->levels, pte_load(&shadow[i]));
	/* Entry by entry, not only through the leaves below: a kernel-half
	 * slot taken from another tree may hold no leaf yet and still let
	 * the kernel's later mappings in. */
	for (unsigned i = MMU_ENTRIES_PER_TABLE / 2; i < MMU_ENTRIES_PER_TABLE; i++)
		if ((pte_load(&shadow[i]) ^ pte_load(&tmpl[i])) & ~MMU_PTE_A)
			violation(&op, "kernel root entry differs from the template",
				  mmu_va_canonicalize((mmu_vaddr_t)i << shift, mmu->levels), mmu->levels,
				  pte_load(&shadow[i]));
	/* A read-only view of the shadow for the walker (no writes, no lock:
	 * its kernel half is the template's, which never changes). A view, not
	 * a struct mmu_tree on the stack: that is 1.2 KiB. */
	struct pt_walk w;
	pt_walk_view(&w, &sp->tree, sp->shadow, &audit_visitor, &op);
	pt_walk_range(&w, mmu_kernel_first(mmu), ~0ull);
	vm_unlock(sp);
	return op.violations;
}
