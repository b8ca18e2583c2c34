/* SPDX-License-Identifier: MIT */
/* Addresses, levels and page sizes.
 *
 * Physical addresses are a struct so that they can never be passed where a
 * virtual address is expected (or the reverse) without saying so. */
#ifndef MMU64_ADDR_H
#define MMU64_ADDR_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	uint64_t bits;
} mmu_pa_t;

typedef uint64_t mmu_vaddr_t;

/* Written without compound literals so that the header is also C++. */
static inline mmu_pa_t mmu_pa(uint64_t bits)
{
	mmu_pa_t pa = {bits};
	return pa;
}
static inline uint64_t mmu_pa_bits(mmu_pa_t pa) { return pa.bits; }
static inline mmu_pa_t mmu_pa_add(mmu_pa_t pa, uint64_t off) { return mmu_pa(pa.bits + off); }

/* Paging-structure levels, numbered as the SDM counts them from the leaf:
 * a PTE lives at level 1, a PML5E at level 5. */
enum mmu_level {
	MMU_LEVEL_PT = 1,
	MMU_LEVEL_PD = 2,
	MMU_LEVEL_PDPT = 3,
	MMU_LEVEL_PML4 = 4,
	MMU_LEVEL_PML5 = 5,
};

/* Leaf sizes. MMU_SIZE_ANY lets map choose the largest that fits. The
 * numeric value of a real size is the level its leaf lives at. */
enum mmu_size {
	MMU_SIZE_ANY = 0,
	MMU_SIZE_4K = MMU_LEVEL_PT,
	MMU_SIZE_2M = MMU_LEVEL_PD,
	MMU_SIZE_1G = MMU_LEVEL_PDPT,
};

#define MMU_PAGE_SHIFT 12
#define MMU_PAGE_SIZE (1ull << MMU_PAGE_SHIFT)
#define MMU_ENTRIES_PER_TABLE 512u
#define MMU_INDEX_BITS 9

/* log2 of the span of one entry at LEVEL: 12 for a PTE, 21 for a PDE... */
static inline unsigned mmu_level_shift(enum mmu_level level)
{
	return MMU_PAGE_SHIFT + MMU_INDEX_BITS * ((unsigned)level - 1);
}

static inline uint64_t mmu_level_span(enum mmu_level level) { return 1ull << mmu_level_shift(level); }

static inline uint64_t mmu_size_bytes(enum mmu_size size)
{
	return mmu_level_span((enum mmu_level)size);
}

static inline unsigned mmu_va_index(mmu_vaddr_t va, enum mmu_level level)
{
	return (unsigned)(va >> mmu_level_shift(level)) & (MMU_ENTRIES_PER_TABLE - 1);
}

/* Number of implemented linear-address bits: 48 with 4 levels, 57 with 5. */
static inline unsigned mmu_va_bits(unsigned levels) { return MMU_PAGE_SHIFT + MMU_INDEX_BITS * levels; }

/* Canonical: bits 63..(va_bits-1) all equal (SDM 4.1.4). */
static inline bool mmu_va_canonical(mmu_vaddr_t va, unsigned levels)
{
	unsigned shift = mmu_va_bits(levels) - 1;
	uint64_t top = va >> shift;
	return top == 0 || top == (~0ull >> shift);
}

/* The kernel half is the upper canonical half (bit 63 set). Only meaningful
 * for canonical addresses. */
static inline bool mmu_va_is_kernel(mmu_vaddr_t va) { return (va >> 63) != 0; }

/* Sign-extend a VA_BITS-wide address, e.g. a table walk position. */
static inline mmu_vaddr_t mmu_va_canonicalize(uint64_t va, unsigned levels)
{
	unsigned unused = 64 - mmu_va_bits(levels);
	return (mmu_vaddr_t)((int64_t)(va << unused) >> unused);
}

static inline bool mmu_is_aligned(uint64_t value, uint64_t align) { return (value & (align - 1)) == 0; }

#ifdef __cplusplus
}
#endif

#endif
