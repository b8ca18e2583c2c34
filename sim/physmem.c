/* SPDX-License-Identifier: MIT */
/* Physical memory: one arena, physical address p at arena + p.
 *
 * The arena, the frame metadata and the allocator bookkeeping are reserved
 * with MAP_NORESERVE and cost nothing until touched. [0, 1G) is the
 * page-table pool, [1G, 1G + mem) the data pool (see internal.h).
 *
 * Zeroing: a free data frame is always zero. Fresh arena memory reads as
 * zero, a freed 4K frame is cleared, and a freed 2M or 1G frame is
 * released with MADV_DONTNEED, which makes it zero again and gives its
 * memory back; so allocating never memsets, and a 1G frame costs nothing
 * until used. The one way a free frame gets
 * written is an access through a stale translation (a sanitizer report):
 * such frames are noted and released again before they are handed out.
 * Table pages are 4K, handed out lowest first (a bitmap) and cleared on
 * allocation, unless the library gave the page back known to be zero. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim/internal.h"

#define HOST_HUGE (2ull << 20)

/* Spins before a waiter yields: a holder keeps the lock for well under a
 * microsecond (a 4K memset at most) unless it was preempted, or gives a
 * huge frame back to the host, and then spinning on only wastes the core
 * it needs. */
#define SPINS_BEFORE_YIELD 128

static void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Read-only until L looks free (no bus-locked writes while it is held),
 * then the exchange again. */
__attribute__((noinline, cold)) void sim_spin_lock_slow(struct sim_spinlock *l)
{
	unsigned spins = 0;
	do {
		while (atomic_load_explicit(&l->held, memory_order_relaxed)) {
			if (spins++ < SPINS_BEFORE_YIELD)
				cpu_pause();
			else
				sched_yield();
		}
	} while (atomic_exchange_explicit(&l->held, true, memory_order_acquire));
}

/* BYTES of lazily backed memory, 2 MiB aligned so that the host can back
 * it with huge pages (the page-table pool is walked at random: without
 * them each table costs the host a TLB miss). */
static void *reserve(uint64_t bytes)
{
	uint64_t padded = bytes + HOST_HUGE;
	uint8_t *p = mmap(NULL, padded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uint8_t *aligned = (uint8_t *)(((uintptr_t)p + HOST_HUGE - 1) & ~(uintptr_t)(HOST_HUGE - 1));
	if (aligned > p)
		munmap(p, (size_t)(aligned - p));
	size_t tail = (size_t)(p + padded - (aligned + bytes));
	if (tail)
		munmap(aligned + bytes, tail);
	return aligned;
}

bool sim_physmem_init(struct sim_physmem *pm, uint64_t mem)
{
	memset(pm, 0, sizeof(*pm));
	mem &= ~(MMU_PAGE_SIZE - 1);
	pm->arena_bytes = SIM_DATA_BASE + mem;
	pm->nframes = pm->arena_bytes >> MMU_PAGE_SHIFT;
	pm->data_first = SIM_DATA_BASE >> MMU_PAGE_SHIFT;
	pm->data_frames = mem >> MMU_PAGE_SHIFT;
	pm->arena = reserve(pm->arena_bytes);
	pm->meta = reserve(pm->nframes * sizeof(*pm->meta));
	pm->frames = reserve(pm->nframes * sizeof(*pm->frames));
	if (!pm->arena || !pm->meta || !pm->frames) {
		sim_physmem_fini(pm);
		return false;
	}
	/* Advice only: where the host has no transparent huge pages this
	 * fails and nothing changes. */
	(void)madvise(pm->arena, SIM_DATA_BASE, MADV_HUGEPAGE);
	(void)madvise(pm->meta, pm->nframes * sizeof(*pm->meta), MADV_HUGEPAGE);
	atomic_init(&pm->lock.held, false);
	pm->table_used = calloc(SIM_TABLE_FRAMES / 64, sizeof(uint64_t));
	pm->table_ever = calloc(SIM_TABLE_FRAMES / 64, sizeof(uint64_t));
	pm->table_zeroed = calloc(SIM_TABLE_FRAMES / 64, sizeof(uint64_t));
	if (!pm->table_used || !pm->table_ever || !pm->table_zeroed) {
		sim_physmem_fini(pm);
		return false;
	}
	pm->table_used[0] = 1; /* frame 0 is never handed out: PA 0 stays "no frame" */
	for (unsigned u = 0; u < 2; u++)
		pm->inject[u].remaining = -1;
	sim_buddy_init(pm);
	return true;
}

void sim_physmem_fini(struct sim_physmem *pm)
{
	if (pm->arena)
		munmap(pm->arena, pm->arena_bytes);
	if (pm->meta)
		munmap(pm->meta, pm->nframes * sizeof(*pm->meta));
	if (pm->frames)
		munmap(pm->frames, pm->nframes * sizeof(*pm->frames));
	free(pm->table_used);
	free(pm->table_ever);
	free(pm->table_zeroed);
	memset(pm, 0, sizeof(*pm));
}

/* Give [PA, PA+BYTES) back to the host: it reads as zero afterwards. */
static void release_to_zero(void *p, uint64_t bytes)
{
	if (madvise(p, bytes, MADV_DONTNEED) != 0)
		sim_die("madvise(%p, 0x%llx) failed", p, (unsigned long long)bytes);
}

/* Clear the metadata of NFRAMES frames from FRAME: the library expects a
 * frame it receives to start with zero metadata. */
static void clear_meta(struct sim_physmem *pm, uint64_t frame, uint64_t nframes)
{
	uint64_t bytes = nframes * sizeof(*pm->meta);
	void *p = &pm->meta[frame];
	if (bytes >= MMU_PAGE_SIZE && mmu_is_aligned((uintptr_t)p, MMU_PAGE_SIZE) &&
	    mmu_is_aligned(bytes, MMU_PAGE_SIZE))
		release_to_zero(p, bytes);
	else
		memset(p, 0, bytes);
}

/* Zero the 4K frame at P. Said to be page aligned (it is: the arena is),
 * the compiler clears it with 512 aligned 8-byte string stores; not told,
 * GCC aligns the destination itself, which starts the `rep stosq` 8
 * bytes into the page, off the cache line, and the clear is some 7%
 * slower where it is memory-bound (W2's new tables). */
static void zero_frame(uint8_t *p)
{
	memset(__builtin_assume_aligned(p, MMU_PAGE_SIZE), 0, MMU_PAGE_SIZE);
}

static bool table_bit(const uint64_t *bits, uint64_t frame) { return (bits[frame / 64] >> (frame % 64)) & 1; }

/* The lowest free table frame, marked used; *ZEROED: it is known to be
 * all zero. Lowest first keeps a tree's tables close together, in the
 * order it made them (a kernel's page allocator does much the same with
 * a fresh free list). */
static bool take_lowest_table(struct sim_physmem *pm, uint64_t *frame, bool *zeroed)
{
	for (uint64_t w = pm->table_hint; w < SIM_TABLE_FRAMES / 64; w++) {
		uint64_t free_bits = ~pm->table_used[w];
		if (!free_bits)
			continue;
		pm->table_hint = w;
		unsigned bit = (unsigned)__builtin_ctzll(free_bits);
		uint64_t mask = 1ull << bit;
		pm->table_used[w] |= mask;
		pm->table_ever[w] |= mask;
		*zeroed = (pm->table_zeroed[w] & mask) != 0;
		pm->table_zeroed[w] &= ~mask;
		*frame = w * 64 + bit;
		return true;
	}
	pm->table_hint = SIM_TABLE_FRAMES / 64;
	return false;
}

/* Counts the attempt; false when injection says this one fails. PM's lock
 * held: the allocation checks it in the hold it takes anyway. */
static bool injection_allows(struct sim_inject *in)
{
	in->count++;
	bool ok = in->remaining != 0;
	if (in->remaining > 0)
		in->remaining--;
	return ok;
}

mmu_err_t sim_table_alloc(struct sim_physmem *pm, mmu_pa_t *out)
{
	sim_spin_lock(&pm->lock);
	uint64_t frame;
	bool zeroed;
	if (!injection_allows(&pm->inject[MMU_FRAME_TABLE]) || !take_lowest_table(pm, &frame, &zeroed)) {
		sim_spin_unlock(&pm->lock);
		return MMU_E_NOMEM;
	}
	pm->tables_in_use++;
	sim_spin_unlock(&pm->lock);
	if (!zeroed)
		zero_frame(pm->arena + (frame << MMU_PAGE_SHIFT));
	clear_meta(pm, frame, 1);
	*out = mmu_pa(frame << MMU_PAGE_SHIFT);
	return MMU_OK;
}

void sim_table_free(struct sim_physmem *pm, mmu_pa_t pa, bool zeroed)
{
	uint64_t frame = mmu_pa_bits(pa) >> MMU_PAGE_SHIFT;
	sim_spin_lock(&pm->lock);
	if (!mmu_is_aligned(mmu_pa_bits(pa), MMU_PAGE_SIZE) || mmu_pa_bits(pa) >= SIM_TABLE_POOL_BYTES ||
	    !table_bit(pm->table_used, frame))
		sim_die("table free of 0x%llx: not an allocated table page", (unsigned long long)mmu_pa_bits(pa));
	pm->table_used[frame / 64] &= ~(1ull << (frame % 64));
	if (zeroed)
		pm->table_zeroed[frame / 64] |= 1ull << (frame % 64);
	if (frame / 64 < pm->table_hint)
		pm->table_hint = frame / 64;
	pm->tables_in_use--;
	sim_spin_unlock(&pm->lock);
}

/* Frames written while free inside the new block are released again. */
static void rezero_written(struct sim_physmem *pm, uint64_t frame, uint64_t nframes)
{
	for (uint64_t i = frame; i < frame + nframes && pm->written_free > 0; i++) {
		if (!pm->frames[i].written_free)
			continue;
		pm->frames[i].written_free = 0;
		pm->written_free--;
		release_to_zero(pm->arena + (i << MMU_PAGE_SHIFT), MMU_PAGE_SIZE);
	}
}

mmu_err_t sim_data_alloc(struct sim_physmem *pm, enum mmu_size size, mmu_pa_t *out)
{
	unsigned order = mmu_level_shift((enum mmu_level)size) - MMU_PAGE_SHIFT;
	uint64_t frame, nframes = 1ull << order;
	sim_spin_lock(&pm->lock);
	if (!injection_allows(&pm->inject[MMU_FRAME_DATA]) || !sim_buddy_alloc(pm, order, &frame)) {
		sim_spin_unlock(&pm->lock);
		return MMU_E_NOMEM;
	}
	for (uint64_t i = frame; i < frame + nframes; i++)
		pm->frames[i].ever = 1;
	rezero_written(pm, frame, nframes);
	pm->data_in_use++;
	sim_spin_unlock(&pm->lock);
	clear_meta(pm, frame, nframes);
	*out = mmu_pa(frame << MMU_PAGE_SHIFT);
	return MMU_OK;
}

bool sim_data_free(struct sim_physmem *pm, enum mmu_size size, mmu_pa_t pa)
{
	unsigned order = mmu_level_shift((enum mmu_level)size) - MMU_PAGE_SHIFT;
	uint64_t bits = mmu_pa_bits(pa), frame = bits >> MMU_PAGE_SHIFT;
	if (bits < SIM_DATA_BASE || bits >= pm->arena_bytes || !mmu_is_aligned(bits, mmu_size_bytes(size)))
		return false;
	sim_spin_lock(&pm->lock);
	struct sim_frame *f = &pm->frames[frame];
	if (f->state != SIM_FRAME_DATA_HEAD || f->order != order) {
		sim_spin_unlock(&pm->lock);
		return false;
	}
	/* Zero before the frame can be handed out again: a 4K frame with a
	 * memset (a few hundred ns, and it stays backed), a huge one by
	 * giving it back to the host (it reads as zero and costs nothing
	 * until used again). Giving back 4K frames cost a system call on
	 * free and a host page fault on the next use, microseconds that no
	 * kernel pays and that dominated W5's COW faults. */
	if (size == MMU_SIZE_4K)
		zero_frame(pm->arena + bits);
	else
		release_to_zero(pm->arena + bits, mmu_size_bytes(size));
	sim_buddy_free(pm, frame, order);
	pm->data_in_use--;
	sim_spin_unlock(&pm->lock);
	return true;
}

/* The allocated data frame holding FRAME: a head of order 0, 9 or 18 at
 * FRAME's alignment (data frames are only ever 4K, 2M or 1G). */
static bool data_allocated(const struct sim_physmem *pm, uint64_t frame)
{
	static const unsigned orders[] = {0, 9, 18};
	for (unsigned i = 0; i < 3; i++) {
		uint64_t head = frame & ~((1ull << orders[i]) - 1);
		if (head < pm->data_first)
			continue;
		const struct sim_frame *f = &pm->frames[head];
		if (f->state == SIM_FRAME_DATA_HEAD && f->order == orders[i])
			return true;
	}
	return false;
}

enum sim_frame_status sim_frame_status(struct sim_physmem *pm, mmu_pa_t pa)
{
	uint64_t bits = mmu_pa_bits(pa), frame = bits >> MMU_PAGE_SHIFT;
	if (bits >= pm->arena_bytes)
		return SIM_STATUS_OUTSIDE;
	sim_spin_lock(&pm->lock);
	enum sim_frame_status st;
	if (bits < SIM_DATA_BASE)
		st = table_bit(pm->table_used, frame)   ? SIM_STATUS_TABLE
		     : table_bit(pm->table_ever, frame) ? SIM_STATUS_TABLE_FREED
							: SIM_STATUS_NEVER;
	else
		st = data_allocated(pm, frame)   ? SIM_STATUS_DATA
		     : pm->frames[frame].ever ? SIM_STATUS_DATA_FREED
					      : SIM_STATUS_NEVER;
	sim_spin_unlock(&pm->lock);
	return st;
}

void sim_note_written_free(struct sim_physmem *pm, mmu_pa_t pa)
{
	uint64_t frame = mmu_pa_bits(pa) >> MMU_PAGE_SHIFT;
	if (mmu_pa_bits(pa) < SIM_DATA_BASE) {
		/* A table page: allocation clears it again. */
		sim_spin_lock(&pm->lock);
		if (!table_bit(pm->table_used, frame))
			pm->table_zeroed[frame / 64] &= ~(1ull << (frame % 64));
		sim_spin_unlock(&pm->lock);
		return;
	}
	if (mmu_pa_bits(pa) >= pm->arena_bytes)
		return;
	sim_spin_lock(&pm->lock);
	if (!data_allocated(pm, frame) && !pm->frames[frame].written_free) {
		pm->frames[frame].written_free = 1;
		pm->written_free++;
	}
	sim_spin_unlock(&pm->lock);
}
