/* SPDX-License-Identifier: MIT */
/* PCIDs: each tree gets a PCID per CPU, so switching trees keeps the TLB.
 *
 * Allocation follows FreeBSD: a CPU hands out PCIDs 1..MMU_PCID_MAX in
 * order; when they run out it starts a new generation, flushes its TLB and
 * starts again at 1, so any number of trees can exist. A tree's PCID on a
 * CPU is valid while its generation is the CPU's.
 *
 * Flushes follow Linux's tlb_gen idea: every flush of a tree bumps its
 * generation and reaches only the CPUs where it is loaded. A CPU that keeps
 * the tree's entries under its PCID without running it (a lazy CPU) is not
 * interrupted: when it loads the tree again it compares the generation it
 * saw with the tree's and loads CR3 without the no-flush bit if it missed
 * one. Only when a batch frees memory are lazy CPUs interrupted too, since
 * their stale entries must be gone before the frames are reused. */
#include "internal.h"

static void pcid_assign(struct mmu *mmu, struct mmu_cpu *c, struct mmu_tree_pcid *p)
{
	if (c->pcid_next == 0 || c->pcid_next > MMU_PCID_MAX) {
		/* Every PCID of the old generation may still have entries. */
		c->pcid_gen++;
		c->pcid_next = 1;
		mmu->port.ops->flush_tlb(mmu->port.ctx, MMU_FLUSH_NON_GLOBAL);
		atomic_fetch_add_explicit(&c->full, 1, memory_order_relaxed);
	}
	p->pcid = c->pcid_next++;
	p->gen = c->pcid_gen;
}

bool pcid_valid_on(const struct mmu_tree *tree, unsigned cpu)
{
	const struct mmu_tree_pcid *p = &tree->pcid[cpu];
	return p->pcid != 0 && p->gen == tree->mmu->cpu[cpu].pcid_gen;
}

/* This CPU holds nothing under TREE's PCID any more: give the PCID up, so
 * later batches that free memory need not interrupt us. */
void pcid_forget(struct mmu_tree *tree, unsigned cpu)
{
	tree->pcid[cpu].gen = 0;
	tree->pcid[cpu].user_stale = false;
	atomic_fetch_and(&tree->pcid_cpus, ~(1ull << cpu));
}

/* Called with CPU's bit already set in TREE's active mask, so a flush that
 * bumps the generation after our read also interrupts us. */
uint64_t pcid_cr3_for_load(struct mmu_tree *tree, unsigned cpu)
{
	struct mmu *mmu = tree->mmu;
	struct mmu_cpu *c = &mmu->cpu[cpu];
	struct mmu_tree_pcid *p = &tree->pcid[cpu];
	bool kept = pcid_valid_on(tree, cpu);
	if (!kept) {
		pcid_assign(mmu, c, p);
		atomic_fetch_or(&tree->pcid_cpus, 1ull << cpu);
	}
	uint64_t gen = atomic_load(&tree->tlb_gen);
	bool current = kept && p->seen == gen;
	p->seen = gen;
	p->user_stale |= !current;
	atomic_fetch_add_explicit(current ? &c->cr3_noflush : &c->cr3_flush, 1, memory_order_relaxed);
	return mmu_tree_cr3(tree) | p->pcid | (current ? MMU_CR3_NOFLUSH : 0);
}

/* Drop every non-global entry of TREE's PCIDs on this CPU, where TREE is
 * not loaded: INVPCID type 1, or without it a CR3 write to that PCID
 * (which flushes it) and back to the running tree with no-flush. A user
 * PCID (KPTI) without INVPCID takes a full flush instead: the CR3 trick
 * would run kernel code under the user PCID and leave kernel translations
 * there, which is what KPTI exists to prevent. */
void pcid_flush_context(struct mmu *mmu, unsigned cpu, struct mmu_tree *tree)
{
	const struct mmu_port_ops *ops = mmu->port.ops;
	unsigned pcid = tree->pcid[cpu].pcid;
	if (mmu->invpcid) {
		ops->invpcid(mmu->port.ctx, 1, pcid, 0);
		if (tree_user_pcid(tree))
			ops->invpcid(mmu->port.ctx, 1, pcid | MMU_PCID_USER, 0);
	} else if (tree_user_pcid(tree)) {
		ops->flush_tlb(mmu->port.ctx, MMU_FLUSH_NON_GLOBAL);
	} else {
		struct mmu_tree *running = atomic_load_explicit(&mmu->cpu[cpu].active, memory_order_relaxed);
		ops->write_cr3(mmu->port.ctx, mmu_tree_cr3(tree) | pcid);
		ops->write_cr3(mmu->port.ctx, mmu_tree_cr3(running) | running->pcid[cpu].pcid | MMU_CR3_NOFLUSH);
	}
	atomic_fetch_add_explicit(&mmu->cpu[cpu].full, 1, memory_order_relaxed);
}

/* With PCIDs the space runs under its PCID on this CPU in the kernel, and
 * under that PCID | MMU_PCID_USER on its shadow (Linux's kernel and user
 * ASIDs), both with the no-flush bit unless something is owed. */
static bool runs_under_pcid(const struct mmu_tree *tree, unsigned cpu)
{
	return tree->mmu->pcid && mmu_tree_active_on(tree, cpu);
}

uint64_t pcid_shadow_cr3(struct mmu_tree *tree, mmu_pa_t shadow)
{
	unsigned cpu = port_cpu_id(tree->mmu);
	if (!runs_under_pcid(tree, cpu))
		return shadow.bits;
	struct mmu_tree_pcid *p = &tree->pcid[cpu];
	uint64_t cr3 = shadow.bits | p->pcid | MMU_PCID_USER | (p->user_stale ? 0 : MMU_CR3_NOFLUSH);
	p->user_stale = false;
	return cr3;
}

uint64_t pcid_tree_cr3(const struct mmu_tree *tree)
{
	unsigned cpu = port_cpu_id(tree->mmu);
	if (!runs_under_pcid(tree, cpu))
		return mmu_tree_cr3(tree);
	return mmu_tree_cr3(tree) | tree->pcid[cpu].pcid | MMU_CR3_NOFLUSH;
}
