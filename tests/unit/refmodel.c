/* SPDX-License-Identifier: MIT */
/* The reference model of the property test: see refmodel.h. */
#include "refmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool in_arena(const struct model *m, mmu_vaddr_t va) { return va - m->base < ARENA; }

struct mleaf model_lookup(const struct model *m, mmu_vaddr_t va)
{
	struct mleaf l = {0};
	if (!in_arena(m, va))
		return l;
	uint64_t off = va - m->base;
	const struct mblock *b = &m->b[off / SZ_2M];
	uint64_t in = off % SZ_2M;
	switch (b->kind) {
	case B_SMALL: {
		const struct mpage *p = &b->pages[in / PAGE];
		if (p->present)
			l = (struct mleaf){true, p->pa + in % PAGE, MMU_SIZE_4K, p->prot, p->attr};
		break;
	}
	case B_2M:
		l = (struct mleaf){true, b->pa + in, MMU_SIZE_2M, b->prot, b->attr};
		break;
	case B_1G:
		l = (struct mleaf){true, b->pa + in, MMU_SIZE_1G, b->prot, b->attr};
		break;
	}
	return l;
}

/* Anything mapped in [va, va+len) (inside the arena)? */
bool model_any(const struct model *m, mmu_vaddr_t va, uint64_t len)
{
	uint64_t x = va - m->base, end = x + len;
	while (x < end) {
		const struct mblock *b = &m->b[x / SZ_2M];
		uint64_t bend = (x / SZ_2M + 1) * SZ_2M, stop = end < bend ? end : bend;
		if (b->kind == B_2M || b->kind == B_1G)
			return true;
		if (b->kind == B_SMALL)
			for (uint64_t p = x; p < stop; p += PAGE)
				if (b->pages[(p % SZ_2M) / PAGE].present)
					return true;
		x = stop;
	}
	return false;
}

bool model_next_leaf(const struct model *m, mmu_vaddr_t *va, mmu_vaddr_t end, struct mleaf *out)
{
	for (mmu_vaddr_t x = *va; x < end;) {
		mmu_vaddr_t block_end = (x | (SZ_2M - 1)) + 1;
		*out = model_lookup(m, x);
		if (out->present) {
			*va = x;
			return true;
		}
		/* An empty rest of the block is passed in one step. */
		x = model_any(m, x, (block_end < end ? block_end : end) - x) ? x + PAGE : block_end;
	}
	return false;
}

static void block_to_small(struct mblock *b)
{
	b->pages = calloc(512, sizeof(*b->pages));
	if (!b->pages) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	if (b->kind == B_2M) {
		for (unsigned i = 0; i < 512; i++)
			b->pages[i] = (struct mpage){b->pa + i * PAGE, b->prot, b->attr, 1};
		b->npresent = 512;
	} else {
		b->npresent = 0;
	}
	b->kind = B_SMALL;
}

static void block_clear(struct mblock *b)
{
	free(b->pages);
	*b = (struct mblock){0};
}

void model_map(struct model *m, mmu_vaddr_t va, uint64_t pa, uint64_t len, unsigned prot, unsigned attr,
	       enum mmu_size forced)
{
	uint64_t x = va - m->base, end = x + len;
	while (x < end) {
		uint64_t p = pa + (x - (va - m->base));
		uint64_t s = forced != MMU_SIZE_ANY ? mmu_size_bytes(forced) : 0;
		if (!s) {
			/* Alignment of the VA itself, not of the arena offset. */
			mmu_vaddr_t v = m->base + x;
			s = PAGE;
			if (v % SZ_1G == 0 && p % SZ_1G == 0 && x + SZ_1G <= end)
				s = SZ_1G;
			else if (v % SZ_2M == 0 && p % SZ_2M == 0 && x + SZ_2M <= end)
				s = SZ_2M;
		}
		struct mblock *b = &m->b[x / SZ_2M];
		if (s == SZ_1G) {
			for (unsigned i = 0; i < 512; i++)
				b[i] = (struct mblock){.kind = B_1G, .prot = (uint8_t)prot, .attr = (uint8_t)attr,
						       .pa = p + i * SZ_2M};
		} else if (s == SZ_2M) {
			*b = (struct mblock){.kind = B_2M, .prot = (uint8_t)prot, .attr = (uint8_t)attr, .pa = p};
		} else {
			if (b->kind == B_EMPTY)
				block_to_small(b);
			struct mpage *pg = &b->pages[(x % SZ_2M) / PAGE];
			*pg = (struct mpage){p, (uint8_t)prot, (uint8_t)attr, 1};
			b->npresent++;
		}
		x += s;
	}
}

/* Unmap (UNMAP) or set PROT on [va, va+len), splitting partly covered huge
 * leaves one level down and further only where needed. */
void model_change(struct model *m, mmu_vaddr_t va, uint64_t len, bool unmap, unsigned prot)
{
	uint64_t x = va - m->base, end = x + len;
	while (x < end) {
		uint64_t bi = x / SZ_2M;
		struct mblock *b = &m->b[bi];
		uint64_t bstart = bi * SZ_2M, bend = bstart + SZ_2M;
		if (b->kind == B_1G) {
			uint64_t rstart = x & ~(SZ_1G - 1), rend = rstart + SZ_1G;
			struct mblock *r = &m->b[rstart / SZ_2M];
			if (x == rstart && end >= rend) {
				for (unsigned i = 0; i < 512; i++) {
					if (unmap)
						r[i] = (struct mblock){0};
					else
						r[i].prot = (uint8_t)prot;
				}
				x = rend;
				continue;
			}
			for (unsigned i = 0; i < 512; i++)
				r[i].kind = B_2M;
		}
		if (b->kind == B_2M) {
			if (x == bstart && end >= bend) {
				if (unmap)
					*b = (struct mblock){0};
				else
					b->prot = (uint8_t)prot;
				x = bend;
				continue;
			}
			block_to_small(b);
		}
		uint64_t stop = end < bend ? end : bend;
		if (b->kind == B_SMALL) {
			for (uint64_t p = x; p < stop; p += PAGE) {
				struct mpage *pg = &b->pages[(p % SZ_2M) / PAGE];
				if (!pg->present)
					continue;
				if (unmap) {
					*pg = (struct mpage){0};
					b->npresent--;
				} else {
					pg->prot = (uint8_t)prot;
				}
			}
			if (b->npresent == 0)
				block_clear(b);
		}
		x = stop;
	}
}

void model_clear(struct model *m)
{
	for (uint64_t i = 0; i < NBLK; i++)
		block_clear(&m->b[i]);
}

/* Tables a tree must hold, from the model's leaves: distinct (level,
 * prefix) for every table level from the leaf's up to MAXL, plus one root. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t model_tables(const struct model *m, unsigned maxl)
{
	static uint64_t keys[NBLK * 5];
	size_t k = 0;
	for (uint64_t i = 0; i < NBLK; i++) {
		const struct mblock *b = &m->b[i];
		unsigned lo = b->kind == B_SMALL ? 1 : b->kind == B_2M ? 2 : 3;
		if (b->kind == B_EMPTY || (b->kind == B_1G && i % 512))
			continue;
		mmu_vaddr_t va = m->base + i * SZ_2M;
		for (unsigned l = lo; l <= maxl; l++)
			keys[k++] = (uint64_t)l << 56 | ((va >> (12 + 9 * l)) & ((1ull << 48) - 1));
	}
	qsort(keys, k, sizeof(*keys), cmp_u64);
	uint64_t n = 1;
	for (size_t i = 0; i < k; i++)
		n += i == 0 || keys[i] != keys[i - 1];
	return n;
}
