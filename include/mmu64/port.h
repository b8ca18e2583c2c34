/* SPDX-License-Identifier: MIT */
/* The port: everything mmu64 needs from the machine it runs on.
 *
 * The library touches hardware only through these hooks. The software
 * machine (sim/) and the test kernel (kernel/) are the two implementations;
 * nothing else differs between them. Every hook is called with the port's
 * CTX. Hooks that act on "this CPU" act on the CPU that calls them.
 *
 * Calling context (docs/PORTING.md has the whole contract): hooks are
 * called from inside library calls, often with a library spin-lock held
 * (a tree's or a space's) and possibly with interrupts off or from the
 * shootdown IPI handler. So no hook may sleep, schedule, take a lock an
 * interrupted library call on this CPU could hold, or call back into the
 * library; none may migrate the caller to another CPU. */
#ifndef MMU64_PORT_H
#define MMU64_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-frame metadata the port keeps for every 4K frame (like struct page).
 * The library owns the fields while it owns the frame:
 *  - for a page-table page: LIVE counts its non-zero entries, so an emptied
 *    table is found without scanning 512 entries. The count is kept in
 *    four one-byte lanes, an entry counting in the lane its address picks
 *    (bits 3-4: index mod 4), so that a run of single-page calls over
 *    neighbouring entries updates four counters in turn instead of one, and
 *    no call waits for the previous call's store of the same counter;
 *  - LINK chains frames on the library's lists (a batch's frames to free
 *    after the shootdown), so freeing needs no memory of its own;
 *  - REFCOUNT counts the mappings of a shared data frame (copy-on-write).
 * A frame is a table or a data frame, never both: LIVE and REFCOUNT share
 * their bytes. */
struct mmu_frame_meta {
	uint64_t link;
	union {
		uint32_t refcount; /* a data frame */
		uint8_t live[4];   /* a page-table page */
	};
	uint16_t reserved;
	uint16_t flags;
};

enum mmu_frame_use {
	MMU_FRAME_TABLE, /* a page-table page (always 4K) */
	MMU_FRAME_DATA,  /* memory mapped by a process space */
};

/* What flush_tlb drops. */
enum mmu_flush_scope {
	MMU_FLUSH_NON_GLOBAL,  /* the non-global entries of every PCID */
	MMU_FLUSH_WITH_GLOBAL, /* every entry, global ones included */
};

struct mmu_port_ops {
	/* Write CR3 on this CPU (PCID and no-flush bit 63 included). */
	void (*write_cr3)(void *ctx, uint64_t cr3);
	/* INVLPG on this CPU. */
	void (*invlpg)(void *ctx, mmu_vaddr_t va);
	/* Flush this CPU's TLB: MMU_FLUSH_NON_GLOBAL, the non-global entries
	 * of every PCID (a CR3 reload without PCIDs, INVPCID type 3 with
	 * them); MMU_FLUSH_WITH_GLOBAL, everything (a CR4.PGE toggle or
	 * INVPCID type 2). */
	void (*flush_tlb)(void *ctx, enum mmu_flush_scope scope);
	/* Index of this CPU, 0 .. ncpus-1, stable for the CPU's life. Must work
	 * from the CPU's first library call on, before its first
	 * mmu_tree_load (read it from per-CPU data, not from a device only
	 * the library's tree maps). Called on every library call: keep it a
	 * few instructions. */
	unsigned (*cpu_id)(void *ctx);
	/* Interrupt CPU (never this one); its handler must call
	 * mmu_tlb_ipi_handler(). Returns without waiting for the handler. May
	 * be called with interrupts off and spin-locks held. */
	void (*send_ipi)(void *ctx, unsigned cpu);
	/* Called in every spin loop of the library, after the loop served
	 * this CPU's shootdown inbox itself (so waiting needs no interrupt):
	 * a PAUSE. It must leave the interrupt flag as it found it (never
	 * sti: the caller may be inside its own critical section) and must
	 * not sleep or yield. A machine without real CPUs (sim/) may poll
	 * here. */
	void (*cpu_relax)(void *ctx);
	/* A zeroed, naturally aligned frame of SIZE, or NOMEM. Called under
	 * the library's spin-locks, maybe with interrupts off: it must not
	 * sleep, wait for reclaim, or call the library; answer NOMEM instead
	 * (the call then changes nothing and returns MMU_E_NOMEM). TABLE
	 * frames are always 4K; DATA frames are 4K for process spaces. */
	mmu_err_t (*frame_alloc)(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t *out);
	/* Give back a frame frame_alloc returned (same USE and SIZE), once no
	 * TLB can hold it. Same context as frame_alloc: must not sleep. A
	 * freed table page may still hold entries: an unmap of a whole page
	 * table no CPU runs drops it without clearing it, and a destroyed
	 * tree's tables keep theirs (frame_alloc zeroes). A table page known
	 * to be all zero goes to table_free_zeroed instead, where set. */
	void (*frame_free)(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa);
	/* A pointer through which the library reads and writes frame PA (any
	 * frame frame_alloc returned, and every frame it maps for a process
	 * space): the direct map. Must not fault. */
	void *(*phys_to_virt)(void *ctx, mmu_pa_t pa);
	/* The metadata of the 4K frame containing PA: one per 4K frame of
	 * every frame frame_alloc can return, existing before mmu_init (its
	 * first allocation) and at a fixed place for the frame's life. The
	 * library sets the fields when it takes a frame and owns them until
	 * it frees it; the port must not touch them meanwhile. */
	struct mmu_frame_meta *(*frame_meta)(void *ctx, mmu_pa_t pa);
	/* INVPCID on this CPU (types 0-3, SDM). Needed only when the MMU is
	 * configured with invpcid; NULL otherwise. */
	void (*invpcid)(void *ctx, unsigned type, unsigned pcid, mmu_vaddr_t va);
	/* A broken invariant: never returns. MSG names the values involved.
	 * May be called with any lock held and interrupts in any state. */
	void (*panic)(void *ctx, const char *msg);
	/* Optional. Give back the table page PA as frame_free(ctx,
	 * MMU_FRAME_TABLE, MMU_SIZE_4K, pa) does, with the promise that all
	 * its 4,096 bytes are zero: the library cleared its entries one by
	 * one until none was left (an unmap that emptied it) or never wrote
	 * one. A port that keeps such pages apart may hand one out again
	 * without zeroing it, as FreeBSD's allocator does with the page-table
	 * pages its pmap frees marked PG_ZERO: a kernel that unmaps and maps
	 * again then zeroes no table twice. NULL: frame_free gets them. */
	void (*table_free_zeroed)(void *ctx, mmu_pa_t pa);
};

struct mmu_port {
	const struct mmu_port_ops *ops;
	void *ctx;
	/* Optional fast paths for a port whose memory is linear, as most
	 * kernels' direct maps and struct-page arrays are: when set,
	 * phys_to_virt(pa) is DIRECT_MAP + pa and frame_meta(pa) is
	 * &META_MAP[pa >> 12], without a call. NULL: the hooks are used. */
	uint8_t *direct_map;
	struct mmu_frame_meta *meta_map;
};

#ifdef __cplusplus
}
#endif

#endif
