/* SPDX-License-Identifier: MIT */
/* The MMU instance: one per machine, holding the port, the paging mode, the
 * kernel tree whose upper half every tree shares, the per-CPU state the
 * shootdown protocol needs, and the counters.
 *
 * The library allocates nothing of its own: the caller provides the storage
 * of every struct (struct mmu, struct mmu_tree, struct mmu_tlb_batch) and
 * frames come through the port. Fields are private to the library; read
 * them through the functions below. */
#ifndef MMU64_MMU_H
#define MMU64_MMU_H

/* The structs hold C11 atomics (in the _Atomic(T) form, which C++ spells
 * std::atomic<T>); C++ has <stdatomic.h> from C++23 on. */
#if defined(__cplusplus) && __cplusplus <= 202002L
#error "mmu64's headers need C++23 in C++ (-std=c++23; g++ 12 or later) for <stdatomic.h>"
#endif

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "err.h"
#include "port.h"
#include "pte.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MMU_MAX_CPUS 64
#define MMU_TLB_CEILING_DEFAULT 33
#define MMU_TLB_RANGES 16
#define MMU_PCID_MAX 2047          /* PCIDs 1..2047 are handed out; 0 is never used */
#define MMU_PCID_USER 2048u        /* a KPTI shadow runs under its space's PCID | this bit */
#define MMU_CR3_NOFLUSH (1ull << 63) /* CR3 bit 63: keep the PCID's entries */

struct mmu;
struct mmu_tlb_batch;

/* A tree's PCID on one CPU (FreeBSD's scheme): valid while GEN equals the
 * CPU's generation; SEEN is the tree's flush generation the CPU's entries
 * for that PCID are known to include (Linux's tlb_gen idea). Only that CPU
 * reads or writes it. */
struct mmu_tree_pcid {
	uint64_t seen;
	uint32_t gen;
	uint16_t pcid;
	/* KPTI: the user PCID (pcid | MMU_PCID_USER) may hold entries an
	 * invalidation on this CPU missed (INVLPG reaches only the current
	 * PCID): the next mmu_vm_user_cr3 on this CPU omits the no-flush bit.
	 * A debt of the (tree, CPU) pair, so switching to other trees before
	 * the exit to user mode does not lose it. */
	bool user_stale;
};

/* The page table (level 1) and page directory (level 2) the walker last
 * went through in a tree's own half: single-page calls (a 4K page, a 2M
 * page) inside them go straight to their entry instead of walking from
 * the root. A table's cache is dropped whenever an entry above it changes. */
#define MMU_CACHED_LEVELS 2
struct mmu_leaf_cache {
	mmu_vaddr_t base;             /* VA the table's first entry maps; 0x201000: nothing cached */
	mmu_pte_t *entries;
	struct mmu_frame_meta *meta;  /* its metadata, which holds the live count; NULL in a page
				       * table a walk cached (the first change finds it) */
	uint64_t upper;               /* the entries above: RW, US and not-XD ANDed */
};

/* A page-table tree. A user tree owns its lower half; its upper half is the
 * kernel tree's (the same PML4/PML5 entries, pointing at tables created once
 * by mmu_init, so a kernel mapping added later is visible in every tree). */
struct mmu_tree {
	struct mmu *mmu;
	mmu_pa_t root;
	bool is_kernel;
	atomic_bool locked;
	/* Private, in what was padding: VA >> half_shift is half_top for
	 * every VA of the tree's own half (0 for a user tree, all ones for
	 * the kernel's) and for no VA once the tree is dead (src/internal.h,
	 * tree_set_half). */
	uint8_t half_shift;
	uint32_t half_top;
	/* Private: where a single-page walk may descend from the root with
	 * no hook and a constant four levels (a 4-level tree of a port with a
	 * direct map and a metadata array), the root's entries and the
	 * port's direct map, and direct_top is half_top; otherwise
	 * direct_top matches no VA (src/internal.h, tree_set_root). Kept in
	 * the tree so that the descent needs no register for the mmu. */
	uint64_t direct_top;
	mmu_pte_t *direct_root;
	uint8_t *direct_map;
	atomic_uint_fast64_t active_cpus; /* bit N: loaded on CPU N */
	atomic_bool has_global;           /* ever held a G leaf in its user half */
	bool promote;                     /* promote full tables after map/protect */
	bool process;                     /* a process space's tree: no promotion, 2M leaves from its faults only */
	bool dead;                        /* destroyed: every later call refuses it */
	bool owes_always;                 /* kernel tree or PCIDs: every leaf change owes the TLBs */
	struct mmu_leaf_cache leaf_cache[MMU_CACHED_LEVELS]; /* [level - 1], guarded by LOCK */
	/* With PCIDs: */
	atomic_bool user_pcid;          /* a KPTI shadow also runs it, under PCID | MMU_PCID_USER */
	atomic_uint_fast64_t tlb_gen;   /* bumped by every flush of this tree */
	atomic_uint_fast64_t pcid_cpus; /* bit N: CPU N may hold entries under our PCID */
	struct mmu_tree_pcid pcid[MMU_MAX_CPUS];
};

struct mmu_cpu {
	_Atomic(struct mmu_tree *) active;
	/* Shootdown requests to this CPU, one slot per sender. */
	_Atomic(const struct mmu_tlb_batch *) inbox[MMU_MAX_CPUS];
	/* Acknowledgements this CPU, as a sender, still waits for. */
	atomic_uint pending_acks;
	atomic_uint_fast64_t invlpg; /* executed on this CPU */
	atomic_uint_fast64_t full;   /* full flushes on this CPU */
	/* With PCIDs: the CPU's PCID generation and next free PCID, and how
	 * CR3 loads went: kept entries (no-flush) or flushed them. */
	uint32_t pcid_gen;
	uint16_t pcid_next;
	atomic_uint_fast64_t cr3_noflush;
	atomic_uint_fast64_t cr3_flush;
};

struct mmu_counters {
	uint64_t invlpg; /* INVLPG executed, every CPU */
	uint64_t full;   /* full flushes, every CPU */
	uint64_t ipis;   /* shootdown IPIs sent */
	uint64_t cr3_noflush; /* PCID loads that kept the TLB (generation current) */
	uint64_t cr3_flush;   /* PCID loads that had to flush the PCID */
	uint64_t promotions;  /* tables of 512 leaves replaced by one huge leaf */
	uint64_t demotions;   /* huge leaves split into a table */
};

struct mmu_config {
	unsigned levels;        /* 4 or 5 */
	unsigned ncpus;         /* 1 .. MMU_MAX_CPUS, exact: CPUs 0..ncpus-1 all answer shootdowns */
	bool nx;                /* EFER.NXE: when false XD is never set */
	unsigned flush_ceiling; /* invlpg per CPU above which a batch flushes all; 0 = default */
	bool pcid;              /* CR4.PCIDE is set on every CPU: trees get PCIDs */
	bool invpcid;           /* the CPU has INVPCID (port hook invpcid) */
	/* Physical address bits (MAXPHYADDR, CPUID 0x80000008 EAX[7:0]),
	 * 32..52; 0 = MMU_MAXPHYADDR_DEFAULT. A map of a physical range
	 * that reaches 2^maxphyaddr is INVALID: its leaves would have
	 * reserved bits set, and every access through them would fault. */
	unsigned maxphyaddr;
	/* The CPU has 1G pages (CPUID 0x80000001 EDX bit 26; QEMU's default
	 * qemu64 model has none). False, the default of a config that does
	 * not name it: MMU_SIZE_ANY never picks a 1G leaf, promotion stops at
	 * 2M, and a forced MMU_SIZE_1G is MMU_E_INVALID (on such a CPU a PS
	 * bit in a PDPTE is a reserved-bit fault). Set it from CPUID. */
	bool page_1g;
};

/* A range of the kernel half mapped for user mode (mmu_kernel_map_user). */
#define MMU_KERNEL_USER_WINDOWS 4
struct mmu_user_window {
	mmu_vaddr_t va;
	uint64_t len;
};

/* The architectural limit: accepts every address a paging entry can hold.
 * A kernel should pass the CPU's value. */
#define MMU_MAXPHYADDR_DEFAULT MMU_PA_MAX_BITS

struct mmu {
	struct mmu_port port;
	unsigned levels;
	unsigned ncpus;
	bool nx;
	unsigned flush_ceiling;
	bool pcid, invpcid;
	bool kpti; /* a KPTI template exists: kernel-half leaves are never global */
	bool port_direct; /* private: the port has a direct map and a metadata array (src/descend.h) */
	uint64_t pa_reserved;  /* physical address bits at or above MAXPHYADDR */
	bool page_1g;
	uint64_t prot_pte[16]; /* the RW, US and XD bits of each MMU_PROT_* combination */
	uint8_t pte_prot[16];  /* the reverse: MMU_PROT_* of !XD | RW << 2 | US << 3 (src/internal.h) */
	struct mmu_tree kernel;
	atomic_int_fast64_t user_tables;   /* table pages of user trees, roots included */
	atomic_int_fast64_t kernel_tables; /* table pages of the kernel half */
	atomic_uint_fast64_t ipis;
	atomic_uint_fast64_t promotions, demotions;
	struct mmu_counters reported;      /* totals at the previous mmu_counters_take */
	struct mmu_user_window user_window[MMU_KERNEL_USER_WINDOWS];
	unsigned nuser_windows;
	/* The fork families' lock (include/mmu64/vm.h, struct mmu_vm_space's
	 * family links): taken before any space lock. */
	atomic_bool vm_family_lock;
	struct mmu_cpu cpu[MMU_MAX_CPUS];
};

/* Build the kernel tree (its root and one table under each upper-half root
 * slot: 257 table frames, pinned until mmu_fini) and record the port.
 * NOMEM leaves nothing allocated; INVALID for a config out of range (levels
 * not 4 or 5, ncpus 0 or above MMU_MAX_CPUS, invpcid without pcid or
 * without the port's hook). The kernel tree maps nothing yet: map the
 * kernel image and the direct map into it, then load it on each CPU
 * (docs/PORTING.md, "Boot order"). */
mmu_err_t mmu_init(struct mmu *mmu, const struct mmu_port *port, const struct mmu_config *cfg);

/* Free the kernel half. Every user tree must be destroyed first and the
 * kernel half must hold no mappings (asserted). */
void mmu_fini(struct mmu *mmu);

static inline struct mmu_tree *mmu_kernel_tree(struct mmu *mmu) { return &mmu->kernel; }

/* Table pages in use by user trees, roots included (the `stats` figure),
 * and by the kernel half (its root and tops included). */
int64_t mmu_user_tables(const struct mmu *mmu);
int64_t mmu_kernel_tables(const struct mmu *mmu);

/* INVLPG, full flushes and IPIs since the previous call (the `tlbstats`
 * figures). */
struct mmu_counters mmu_counters_take(struct mmu *mmu);

/* Totals for one CPU since mmu_init (benchmarks, tests). */
struct mmu_counters mmu_cpu_counters(const struct mmu *mmu, unsigned cpu);

#ifdef __cplusplus
}
#endif

#endif
