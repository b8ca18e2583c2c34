/* SPDX-License-Identifier: MIT */
/* Physical memory: see pmem.h. */
#include "kernel/pmem.h"

#include "kernel/bootinfo.h"
#include "kernel/klib.h"
#include "kernel/layout.h"
#include "kernel/spinlock.h"

#define GIB (1ull << 30)
#define LOW_LIMIT GIB
#define PAGE 4096ull
#define MAX_ORDER 18 /* 1G = 4K << 18 */
#define MAX_CHUNKS 64
#define NONE 0xffffffffu
#define FIRMWARE_GUARD (64ull << 20) /* below the top of low RAM */

/* meta->flags of a free buddy block head (the port owns free frames' meta). */
#define META_FREE_BLOCK 0x8000u

extern char __kernel_end[];

static struct {
	struct spinlock lock;
	uint64_t bump, bump_end;
	uint64_t table_free; /* PA of a free table page; the next PA is in its first word */
	uint64_t table_zeroed; /* the same for pages given back all zero, but the link word */
	struct mmu_frame_meta *low_meta;
	/* The data pool: frame REL (a pool index) lives in chunk REL >> 18. */
	uint64_t nframes;
	unsigned nchunks;
	uint64_t chunk_pa[MAX_CHUNKS];
	struct mmu_frame_meta *chunk_meta[MAX_CHUNKS];
	uint64_t *dirty; /* bit per pool frame: handed out since boot, may be non-zero */
	uint32_t free_head[MAX_ORDER + 1];
	uint64_t in_use;
} pm = {.lock = SPINLOCK_INIT};

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

static const struct boot_region *ram_region_of(uint64_t pa)
{
	for (unsigned i = 0; i < boot_info.nregions; i++) {
		const struct boot_region *r = &boot_info.region[i];
		if (r->type == E820_RAM && pa >= r->addr && pa < r->addr + r->size)
			return r;
	}
	return NULL;
}

void pmem_init(void)
{
	pm.bump = align_up((uint64_t)__kernel_end - KERNEL_VMA, PAGE);
	const struct boot_region *r = ram_region_of(pm.bump);
	if (!r)
		kpanic("pmem: no RAM after the kernel image at %lx", pm.bump);
	pm.bump_end = r->addr + r->size < LOW_LIMIT ? r->addr + r->size : LOW_LIMIT;
	if (boot_info.initrd_size && boot_info.initrd_pa >= pm.bump && boot_info.initrd_pa < pm.bump_end)
		pm.bump_end = boot_info.initrd_pa & ~(PAGE - 1);
	pm.bump_end &= ~(PAGE - 1);
	pm.low_meta = phys_to_virt(pmem_boot_alloc(LOW_LIMIT / PAGE * sizeof(struct mmu_frame_meta)));
}

uint64_t pmem_boot_alloc(uint64_t bytes)
{
	bytes = align_up(bytes, PAGE);
	if (pm.bump_end - pm.bump < bytes)
		kpanic("pmem: kernel memory exhausted (%lu bytes wanted)", bytes);
	uint64_t pa = pm.bump;
	pm.bump += bytes;
	memset(phys_to_virt(pa), 0, bytes);
	return pa;
}

/* ---- page-table pages ---- */

/* Unlink the first page of the free list at *HEAD (0: none). */
static uint64_t table_list_pop(uint64_t *head)
{
	uint64_t pa = *head;
	if (pa)
		*head = *(uint64_t *)phys_to_virt(pa);
	return pa;
}

/* Link page PA first on the free list at *HEAD, under the pool's lock. */
static void table_list_push(uint64_t *head, uint64_t pa)
{
	bool on = spin_lock_irqsave(&pm.lock);
	*(uint64_t *)phys_to_virt(pa) = *head;
	*head = pa;
	spin_unlock_irqrestore(&pm.lock, on);
}

mmu_err_t pmem_table_alloc(mmu_pa_t *out)
{
	bool on = spin_lock_irqsave(&pm.lock);
	bool zeroed = true;
	uint64_t pa = table_list_pop(&pm.table_zeroed);
	if (!pa) {
		zeroed = false;
		pa = table_list_pop(&pm.table_free);
	}
	if (!pa && pm.bump_end - pm.bump >= PAGE) {
		pa = pm.bump;
		pm.bump += PAGE;
	}
	spin_unlock_irqrestore(&pm.lock, on);
	if (!pa)
		return MMU_E_NOMEM;
	if (zeroed)
		*(uint64_t *)phys_to_virt(pa) = 0; /* the link */
	else
		memset(phys_to_virt(pa), 0, PAGE);
	pm.low_meta[pa / PAGE] = (struct mmu_frame_meta){0};
	*out = mmu_pa(pa);
	return MMU_OK;
}

void pmem_table_free(mmu_pa_t pa) { table_list_push(&pm.table_free, pa.bits); }

void pmem_table_free_zeroed(mmu_pa_t pa)
{
	/* The library's promise is checked: a page handed out again without
	 * clearing would carry one tree's entries into the next. */
	const uint64_t *word = phys_to_virt(pa.bits);
	for (unsigned i = 0; i < PAGE / sizeof(*word); i++)
		if (word[i])
			kpanic("pmem: table %lx given back as zeroed holds %lx at offset %x", (unsigned long)pa.bits,
			       (unsigned long)word[i], i * (unsigned)sizeof(*word));
	table_list_push(&pm.table_zeroed, pa.bits);
}

/* ---- the data pool ---- */

static uint64_t rel_to_pa(uint64_t rel) { return pm.chunk_pa[rel >> MAX_ORDER] + ((rel & ((1u << MAX_ORDER) - 1)) * PAGE); }

static struct mmu_frame_meta *rel_meta(uint64_t rel)
{
	return &pm.chunk_meta[rel >> MAX_ORDER][rel & ((1u << MAX_ORDER) - 1)];
}

static bool pa_to_rel(uint64_t pa, uint64_t *rel)
{
	for (unsigned c = 0; c < pm.nchunks; c++) {
		if (pa >= pm.chunk_pa[c] && pa < pm.chunk_pa[c] + GIB) {
			*rel = ((uint64_t)c << MAX_ORDER) + (pa - pm.chunk_pa[c]) / PAGE;
			return *rel < pm.nframes;
		}
	}
	return false;
}

/* Where a data chunk may go: inside one RAM region, above the kernel's
 * gigabyte, away from the firmware's top of low memory and the initrd. */
static bool chunk_usable(uint64_t c)
{
	const struct boot_region *r = ram_region_of(c);
	uint64_t fw_top = 0;
	if (c < LOW_LIMIT || !r || c + GIB > r->addr + r->size)
		return false;
	for (unsigned i = 0; i < boot_info.nregions; i++) {
		const struct boot_region *x = &boot_info.region[i];
		uint64_t end = x->addr + x->size;
		if (x->type == E820_RAM && end <= (4ull << 30) && end > fw_top)
			fw_top = end;
	}
	if (c < fw_top && c + GIB > fw_top - FIRMWARE_GUARD)
		return false;
	if (boot_info.initrd_size && c < boot_info.initrd_pa + boot_info.initrd_size && boot_info.initrd_pa < c + GIB)
		return false;
	return true;
}

unsigned pmem_data_chunks_available(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < boot_info.nregions; i++) {
		const struct boot_region *r = &boot_info.region[i];
		for (uint64_t c = align_up(r->addr, GIB); c + GIB <= r->addr + r->size; c += GIB)
			n += chunk_usable(c);
	}
	return n;
}

static void push_block(uint64_t rel, unsigned order)
{
	struct mmu_frame_meta *m = rel_meta(rel);
	uint32_t head = pm.free_head[order];
	m->flags = (uint16_t)(META_FREE_BLOCK | order);
	m->refcount = NONE; /* prev */
	m->link = head;     /* next */
	if (head != NONE)
		rel_meta(head)->refcount = (uint32_t)rel;
	pm.free_head[order] = (uint32_t)rel;
}

static void unlink_block(uint64_t rel)
{
	struct mmu_frame_meta *m = rel_meta(rel);
	unsigned order = m->flags & 0xff;
	uint32_t prev = m->refcount, next = (uint32_t)m->link;
	if (prev != NONE)
		rel_meta(prev)->link = next;
	else
		pm.free_head[order] = next;
	if (next != NONE)
		rel_meta(next)->refcount = prev;
	*m = (struct mmu_frame_meta){0};
}

static unsigned largest_order_at(uint64_t rel, uint64_t n)
{
	unsigned order = MAX_ORDER;
	while (order > 0 && ((rel & ((1ull << order) - 1)) != 0 || rel + (1ull << order) > n))
		order--;
	return order;
}

bool pmem_data_init(uint64_t mem)
{
	pm.nframes = mem / PAGE;
	unsigned want = (unsigned)((pm.nframes + (1u << MAX_ORDER) - 1) >> MAX_ORDER);
	if (want > MAX_CHUNKS)
		return false;
	for (unsigned i = 0; i < boot_info.nregions && pm.nchunks < want; i++) {
		const struct boot_region *r = &boot_info.region[i];
		for (uint64_t c = align_up(r->addr, GIB); c + GIB <= r->addr + r->size && pm.nchunks < want; c += GIB)
			if (chunk_usable(c))
				pm.chunk_pa[pm.nchunks++] = c;
	}
	if (pm.nchunks < want)
		return false;
	for (unsigned c = 0; c < pm.nchunks; c++) {
		uint64_t frames = pm.nframes - ((uint64_t)c << MAX_ORDER);
		if (frames > (1u << MAX_ORDER))
			frames = 1u << MAX_ORDER;
		pm.chunk_meta[c] = phys_to_virt(pmem_boot_alloc(frames * sizeof(struct mmu_frame_meta)));
	}
	pm.dirty = phys_to_virt(pmem_boot_alloc((pm.nframes + 63) / 64 * 8));
	/* As sim_buddy_init: whole gigabytes, then the tail, lowest block of
	 * each order at the head of its list. */
	for (unsigned k = 0; k <= MAX_ORDER; k++)
		pm.free_head[k] = NONE;
	uint64_t gigs = pm.nframes >> MAX_ORDER;
	for (uint64_t g = gigs; g-- > 0;)
		push_block(g << MAX_ORDER, MAX_ORDER);
	uint64_t starts[MAX_ORDER];
	unsigned orders[MAX_ORDER], nblocks = 0;
	for (uint64_t rel = gigs << MAX_ORDER; rel < pm.nframes; rel += 1ull << orders[nblocks++]) {
		starts[nblocks] = rel;
		orders[nblocks] = largest_order_at(rel, pm.nframes);
	}
	while (nblocks-- > 0)
		push_block(starts[nblocks], orders[nblocks]);
	return true;
}

/* Zero the frames of [REL, REL+N) that were handed out before, then mark
 * them all: the new owner may write anywhere. */
static void prepare_frames(uint64_t rel, uint64_t n)
{
	for (uint64_t i = rel; i < rel + n; i++) {
		uint64_t *word = &pm.dirty[i / 64], bit = 1ull << (i % 64);
		if (*word == 0 && i % 64 == 0 && i + 64 <= rel + n) {
			*word = ~0ull; /* 64 clean frames at once */
			i += 63;
			continue;
		}
		if (*word & bit)
			memset(phys_to_virt(rel_to_pa(i)), 0, PAGE);
		*word |= bit;
	}
	memset(rel_meta(rel), 0, n * sizeof(struct mmu_frame_meta));
}

static unsigned size_order(enum mmu_size size) { return (mmu_level_shift((enum mmu_level)size) - 12); }

mmu_err_t pmem_data_alloc(enum mmu_size size, mmu_pa_t *out)
{
	unsigned order = size_order(size), k = order;
	bool on = spin_lock_irqsave(&pm.lock);
	while (k <= MAX_ORDER && pm.free_head[k] == NONE)
		k++;
	if (k > MAX_ORDER) {
		spin_unlock_irqrestore(&pm.lock, on);
		return MMU_E_NOMEM;
	}
	uint64_t block = pm.free_head[k];
	unlink_block(block);
	while (k > order) {
		k--;
		push_block(block + (1ull << k), k);
	}
	pm.in_use++;
	spin_unlock_irqrestore(&pm.lock, on);
	prepare_frames(block, 1ull << order);
	*out = mmu_pa(rel_to_pa(block));
	return MMU_OK;
}

void pmem_data_free(enum mmu_size size, mmu_pa_t pa)
{
	unsigned order = size_order(size);
	uint64_t rel;
	if (!pa_to_rel(pa.bits, &rel))
		kpanic("pmem: freeing %lx, not a data frame", pa.bits);
	bool on = spin_lock_irqsave(&pm.lock);
	while (order < MAX_ORDER) {
		uint64_t buddy = rel ^ (1ull << order);
		if (buddy + (1ull << order) > pm.nframes)
			break;
		struct mmu_frame_meta *b = rel_meta(buddy);
		if (!(b->flags & META_FREE_BLOCK) || (b->flags & 0xff) != order)
			break;
		unlink_block(buddy);
		rel &= ~(1ull << order);
		order++;
	}
	push_block(rel, order);
	pm.in_use--;
	spin_unlock_irqrestore(&pm.lock, on);
}

uint64_t pmem_data_in_use(void) { return pm.in_use; }
uint64_t pmem_data_pool_frames(void) { return pm.nframes; }

struct mmu_frame_meta *pmem_meta(mmu_pa_t pa)
{
	uint64_t rel;
	if (pa.bits < LOW_LIMIT)
		return &pm.low_meta[pa.bits / PAGE];
	if (pa_to_rel(pa.bits, &rel))
		return rel_meta(rel);
	kpanic("pmem: no metadata for %lx", pa.bits);
}
