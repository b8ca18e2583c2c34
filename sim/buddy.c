/* SPDX-License-Identifier: MIT */
/* The data-frame allocator: a binary buddy allocator over the data pool.
 *
 * Blocks of order k are 4K << k bytes and naturally aligned (the pool
 * starts 1G-aligned, so frame-index alignment is physical alignment).
 * Freeing merges a block with its free buddy until the buddy is busy, so a
 * free aligned 1G is always one order-18 block: a 1G frame can be allocated
 * whenever memory holds one, however 4K frames came and went before.
 *
 * Free lists are doubly linked through struct sim_frame (never through the
 * frames themselves: free frames must stay untouched and zero). The caller
 * holds the physical-memory lock. */
#include "sim/internal.h"

static uint64_t order_frames(unsigned order) { return 1ull << order; }

static void push_block(struct sim_physmem *pm, uint64_t frame, unsigned order)
{
	struct sim_frame *f = &pm->frames[frame];
	uint32_t head = pm->free_head[order];
	f->state = SIM_FRAME_FREE_BLOCK;
	f->order = (uint8_t)order;
	f->prev = SIM_NO_FRAME;
	f->next = head;
	if (head != SIM_NO_FRAME)
		pm->frames[head].prev = (uint32_t)frame;
	pm->free_head[order] = (uint32_t)frame;
}

static void unlink_block(struct sim_physmem *pm, uint64_t frame)
{
	struct sim_frame *f = &pm->frames[frame];
	if (f->prev != SIM_NO_FRAME)
		pm->frames[f->prev].next = f->next;
	else
		pm->free_head[f->order] = f->next;
	if (f->next != SIM_NO_FRAME)
		pm->frames[f->next].prev = f->prev;
	f->state = SIM_FRAME_UNUSED;
	f->next = f->prev = SIM_NO_FRAME;
}

/* The largest order a block at relative frame REL may have in a pool of N
 * frames. */
static unsigned largest_order_at(uint64_t rel, uint64_t n)
{
	unsigned order = SIM_BUDDY_MAX_ORDER;
	while (order > 0 && ((rel & (order_frames(order) - 1)) != 0 || rel + order_frames(order) > n))
		order--;
	return order;
}

void sim_buddy_init(struct sim_physmem *pm)
{
	for (unsigned k = 0; k <= SIM_BUDDY_MAX_ORDER; k++)
		pm->free_head[k] = SIM_NO_FRAME;
	/* Cover the pool with the largest aligned blocks, highest first so that
	 * the lowest block of each order heads its list: allocations then come
	 * from low addresses, which keeps runs reproducible and readable. */
	uint64_t n = pm->data_frames, gigs = n >> SIM_BUDDY_MAX_ORDER;
	for (uint64_t g = gigs; g-- > 0;)
		push_block(pm, pm->data_first + (g << SIM_BUDDY_MAX_ORDER), SIM_BUDDY_MAX_ORDER);
	/* The tail below 1G splits into at most one block per order. */
	uint64_t starts[SIM_BUDDY_MAX_ORDER];
	unsigned orders[SIM_BUDDY_MAX_ORDER], nblocks = 0;
	for (uint64_t rel = gigs << SIM_BUDDY_MAX_ORDER; rel < n; rel += order_frames(orders[nblocks++])) {
		starts[nblocks] = rel;
		orders[nblocks] = largest_order_at(rel, n);
	}
	while (nblocks-- > 0)
		push_block(pm, pm->data_first + starts[nblocks], orders[nblocks]);
}

bool sim_buddy_alloc(struct sim_physmem *pm, unsigned order, uint64_t *frame)
{
	unsigned k = order;
	while (k <= SIM_BUDDY_MAX_ORDER && pm->free_head[k] == SIM_NO_FRAME)
		k++;
	if (k > SIM_BUDDY_MAX_ORDER)
		return false;
	uint64_t block = pm->free_head[k];
	unlink_block(pm, block);
	/* Split: keep the lower half, free the upper half at each step. */
	while (k > order) {
		k--;
		push_block(pm, block + order_frames(k), k);
	}
	pm->frames[block].state = SIM_FRAME_DATA_HEAD;
	pm->frames[block].order = (uint8_t)order;
	*frame = block;
	return true;
}

void sim_buddy_free(struct sim_physmem *pm, uint64_t frame, unsigned order)
{
	uint64_t rel = frame - pm->data_first;
	pm->frames[frame].state = SIM_FRAME_UNUSED;
	while (order < SIM_BUDDY_MAX_ORDER) {
		uint64_t buddy = rel ^ order_frames(order);
		if (buddy + order_frames(order) > pm->data_frames)
			break;
		struct sim_frame *b = &pm->frames[pm->data_first + buddy];
		if (b->state != SIM_FRAME_FREE_BLOCK || b->order != order)
			break;
		unlink_block(pm, pm->data_first + buddy);
		rel &= ~order_frames(order);
		order++;
	}
	push_block(pm, pm->data_first + rel, order);
}
