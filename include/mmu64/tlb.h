/* SPDX-License-Identifier: MIT */
/* TLB batches: what a change to a tree owes the TLBs of every CPU.
 *
 * Every entry write that can leave a stale translation records the page in
 * a batch; frames and table pages taken out of a tree are queued on the
 * batch and released only by mmu_tlb_flush(), after every CPU that may hold
 * them has invalidated. A flush invalidates page by page up to the
 * ceiling (counting one INVLPG per leaf, whatever its size) and flushes the
 * whole TLB above it; it sends one IPI to each other CPU that needs it and
 * waits for all of them.
 *
 *     struct mmu_tlb_batch b;
 *     mmu_tlb_batch_init(&b, tree);
 *     mmu_unmap(tree, va, len, &b);
 *     mmu_unmap(tree, va2, len2, &b);
 *     mmu_tlb_flush(&b);       // one shootdown for both
 *     mmu_tlb_batch_done(&b);  // asserts nothing is pending */
#ifndef MMU64_TLB_H
#define MMU64_TLB_H

#include "mmu.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mmu_tlb_range {
	mmu_vaddr_t va;
	uint32_t pages;
	uint8_t shift;
};

struct mmu_tlb_batch {
	struct mmu_tree *tree;
	uint32_t nranges;
	uint32_t invlpgs;  /* INVLPG one CPU would execute */
	bool full;         /* over the ceiling: flush everything instead */
	bool global;       /* a global leaf changed: a full flush must include globals */
	bool all_cpus;     /* kernel half or global leaves: every CPU, loaded or not */
	/* A leaf was removed or now maps another frame: the old frame may be
	 * freed once the flush returns (by the caller, or by another space
	 * that shares it), so with PCIDs the flush also reaches the CPUs that
	 * keep the tree's entries without running it. */
	bool unmapped;
	struct mmu_tlb_range range[MMU_TLB_RANGES];
	uint64_t free_head; /* PA of the first frame to free, chained by meta link */
	uint32_t nfree;
};

void mmu_tlb_batch_init(struct mmu_tlb_batch *b, struct mmu_tree *tree);

/* Release frame PA (USE, SIZE) once the batch is flushed, through the
 * port's frame_free (it must be a frame frame_alloc gave with that USE and
 * SIZE: the library chains it through its metadata meanwhile). A kernel
 * queues here the frames it unmaps through this batch: the library never
 * frees a frame it did not allocate (include/mmu64/pt.h, "Who owns the
 * frames"). */
void mmu_tlb_batch_defer_free(struct mmu_tlb_batch *b, enum mmu_frame_use use, enum mmu_size size,
			      mmu_pa_t pa);

/* True when the batch holds anything to invalidate or free. */
bool mmu_tlb_batch_pending(const struct mmu_tlb_batch *b);

/* Invalidate on this CPU and on every other CPU that may hold the tree's
 * translations, wait for them (spinning, serving this CPU's own shootdown
 * requests meanwhile), then free the queued frames. The batch is empty
 * afterwards and may be reused. */
void mmu_tlb_flush(struct mmu_tlb_batch *b);

/* The end of a batch's life: asserts that nothing is pending (a batch
 * dropped with work in it is a stale TLB entry nobody will invalidate). */
void mmu_tlb_batch_done(struct mmu_tlb_batch *b);

/* Called by the port on a CPU that received a shootdown IPI (and by the
 * library itself while it waits, so two CPUs shooting at each other cannot
 * deadlock). Runs every request waiting for this CPU. Interrupt-safe: it
 * takes no lock and may interrupt any library call on this CPU; a kernel
 * spin loop with interrupts off may call it too. */
void mmu_tlb_ipi_handler(struct mmu *mmu);

#ifdef __cplusplus
}
#endif

#endif
