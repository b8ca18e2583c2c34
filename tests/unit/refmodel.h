/* SPDX-License-Identifier: MIT */
/* The property test's reference model (test_property.c): per tree, the
 * exact leaves the library must build, kept per 2 MiB block of a 4 GiB
 * arena: the position-by-position largest-leaf rule (or a forced size) for
 * map, and for partial unmap/protect splits that go one level down and
 * deeper only where the range asks for it (docs/VECTORS.md). Written apart from
 * the library, from the rules alone. */
#ifndef MMU64_TEST_REFMODEL_H
#define MMU64_TEST_REFMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu64/mmu64.h"

#define PAGE 0x1000ull
#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull
#define ARENA (4 * SZ_1G)
#define NBLK (ARENA / SZ_2M)

enum bkind { B_EMPTY, B_SMALL, B_2M, B_1G };

/* attr: bit 0 global, bits 1-2 cache type, bits 3-6 pkey */
struct mpage {
	uint64_t pa;
	uint8_t prot, attr, present;
};

struct mblock {
	uint8_t kind, prot, attr;
	uint16_t npresent; /* B_SMALL */
	uint64_t pa;       /* B_2M / B_1G: PA of this 2M block */
	struct mpage *pages;
};

struct model {
	mmu_vaddr_t base;
	bool kernel;
	struct mblock b[NBLK];
};

struct mleaf {
	bool present;
	uint64_t pa; /* of VA */
	enum mmu_size size;
	unsigned prot, attr;
};

bool in_arena(const struct model *m, mmu_vaddr_t va);
struct mleaf model_lookup(const struct model *m, mmu_vaddr_t va);
bool model_any(const struct model *m, mmu_vaddr_t va, uint64_t len);
/* The leaves of [*VA, END) one by one, as mmu_leaves reports them: true
 * with *VA the first address of the next leaf inside the range and OUT
 * that leaf as model_lookup(*VA) gives it, false when none is left. The
 * caller moves *VA past the leaf (model_leaf_end) for the next one. */
bool model_next_leaf(const struct model *m, mmu_vaddr_t *va, mmu_vaddr_t end, struct mleaf *out);
static inline mmu_vaddr_t model_leaf_end(mmu_vaddr_t va, const struct mleaf *l)
{
	return (va | (mmu_size_bytes(l->size) - 1)) + 1;
}
void model_map(struct model *m, mmu_vaddr_t va, uint64_t pa, uint64_t len, unsigned prot, unsigned attr,
	       enum mmu_size forced);
void model_change(struct model *m, mmu_vaddr_t va, uint64_t len, bool unmap, unsigned prot);
void model_clear(struct model *m);
uint64_t model_tables(const struct model *m, unsigned maxl);

#endif
