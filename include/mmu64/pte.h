/* SPDX-License-Identifier: MIT */
/* Paging-structure entries of every level (PML5E, PML4E, PDPTE, PDE, PTE).
 *
 * Every architectural bit has a name here; no other file writes a bit
 * number. An entry is a plain 64-bit value; the decoders below know which
 * bits mean what at which level (bit 7 is PS above level 1 and PAT in a
 * PTE; a huge leaf keeps PAT in bit 12 and its address above its size).
 * They read values (from mmu_entry, mmu_translation.leaf, a dump); the
 * library writes the entries of its trees itself. */
#ifndef MMU64_PTE_H
#define MMU64_PTE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t mmu_pte_t;

#define MMU_PTE_P (1ull << 0)        /* present */
#define MMU_PTE_RW (1ull << 1)       /* writable */
#define MMU_PTE_US (1ull << 2)       /* user accessible */
#define MMU_PTE_PWT (1ull << 3)      /* page-level write-through */
#define MMU_PTE_PCD (1ull << 4)      /* page-level cache disable */
#define MMU_PTE_A (1ull << 5)        /* accessed */
#define MMU_PTE_D (1ull << 6)        /* dirty (leaves only) */
#define MMU_PTE_PS (1ull << 7)       /* page size: leaf in a PDPTE or PDE */
#define MMU_PTE_PAT_4K (1ull << 7)   /* PAT index bit in a PTE */
#define MMU_PTE_G (1ull << 8)        /* global (leaves only) */
#define MMU_PTE_SW9 (1ull << 9)      /* ignored by hardware: software use */
#define MMU_PTE_SW10 (1ull << 10)    /* ignored by hardware: software use */
#define MMU_PTE_SW11 (1ull << 11)    /* ignored by hardware: software use */
#define MMU_PTE_PAT_HUGE (1ull << 12) /* PAT index bit in a 2M/1G leaf */
#define MMU_PTE_PK_SHIFT 59
#define MMU_PTE_PK_MASK (0xfull << MMU_PTE_PK_SHIFT) /* protection key */
#define MMU_PTE_XD (1ull << 63)      /* execute disable (EFER.NXE=1) */

/* Bits 51:12, the widest frame address an entry can hold. */
#define MMU_PTE_ADDR_MASK 0x000ffffffffff000ull
#define MMU_PA_MAX_BITS 52

/* The permission bits that range operations rewrite. */
#define MMU_PTE_PERM_MASK (MMU_PTE_RW | MMU_PTE_US | MMU_PTE_XD)

/* True when E at LEVEL maps memory directly (a PTE, or PS in a PDE/PDPTE).
 * Says nothing about P. */
static inline bool mmu_pte_is_leaf(mmu_pte_t e, enum mmu_level level)
{
	if (level == MMU_LEVEL_PT)
		return true;
	return (level == MMU_LEVEL_PD || level == MMU_LEVEL_PDPT) && (e & MMU_PTE_PS);
}

static inline bool mmu_pte_present(mmu_pte_t e) { return (e & MMU_PTE_P) != 0; }

/* The address bits of E at LEVEL: bits 51:12 of a table pointer or PTE,
 * bits 51:21 or 51:30 of a huge leaf (bit 12 there is PAT, not address). */
static inline uint64_t mmu_pte_addr_mask(mmu_pte_t e, enum mmu_level level)
{
	if (level != MMU_LEVEL_PT && mmu_pte_is_leaf(e, level))
		return MMU_PTE_ADDR_MASK & ~(mmu_level_span(level) - 1);
	return MMU_PTE_ADDR_MASK;
}

/* Everything that is not address. */
static inline uint64_t mmu_pte_flags(mmu_pte_t e, enum mmu_level level)
{
	return e & ~mmu_pte_addr_mask(e, level);
}

/* The frame E points to. NOTEXIST when E is not present: a non-present
 * entry holds no frame address (the L1TF rule). */
mmu_err_t mmu_pte_addr(mmu_pte_t e, enum mmu_level level, mmu_pa_t *out);

/* The next-level table E points to: NOTEXIST when E is not present or is a
 * leaf. */
mmu_err_t mmu_pte_next_table(mmu_pte_t e, enum mmu_level level, mmu_pa_t *out);

/* Move the PAT bit between its 4K position (7) and its huge position (12),
 * and set PS or not, as a leaf moving from level FROM to level TO (a split,
 * a promotion) needs. */
static inline uint64_t mmu_pte_leaf_flags_for(uint64_t flags, enum mmu_level from, enum mmu_level to)
{
	uint64_t pat_from = from != MMU_LEVEL_PT ? MMU_PTE_PAT_HUGE : MMU_PTE_PAT_4K;
	uint64_t pat_to = to != MMU_LEVEL_PT ? MMU_PTE_PAT_HUGE : MMU_PTE_PAT_4K;
	bool pat = (flags & pat_from) != 0;
	flags &= ~(pat_from | MMU_PTE_PS);
	if (to != MMU_LEVEL_PT)
		flags |= MMU_PTE_PS;
	return pat ? flags | pat_to : flags;
}

#ifdef __cplusplus
}
#endif

#endif
