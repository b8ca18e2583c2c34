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
	if (err == MMU_OK && user) {
		tree_lock(&k->kernel);
		kernel_user_paths(&k->kernel, va, MMU_PAGE_SIZE);
		tree_unlock(&k->kernel);
	}
	return err;
}

/* ---- no global kernel leaves while KPTI is on ---- */

static mmu_vaddr_t kernel_half_start(const struct mmu *mmu)
{
	return mmu_va_canonicalize(1ull << (mmu_va_bits(mmu->levels) - 1), mmu->levels);
}

static enum pt_step drop_global_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				      mmu_vaddr_t last)
{
	(void)last;
	mmu_pte_t v = pte_load(e);
	if (!mmu_pte_present(v))
		return PT_NEXT;
	if (!mmu_pte_is_leaf(v, level))
		return PT_DESCEND;
	if (v & MMU_PTE_G)
		entry_rewrite_leaf(w, level, e, va, MMU_PTE_G, 0, true);
	return PT_NEXT;
}

static const struct pt_visitor drop_global_visitor = {.entry = drop_global_entry};

/* From now on kernel maps drop G (map.c); the leaves made before lose it
 * here, and every CPU drops the global entries it cached of them. */
static void kpti_kernel_not_global(struct mmu *mmu)
{
	struct mmu_tree *kernel = mmu_kernel_tree(mmu);
	struct mmu_tlb_batch batch;
	struct pt_walk w;
	mmu_tlb_batch_init(&batch, kernel);
	pt_walk_init(&w, kernel, &drop_global_visitor, NULL);
	w.batch = &batch;
	tree_lock(kernel);
	mmu->kpti = true;
	pt_walk_range(&w, kernel_half_start(mmu), ~0ull);
	mmu_tlb_flush(&batch);
	mmu_tlb_batch_done(&batch);
	tree_unlock(kernel);
}

mmu_err_t mmu_kpti_init(struct mmu *mmu, struct mmu_kpti *k, const struct mmu_kpti_range *ranges, unsigned n)
{
	mmu_err_t err = kpti_ranges_check(mmu, ranges, n);
	if (err != MMU_OK)
		return err;
	mmu_pa_t root;
	err = table_alloc(mmu, false, &root);
	if (err != MMU_OK)
		return err;
	port_meta(mmu, root)->flags |= META_PINNED;
	__builtin_memset(k, 0, sizeof *k); /* no 1.3 KiB temporary at -O0 */
	k->kernel.mmu = mmu;
	k->kernel.root = root;
	k->kernel.is_kernel = true;
	k->nranges = n;
	atomic_init(&k->kernel.locked, false);
	atomic_init(&k->kernel.active_cpus, 0);
	for (unsigned i = 0; i < n; i++)
		k->range[i] = ranges[i];
	for (unsigned i = 0; i < n && err == MMU_OK; i++)
		for (uint64_t off = 0; off < ranges[i].len && err == MMU_OK; off += MMU_PAGE_SIZE)
			err = kpti_copy_page(k, ranges[i].va + off);
	if (err != MMU_OK) {
		mmu_kpti_fini(k);
		return err;
	}
	kpti_kernel_not_global(mmu);
	return MMU_OK;
}

static enum pt_step release_entry(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va,
				  mmu_vaddr_t last)
{
	(void)w, (void)va, (void)last;
	mmu_pte_t v = pte_load(e);
	return mmu_pte_present(v) && !mmu_pte_is_leaf(v, level) ? PT_DESCEND : PT_NEXT;
}

static void release_leave(struct pt_walk *w, enum mmu_level level, mmu_pte_t *e, mmu_vaddr_t va, mmu_vaddr_t last)
{
	(void)va, (void)last;
	entry_release_table(w, level, e);
}

static const struct pt_visitor release_visitor = {.entry = release_entry, .leave = release_leave};

void mmu_kpti_fini(struct mmu_kpti *k)
{
	struct mmu *mmu = k->kernel.mmu;
	struct mmu_tlb_batch batch;
	struct pt_walk w;
	mmu_tlb_batch_init(&batch, &k->kernel);
	/* Shadows that used the template are gone; what a CPU still caches
	 * from them goes with a full flush everywhere. */
	tlb_batch_want_full(&batch, true, false);
	pt_walk_init(&w, &k->kernel, &release_visitor, NULL);
	w.batch = &batch;
	tree_lock(&k->kernel);
	pt_walk_range(&w, kernel_half_start(mmu), ~0ull);
	mmu_tlb_batch_defer_free(&batch, MMU_FRAME_TABLE, MMU_SIZE_4K, k->kernel.root);
	mmu_tlb_flush(&batch);
	mmu_tlb_batch_done(&batch);
	tree_unlock(&k->kernel);
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
	port_meta(mmu, shadow)->flags |= META_PINNED;
	entry_fill_shadow(mmu, shadow, sp->tree.root, k->kernel.root);
	sp->shadow = shadow;
	sp->kpti = k;
	/* Before the shadow first runs: from now on invalidations of the
	 * space also owe its user PCID. */
	atomic_store_explicit(&sp->tree.user_pcid, true, memory_order_relaxed);
}

void vm_kpti_detach(struct mmu_vm_space *sp, struct mmu_tlb_batch *b)
{
	if (!sp->kpti)
		return;
	mmu_tlb_batch_defer_free(b, MMU_FRAME_TABLE, MMU_SIZE_4K, sp->shadow);
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

/* With PCIDs the space runs under its PCID on this CPU in the kernel, and
 * under that PCID | MMU_PCID_USER on its shadow (Linux's kernel and user
 * ASIDs), both with the no-flush bit unless something is owed. */
static bool runs_under_pcid(const struct mmu_vm_space *sp, unsigned cpu)
{
	return sp->tree.mmu->pcid && mmu_tree_active_on(&sp->tree, cpu);
}

uint64_t mmu_vm_user_cr3(struct mmu_vm_space *sp)
{
	if (!sp->kpti)
		return mmu_tree_cr3(&sp->tree);
	unsigned cpu = port_cpu_id(sp->tree.mmu);
	if (!runs_under_pcid(sp, cpu))
		return sp->shadow.bits;
	struct mmu_tree_pcid *p = &sp->tree.pcid[cpu];
	uint64_t cr3 = sp->shadow.bits | p->pcid | MMU_PCID_USER | (p->user_stale ? 0 : MMU_CR3_NOFLUSH);
	p->user_stale = false;
	return cr3;
}

uint64_t mmu_vm_kernel_cr3(const struct mmu_vm_space *sp)
{
	unsigned cpu = port_cpu_id(sp->tree.mmu);
	if (!runs_under_pcid(sp, cpu))
		return mmu_tree_cr3(&sp->tree);
	return mmu_tree_cr3(&sp->tree) | sp->tree.pcid[cpu].pcid | MMU_CR3_NOFLUSH;
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
	pt_walk_range(&w, kernel_half_start(mmu), ~0ull);
	vm_unlock(sp);
	return op.violations;
}
