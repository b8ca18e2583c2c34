/* SPDX-License-Identifier: MIT */
/* A minimal port for library unit tests, independent of the software
 * machine: an arena of 4K frames with metadata, counters for every hook,
 * allocation-failure injection, and no TLB at all. Tests that need a real
 * MMU use sim/ instead. */
#ifndef MMU64_TEST_FAKE_PORT_H
#define MMU64_TEST_FAKE_PORT_H

#include "mmu64/mmu64.h"

struct fake_port {
	struct mmu_port port;
	unsigned char *arena;
	struct mmu_frame_meta *meta;
	uint64_t frames;      /* arena size in 4K frames */
	uint64_t next;        /* bump allocator */
	uint64_t *free_list;  /* freed frame numbers */
	uint64_t nfree;
	uint64_t in_use;      /* table frames allocated and not freed */
	long fail_after;      /* allocations left before NOMEM; < 0: never */
	uint64_t allocs, cr3_writes, invlpgs, flushes;
	unsigned cpu;
	/* With fake_port_take_zeroed: the table pages given back through
	 * table_free_zeroed (zeroed_frees; each read first, and the bytes
	 * that were not zero counted in zeroed_bad), kept apart and handed
	 * out again without clearing (zeroed_reused). Other frees poison the
	 * page, so only these can come back as they went. */
	uint64_t *zeroed_list;
	uint64_t nzeroed, zeroed_frees, zeroed_bad, zeroed_reused;
};

/* A fake port with FRAMES 4K frames. */
struct fake_port *fake_port_create(uint64_t frames);
void fake_port_destroy(struct fake_port *fp);
/* Set the port's table_free_zeroed hook (before the mmu's init). */
void fake_port_take_zeroed(struct fake_port *fp);
/* An mmu on the fake port; kernel loaded on CPU 0. */
void fake_mmu_init(struct mmu *mmu, struct fake_port *fp, unsigned levels, unsigned ncpus);

#endif
