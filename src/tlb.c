/* SPDX-License-Identifier: MIT */
/* TLB batches and the cross-CPU shootdown.
 *
 * Protocol: the sender publishes the batch in each target's inbox slot for
 * the sender, interrupts it, and spins until every target acknowledged,
 * taking requests addressed to itself while it spins (so two CPUs that shoot
 * at each other both progress). A target runs the batch's invalidations
 * against its own TLB and acknowledges. Frames queued on the batch are
 * released only after the last acknowledgement. */
#include "internal.h"

/* Field by field: the range array is only read up to nranges, and zeroing
 * it would cost every single-page call more than the call itself. */
void mmu_tlb_batch_init(struct mmu_tlb_batch *b, struct mmu_tree *tree)
{
	b->tree = tree;
	b->nranges = 0;
	b->invlpgs = 0;
	b->full = false;
	b->global = false;
	b->all_cpus = tree->is_kernel;
	b->unmapped = false;
	b->free_head = 0;
	b->nfree = 0;
}

void tlb_invalidate_here(struct mmu *mmu, mmu_vaddr_t va) { mmu->port.ops->invlpg(mmu->port.ctx, va); }

void tlb_batch_want_full(struct mmu_tlb_batch *b, bool global, bool all_cpus)
{
	b->full = true;
	b->global |= global;
	b->all_cpus |= all_cpus;
}

static enum mmu_flush_scope batch_flush_scope(const struct mmu_tlb_batch *b)
{
	return b->global ? MMU_FLUSH_WITH_GLOBAL : MMU_FLUSH_NON_GLOBAL;
}

static bool batch_has_invalidation(const struct mmu_tlb_batch *b) { return b->full || b->nranges > 0; }

bool mmu_tlb_batch_pending(const struct mmu_tlb_batch *b) { return batch_has_invalidation(b) || b->nfree > 0; }

static void batch_go_full(struct mmu_tlb_batch *b)
{
	b->full = true;
	b->nranges = 0;
}

void tlb_batch_add(struct mmu_tlb_batch *b, mmu_vaddr_t va, unsigned shift, uint32_t pages, bool global)
{
	if (global) {
		b->global = true;
		b->all_cpus = true;
	}
	if (b->full)
		return;
	b->invlpgs += pages;
	if (b->invlpgs > b->tree->mmu->flush_ceiling) {
		batch_go_full(b);
		return;
	}
	if (b->nranges > 0) {
		struct mmu_tlb_range *r = &b->range[b->nranges - 1];
		if (r->shift == shift && r->va + ((uint64_t)r->pages << shift) == va) {
			r->pages += pages;
			return;
		}
	}
	if (b->nranges == MMU_TLB_RANGES) {
		batch_go_full(b);
		return;
	}
	b->range[b->nranges++] = (struct mmu_tlb_range){.va = va, .pages = pages, .shift = (uint8_t)shift};
}

void mmu_tlb_batch_defer_free(struct mmu_tlb_batch *b, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa)
{
	struct mmu *mmu = b->tree->mmu;
	struct mmu_frame_meta *meta = port_meta(mmu, pa);
	meta->flags = (uint16_t)((meta->flags & 0xff) | ((((unsigned)use << 2) | (unsigned)size) << META_DEFER_SHIFT));
	meta->link = b->free_head;
	b->free_head = pa.bits;
	b->nfree++;
}

/* With PCIDs, INVLPG reaches only the running PCID: what B owes a CPU
 * depends on what that CPU runs now. Returns true when B was dealt with. */
static bool tlb_apply_pcid(struct mmu *mmu, unsigned cpu, const struct mmu_tlb_batch *b)
{
	struct mmu_cpu *c = &mmu->cpu[cpu];
	if (b->all_cpus) {
		/* Kernel-half or global entries may sit under every PCID. */
		mmu->port.ops->flush_tlb(mmu->port.ctx, batch_flush_scope(b));
		atomic_fetch_add_explicit(&c->full, 1, memory_order_relaxed);
		return true;
	}
	if (mmu_tree_active_on(b->tree, cpu))
		return false;
	if (pcid_valid_on(b->tree, cpu))
		pcid_flush_context(mmu, cpu, b->tree);
	pcid_forget(b->tree, cpu);
	return true;
}

/* The running tree's KPTI shadow runs under its user PCID, which INVLPG
 * (on the kernel PCID, where we are) did not reach. With INVPCID the same
 * pages go now; without it the debt waits for the next exit to user mode
 * (mmu_vm_user_cr3 then flushes the PCID), unless the batch frees memory
 * or removes leaves whose frames may be freed once it returns (by the
 * caller, or by a space sharing them): no TLB may map a frame once it is
 * freed, so then the whole TLB goes. */
static void tlb_apply_user_pcid(struct mmu *mmu, unsigned cpu, const struct mmu_tlb_batch *b)
{
	const struct mmu_port_ops *ops = mmu->port.ops;
	struct mmu_cpu *c = &mmu->cpu[cpu];
	unsigned upcid = b->tree->pcid[cpu].pcid | MMU_PCID_USER;
	if (mmu->invpcid) {
		for (uint32_t i = 0; i < b->nranges; i++)
			for (uint32_t p = 0; p < b->range[i].pages; p++)
				ops->invpcid(mmu->port.ctx, 0, upcid, b->range[i].va + ((uint64_t)p << b->range[i].shift));
	} else if (b->nfree || b->unmapped) {
		ops->flush_tlb(mmu->port.ctx, MMU_FLUSH_NON_GLOBAL);
		atomic_fetch_add_explicit(&c->full, 1, memory_order_relaxed);
	} else {
		b->tree->pcid[cpu].user_stale = true;
	}
}

/* Invalidate what B describes on CPU (the calling CPU). */
void tlb_apply_local(struct mmu *mmu, unsigned cpu, const struct mmu_tlb_batch *b)
{
	const struct mmu_port_ops *ops = mmu->port.ops;
	struct mmu_cpu *c = &mmu->cpu[cpu];
	if (mmu->pcid && tlb_apply_pcid(mmu, cpu, b))
		return;
	if (b->full) {
		/* Every PCID's non-global entries: the user PCID's too. */
		ops->flush_tlb(mmu->port.ctx, batch_flush_scope(b));
		atomic_fetch_add_explicit(&c->full, 1, memory_order_relaxed);
		return;
	}
	for (uint32_t i = 0; i < b->nranges; i++) {
		const struct mmu_tlb_range *r = &b->range[i];
		for (uint32_t p = 0; p < r->pages; p++)
			ops->invlpg(mmu->port.ctx, r->va + ((uint64_t)p << r->shift));
	}
	atomic_fetch_add_explicit(&c->invlpg, b->invlpgs, memory_order_relaxed);
	if (mmu->pcid && tree_user_pcid(b->tree))
		tlb_apply_user_pcid(mmu, cpu, b);
}

/* CPUs whose TLB may hold what B invalidates and must lose it now: where
 * the tree runs, every CPU for the kernel half and global leaves, and with
 * PCIDs the lazy CPUs too when frames may be freed after the flush: tables
 * queued here, or frames whose leaves went (otherwise they catch up
 * through the tree's flush generation when they load it). */
static uint64_t batch_cpus(const struct mmu_tlb_batch *b)
{
	struct mmu *mmu = b->tree->mmu;
	uint64_t all = mmu->ncpus == 64 ? ~0ull : (1ull << mmu->ncpus) - 1;
	if (b->all_cpus)
		return all;
	uint64_t mask = atomic_load(&b->tree->active_cpus);
	if (mmu->pcid && (b->nfree > 0 || b->unmapped))
		mask |= atomic_load(&b->tree->pcid_cpus);
	return mask & all;
}

static unsigned count_bits(uint64_t mask)
{
	unsigned n = 0;
	for (; mask; mask &= mask - 1)
		n++;
	return n;
}

static void shootdown(struct mmu *mmu, const struct mmu_tlb_batch *b, unsigned self, uint64_t targets)
{
	struct mmu_cpu *me = &mmu->cpu[self];
	atomic_store_explicit(&me->pending_acks, count_bits(targets), memory_order_relaxed);
	for (unsigned cpu = 0; cpu < mmu->ncpus; cpu++) {
		if (!((targets >> cpu) & 1))
			continue;
		atomic_store_explicit(&mmu->cpu[cpu].inbox[self], b, memory_order_release);
		mmu->port.ops->send_ipi(mmu->port.ctx, cpu);
		atomic_fetch_add_explicit(&mmu->ipis, 1, memory_order_relaxed);
	}
	while (atomic_load_explicit(&me->pending_acks, memory_order_acquire) != 0) {
		mmu_tlb_ipi_handler(mmu);
		mmu->port.ops->cpu_relax(mmu->port.ctx);
	}
}

static void batch_free_frames(struct mmu *mmu, struct mmu_tlb_batch *b)
{
	while (b->nfree) {
		mmu_pa_t pa = mmu_pa(b->free_head);
		struct mmu_frame_meta *meta = port_meta(mmu, pa);
		unsigned what = meta->flags >> META_DEFER_SHIFT;
		enum mmu_frame_use use = (enum mmu_frame_use)(what >> 2);
		b->free_head = meta->link;
		b->nfree--;
		meta->link = 0;
		meta->flags &= 0xff;
		if (use == MMU_FRAME_TABLE)
			table_free_now(mmu, pa);
		else
			mmu->port.ops->frame_free(mmu->port.ctx, use, (enum mmu_size)(what & 3), pa);
	}
}

void mmu_tlb_flush(struct mmu_tlb_batch *b)
{
	struct mmu *mmu = b->tree->mmu;
	if (batch_has_invalidation(b)) {
		/* No fence: the entries changed under the tree lock, which a CPU
		 * takes to join the tree's mask (mmu_tree_load), and the inbox
		 * store below releases them to the targets. */
		if (mmu->pcid)
			atomic_fetch_add(&b->tree->tlb_gen, 1);
		unsigned self = port_cpu_id(mmu);
		uint64_t cpus = batch_cpus(b);
		if ((cpus >> self) & 1)
			tlb_apply_local(mmu, self, b);
		uint64_t targets = cpus & ~(1ull << self);
		if (targets)
			shootdown(mmu, b, self, targets);
	}
	batch_free_frames(mmu, b);
	mmu_tlb_batch_init(b, b->tree);
}

void mmu_tlb_batch_done(struct mmu_tlb_batch *b)
{
	MMU_ASSERT(b->tree->mmu, !mmu_tlb_batch_pending(b),
		   "mmu_tlb_batch_done: batch dropped with %u range(s), full=%u, %u frame(s) to free", b->nranges,
		   (unsigned)b->full, b->nfree);
}

void mmu_tlb_ipi_handler(struct mmu *mmu)
{
	unsigned self = port_cpu_id(mmu);
	struct mmu_cpu *me = &mmu->cpu[self];
	for (unsigned sender = 0; sender < mmu->ncpus; sender++) {
		if (!atomic_load_explicit(&me->inbox[sender], memory_order_relaxed))
			continue;
		const struct mmu_tlb_batch *b = atomic_exchange_explicit(&me->inbox[sender], NULL, memory_order_acquire);
		if (!b)
			continue;
		tlb_apply_local(mmu, self, b);
		atomic_fetch_sub_explicit(&mmu->cpu[sender].pending_acks, 1, memory_order_release);
	}
}
