/* The port: everything mmu64 needs from the machine it runs on.
 *
 * The library touches hardware only through these hooks. The software
 * machine (sim/) and the test kernel (kernel/) are the two implementations;
 * nothing else differs between them. Every hook is called with the port's
 * CTX. Hooks that act on "this CPU" act on the CPU that calls them. */
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
 *    table is found without scanning 512 entries;
 *  - LINK chains frames on the library's lists (a batch's frames to free
 *    after the shootdown), so freeing needs no memory of its own;
 *  - REFCOUNT counts the mappings of a shared data frame (copy-on-write). */
struct mmu_frame_meta {
	uint64_t link;
	uint32_t refcount;
	uint16_t live;
	uint16_t flags;
};

enum mmu_frame_use {
	MMU_FRAME_TABLE, /* a page-table page (always 4K) */
	MMU_FRAME_DATA,  /* memory mapped by a process space */
};

struct mmu_port_ops {
	/* Write CR3 on this CPU (PCID and no-flush bit 63 included). */
	void (*write_cr3)(void *ctx, uint64_t cr3);
	/* INVLPG on this CPU. */
	void (*invlpg)(void *ctx, mmu_vaddr_t va);
	/* Flush this CPU's TLB: the non-global entries of every PCID (a CR3
	 * reload without PCIDs, INVPCID type 3 with them), or everything when
	 * INCLUDE_GLOBAL (a CR4.PGE toggle or INVPCID type 2). */
	void (*flush_tlb)(void *ctx, bool include_global);
	/* Index of this CPU, 0 .. ncpus-1. */
	unsigned (*cpu_id)(void *ctx);
	/* Interrupt CPU; it must then call mmu_tlb_ipi_handler(). Returns
	 * without waiting for the handler. */
	void (*send_ipi)(void *ctx, unsigned cpu);
	/* Called in every spin loop of the library; the CPU must be able to
	 * take IPIs while it spins (interrupts on, or a poll of the sim). */
	void (*cpu_relax)(void *ctx);
	/* A zeroed, naturally aligned frame of SIZE, or NOMEM. */
	mmu_err_t (*frame_alloc)(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t *out);
	/* A freed table page may still hold entries: an unmap of a whole page
	 * table no CPU runs drops it without clearing it (frame_alloc zeroes). */
	void (*frame_free)(void *ctx, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa);
	/* A pointer through which the library reads and writes frame PA. */
	void *(*phys_to_virt)(void *ctx, mmu_pa_t pa);
	/* The metadata of the 4K frame containing PA. */
	struct mmu_frame_meta *(*frame_meta)(void *ctx, mmu_pa_t pa);
	/* INVPCID on this CPU (types 0-3, SDM). Needed only when the MMU is
	 * configured with invpcid; NULL otherwise. */
	void (*invpcid)(void *ctx, unsigned type, unsigned pcid, mmu_vaddr_t va);
	/* A broken invariant: never returns. MSG names the values involved. */
	void (*panic)(void *ctx, const char *msg);
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
