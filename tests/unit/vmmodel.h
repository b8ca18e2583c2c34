/* SPDX-License-Identifier: MIT */
/* The reference model of the process-space property test
 * (test_property_vm.c): per space, the regions and, for each page of a
 * window of the user half, which frame it maps and whether its leaf is
 * writable; per frame, how many leaves map it and a few of its bytes.
 * Written from the contract of include/mmu64/vm.h alone (regions cut by
 * remove, split and merged by protect, resized, held in storage of a
 * given capacity, NOSPACE when it is full; guard regions; demand-zero,
 * copy-on-write with take-over, stack growth with its limit and guard
 * gap, fork, exit), not from the library. Stack regions are only ever
 * added, grown and removed whole: the test never cuts, protects or
 * resizes them. */
#ifndef MMU64_TEST_VMMODEL_H
#define MMU64_TEST_VMMODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu64/mmu64.h"

#define VM_PAGE 0x1000ull
#define VM_NSLOTS 8
#define VM_SLOT (4ull << 20)
/* The window straddles the 512 GiB line, so spaces use two root entries
 * (KPTI mirrors both). */
#define VM_WIN (0x8000000000ull - (VM_NSLOTS / 2) * VM_SLOT)
#define VM_WIN_PAGES (VM_NSLOTS * VM_SLOT / VM_PAGE)
#define VM_NBYTES 16 /* bytes of each frame the model follows */
#define VM_MREGIONS 48 /* the largest region storage the test gives a space */

static inline unsigned vm_byte_offset(unsigned i) { return i * 257u; }

struct vm_mframe {
	uint32_t refs;
	uint8_t byte[VM_NBYTES];
};

struct vm_mpage {
	int32_t frame; /* -1: no leaf */
	bool wr;
};

struct vm_mspace {
	unsigned nregions, cap; /* cap: slots of the space's region storage */
	struct mmu_vm_region region[VM_MREGIONS];
	struct vm_mpage page[VM_WIN_PAGES];
	struct mmu_vm_counters want; /* demand, cow, stack, segv since the last check */
};

struct vm_model {
	struct vm_mframe *frame;
	uint32_t nframes, cap;
	uint64_t live; /* frames with refs > 0 */
};

/* What a user access ends in. */
struct vm_moutcome {
	bool ok;
	uint32_t code; /* the refused fault's error code */
	uint8_t byte;  /* read: the byte */
};

void vmm_init(struct vm_model *m);
void vmm_fini(struct vm_model *m);
void vmm_space_init(struct vm_mspace *s); /* no regions, the inline capacity */
int vmm_region_at(const struct vm_mspace *s, mmu_vaddr_t va);
struct vm_mpage *vmm_page(struct vm_mspace *s, mmu_vaddr_t va); /* NULL outside the window */
/* True when [VA, VA+LEN) overlaps a stack region (the test then leaves it). */
bool vmm_touches_stack(const struct vm_mspace *s, mmu_vaddr_t va, uint64_t len);

/* The calls, for arguments that pass the argument checks (the test
 * computes those errors itself): the error the library must return, and
 * the model updated when it is MMU_OK. */
mmu_err_t vmm_add(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, uint64_t len, unsigned prot,
		  enum mmu_vm_kind kind, uint64_t max);
mmu_err_t vmm_remove(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t va, uint64_t len);
mmu_err_t vmm_protect(struct vm_mspace *s, mmu_vaddr_t va, uint64_t len, unsigned prot);
mmu_err_t vmm_resize(struct vm_model *m, struct vm_mspace *s, mmu_vaddr_t start, uint64_t new_len);
/* Region storage of CAP slots (mmu_vm_space_set_region_storage). */
mmu_err_t vmm_set_cap(struct vm_mspace *s, unsigned cap);
/* CHILD gets PARENT's regions in storage of CHILD_CAP slots. */
mmu_err_t vmm_fork(struct vm_model *m, const struct vm_mspace *parent, struct vm_mspace *child, unsigned child_cap);
void vmm_exit(struct vm_model *m, struct vm_mspace *s);

/* A user access of KIND (SIM_READ/WRITE/EXEC as 0/1/2) at VA in the user
 * half of S, with the fault handler resolving what it may (NX on). Writes
 * BYTE when it succeeds. */
struct vm_moutcome vmm_access(struct vm_model *m, struct vm_mspace *s, unsigned kind, mmu_vaddr_t va, uint8_t byte);

#endif
