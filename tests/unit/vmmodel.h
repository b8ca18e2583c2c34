/* SPDX-License-Identifier: MIT */
/* The reference model of the process-space property test
 * (test_property_vm.c): per space, the regions and, for each page of a
 * window of the user half, which frame it maps, whether its leaf is
 * writable and whether it is part of a 2M leaf; per frame, how many leaves
 * (and objects, and the store) hold it and a few of its bytes; per memory
 * object, its resident pages; the store behind the pager-backed objects.
 * Written from the contract of include/mmu64/vm.h alone (regions cut by
 * remove, split and merged by protect, resized, held in storage of a
 * given capacity, NOSPACE when it is full; guard regions; demand-zero,
 * copy-on-write with take-over, stack growth with its limit and guard
 * gap, fork, exit; memory objects, shared and private; huge pages: a 2M
 * demand fault, its fork, COW, take-over and splits), not from the
 * library. Stack regions are only ever added, grown and removed whole:
 * the test never cuts, protects or resizes them. A 2M frame is 512 model
 * frames in a row, the first its head: the references of every piece
 * are counted there (vm.h), and it is one frame in use. The model
 * assumes a 2M frame is always free when one is asked for (the test
 * gives the machine memory enough). */
#ifndef MMU64_TEST_VMMODEL_H
#define MMU64_TEST_VMMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu64/mmu64.h"

#define VM_PAGE 0x1000ull
#define VM_HUGE_PAGES 512u /* 4K pages of a 2M block */
#define VM_HUGE (VM_HUGE_PAGES * VM_PAGE)
#define VM_NSLOTS 8     /* slots of the small regions and objects */
#define VM_BIG_SLOTS 4  /* slots above them, of the big anon regions (2M pages) */
#define VM_SLOT (4ull << 20)
/* The window straddles the 512 GiB line, so spaces use two root entries
 * (KPTI mirrors both); it starts on a 2M boundary. */
#define VM_WIN (0x8000000000ull - (VM_NSLOTS / 2) * VM_SLOT)
#define VM_WIN_LEN ((VM_NSLOTS + VM_BIG_SLOTS) * VM_SLOT)
#define VM_WIN_PAGES (VM_WIN_LEN / VM_PAGE)
#define VM_NBYTES 16 /* bytes of each frame the model follows */
#define VM_MREGIONS 48 /* the largest region storage the test gives a space */
#define VM_MOBJECTS 4
#define VM_MOBJ_PAGES 48    /* the largest object, and the store's pages */
#define VM_STORE_MISSING 13 /* the store's page that does not exist */
#define VM_SWAP_SLOTS 64    /* the swap store's slots (a run uses a limit of them) */

static inline unsigned vm_byte_offset(unsigned i) { return i * 257u; }

/* The byte at offset OFF of the store's page I (every byte of it). */
static inline uint8_t vm_store_byte(uint64_t i, unsigned off) { return (uint8_t)(0x41 + i * 29 + off * 7); }

struct vm_mframe {
	uint32_t refs;  /* a 2M frame's pieces: 0, the head counts */
	int32_t head;   /* itself, or the head of its 2M frame */
	bool big;       /* the head of a 2M frame */
	uint8_t byte[VM_NBYTES];
};

struct vm_mpage {
	int32_t frame; /* -1: no leaf */
	bool wr;
	bool huge; /* mapped by a 2M leaf (all 512 pages of its block are) */
	uint32_t slot1; /* paged out (frame -1): its swap slot + 1; 0: not */
};

struct vm_mspace {
	unsigned nregions, cap; /* cap: slots of the space's region storage */
	bool huge;              /* mmu_vm_space_set_huge */
	bool swap;              /* has the swap store (mmu_vm_space_set_swap) */
	uint64_t swapped;       /* its pages in swap (mmu_vm_space.swapped) */
	struct mmu_vm_region region[VM_MREGIONS];
	struct vm_mpage page[VM_WIN_PAGES];
	struct mmu_vm_counters want; /* demand, cow, stack, segv, swapin since the last check */
};

struct vm_mobject {
	struct mmu_vm_object *obj; /* the library's, as regions name it */
	bool live, pager;
	bool swap; /* anonymous, with the swap store (mmu_vm_object_set_swap) */
	uint32_t npages;
	int32_t page[VM_MOBJ_PAGES]; /* the resident page's frame, -1 */
	uint32_t slot1[VM_MOBJ_PAGES]; /* a page in the store (page -1): its slot + 1; 0: not */
};

/* How often the model went where huge pages and objects lead (the run's
 * summary; a run with too few of them proves little). */
struct vm_mstats {
	unsigned long huge_demand, huge_copy, huge_take, splits, filled, store_refused, shared_write, private_copy;
	unsigned long page_out, page_in, pageout_busy, pageout_full;
	unsigned long object_page_out, object_leaves_out, object_swap_out, object_swap_in;
};

/* A slot of the swap store: the references of the swap entries holding
 * it and the bytes of the page written there. */
struct vm_mslot {
	uint32_t refs;
	uint8_t byte[VM_NBYTES];
};

struct vm_model {
	struct vm_mstats stats;
	struct vm_mframe *frame;
	uint32_t nframes, cap;
	uint64_t live; /* frames with refs > 0 (a 2M frame once) */
	struct vm_mobject object[VM_MOBJECTS];
	int32_t store[VM_MOBJ_PAGES]; /* the pager's frames (it keeps a reference), -1 until first asked */
	/* The swap store: it writes a page into its lowest free slot below
	 * slot_limit (NOMEM when none is free). */
	struct vm_mslot slot[VM_SWAP_SLOTS];
	unsigned slot_limit, slots_used;
};

/* What a user access ends in. */
struct vm_moutcome {
	bool ok;
	uint32_t code; /* the refused fault's error code */
	uint8_t byte;  /* read: the byte */
};

void vmm_init(struct vm_model *m);
void vmm_fini(struct vm_model *m);
void vmm_space_init(struct vm_mspace *s); /* no regions, the inline capacity, huge pages off */
int vmm_region_at(const struct vm_mspace *s, mmu_vaddr_t va);
struct vm_mpage *vmm_page(struct vm_mspace *s, mmu_vaddr_t va); /* NULL outside the window */
/* True when [VA, VA+LEN) overlaps a stack region (the test then leaves it). */
bool vmm_touches_stack(const struct vm_mspace *s, mmu_vaddr_t va, uint64_t len);

/* The calls, for arguments that pass the argument checks (the test
 * computes those errors itself): the error the library must return, and
 * the model updated when it is MMU_OK. */
mmu_err_t vmm_add(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, uint64_t len, unsigned prot,
		  enum mmu_vm_kind kind, uint64_t max);
mmu_err_t vmm_add_object(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, uint64_t len, unsigned prot,
			 enum mmu_vm_kind share, struct mmu_vm_object *obj, uint64_t first_page);
mmu_err_t vmm_remove(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, uint64_t len);
mmu_err_t vmm_protect(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, uint64_t len, unsigned prot);
mmu_err_t vmm_resize(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t start, uint64_t new_len);
/* Region storage of CAP slots (mmu_vm_space_set_region_storage). */
mmu_err_t vmm_set_cap(struct vm_mspace *s, unsigned cap);
/* CHILD gets PARENT's regions in storage of CHILD_CAP slots. */
mmu_err_t vmm_fork(struct vm_model *m, const struct vm_mspace *parent, struct vm_mspace *child, unsigned child_cap);
void vmm_exit(struct vm_model *m, struct vm_mspace *s);
/* mmu_vm_page_out of VA in S (vmmodel_swap.c), past the checks the test
 * makes itself (VA in the window). */
/* ALL (N spaces, LIVE[i] whether ALL[i] is): the spaces that may share
 * S's frames (its fork family; the store is the same for all). */
mmu_err_t vmm_page_out(struct vm_model *m, struct vm_mspace *const *all, const bool *live, unsigned n,
		       struct vm_mspace *s, mmu_vaddr_t va);
/* mmu_vm_space_set_swap with the store (ON) or none: BUSY when S has
 * pages in swap and loses its store. */
mmu_err_t vmm_set_swap(struct vm_mspace *s, bool on);

/* Object K of the model becomes OBJ, just initialised (no page resident). */
void vmm_object_init(struct vm_model *m, unsigned k, struct mmu_vm_object *obj, bool pager, uint32_t npages);
/* The model's object for OBJ, NULL when none is live. */
struct vm_mobject *vmm_object_of(struct vm_model *m, const struct mmu_vm_object *obj);
/* The regions of the N spaces S that map OBJ (its mapping count). */
uint64_t vmm_mappings(struct vm_mspace *const *s, unsigned n, const struct mmu_vm_object *obj);
/* Release object K, which MAPPINGS regions map: INVALID, BUSY or MMU_OK. */
mmu_err_t vmm_object_release(struct vm_model *m, unsigned k, uint64_t mappings);
/* mmu_vm_object_page_out of page I of object K (every space's 4K leaf of
 * its frame goes, in ALL, the N spaces, LIVE[i] whether ALL[i] is; then
 * the object's reference): INVALID (an anonymous object, I beyond it),
 * NOTEXIST (not resident) or MMU_OK. */
mmu_err_t vmm_object_page_out(struct vm_model *m, struct vm_mspace *const *all, const bool *live, unsigned n,
			      unsigned k, uint64_t i);
/* The swap store's lowest free slot below its limit, taken with BYTES
 * (one reference): -1 when full. A reference of SLOT dropped. */
int vmm_slot_take(struct vm_model *m, const uint8_t *bytes);
void vmm_slot_put(struct vm_model *m, unsigned slot);

/* A user access of KIND (SIM_READ/WRITE/EXEC as 0/1/2) at VA in the user
 * half of S, with the fault handler resolving what it may (NX on). Writes
 * BYTE when it succeeds. */
struct vm_moutcome vmm_access(struct vm_model *m, struct vm_mspace *s, unsigned kind, mmu_vaddr_t va, uint8_t byte);

/* ---- between the model's files (vmmodel.c, vmmodel_fault.c) ---- */

/* A new frame with one reference: a 4K frame of BYTES (NULL: zeroes), or
 * a 2M frame whose pieces copy those from SRC_HEAD on (-1: zeroes). */
int32_t vmm_frame_new(struct vm_model *m, const uint8_t *bytes);
int32_t vmm_frame_new_2m(struct vm_model *m, int32_t src_head);
/* A reference more, or one less, on the frame holding piece ID. */
void vmm_frame_get(struct vm_model *m, int32_t id);
void vmm_frame_put(struct vm_model *m, int32_t id);
/* The swapped page at PG of S paged in: a new frame with its slot's
 * bytes, mapped with R's permissions of now; the slot's reference dropped. */
void vmm_swap_in(struct vm_model *m, struct vm_mspace *s, struct vm_mpage *pg, const struct mmu_vm_region *r);
/* The swap entry at PG of S gone (remove, shrink, exit): its slot's reference dropped. */
void vmm_swap_forget(struct vm_model *m, struct vm_mspace *s, struct vm_mpage *pg);
/* The references of the frame holding piece ID. */
uint32_t vmm_frame_refs(const struct vm_model *m, int32_t id);

#endif
