/* SPDX-License-Identifier: MIT */
/* Helpers for the process-space tests (test_vm.c, test_vm_fork.c): a user
 * access that goes through the fault handler as a kernel would, frame
 * references, the fault counters, and a snapshot of everything a refused
 * or failed call must leave alone. They act on VT_SIM / VT_MMU. */
#ifndef MMU64_TEST_VMTEST_H
#define MMU64_TEST_VMTEST_H

#include "simtest.h"

#define PAGE 0x1000ull
#define MB (1ull << 20)

extern struct sim *vt_sim;
extern struct mmu *vt_mmu;
/* The outcome of the last fault uaccess handled. */
extern enum mmu_vm_outcome vt_last;

enum { R_OK = 0x100, R_NOMEM = 0x200 };
/* A user access by CPU on SP (loaded there): the hardware path, then the
 * fault handler and a retry. R_OK, R_NOMEM, or 0x1000 | the error code of
 * the refused fault. */
unsigned uaccess(struct mmu_vm_space *sp, unsigned cpu, enum sim_access_kind kind, mmu_vaddr_t va, uint8_t byte,
		 uint8_t *read);
unsigned uw(struct mmu_vm_space *sp, unsigned cpu, mmu_vaddr_t va, uint8_t byte);
uint8_t ur(struct mmu_vm_space *sp, unsigned cpu, mmu_vaddr_t va);
mmu_pa_t pa_of(struct mmu_vm_space *sp, mmu_vaddr_t va);
uint32_t refs(struct mmu_vm_space *sp, mmu_vaddr_t va);
/* The counters since the previous call equal these (printed if not). */
bool counters_are(struct mmu_vm_space *sp, uint64_t demand, uint64_t cow, uint64_t stack, uint64_t spurious,
		  uint64_t segv);

/* The port's hooks of the kernel's copies (mmu_vm_store_fn,
 * mmu_vm_load_fn) on the software machine: supervisor accesses with
 * EFLAGS.AC=1 by the CPU *CTX (an unsigned) names, byte by byte. */
uint32_t vt_store(void *ctx, mmu_vaddr_t va, const uint8_t *src, size_t len);
bool vt_load(void *ctx, uint8_t *dst, mmu_vaddr_t va, size_t len, uint32_t *error_code);

/* Everything a refused or failed call must leave alone: the tables, the
 * frame and table counts, the regions (up to VT_STATE_REGIONS) and where
 * they are stored. */
#define VT_STATE_REGIONS 4096
struct state {
	struct st_snapshot snap;
	uint64_t frames, tables;
	unsigned nregions, region_cap;
	const struct mmu_vm_region *storage;
	struct mmu_vm_region region[VT_STATE_REGIONS];
};
void state_take(struct mmu_vm_space *sp, struct state *s);
/* True when nothing changed since BEFORE (BEFORE's snapshot is kept). */
bool state_same(struct mmu_vm_space *sp, struct state *before);
void unload(unsigned cpu);

/* Run TESTS on each of the four machines the process-space tests use (4 and
 * 5 levels, PCIDs off and on, 2 CPUs) with VT_SIM / VT_MMU set; each
 * machine must leave frames and tables as it found them and the sanitizer
 * silent. */
void vt_on_each_machine(void (*tests)(const struct sim_config *cfg));

/* A pager for the memory-object tests (test_vm_object.c, test_vm_rmap.c):
 * page i is a frame of bytes 0xa0 + i, made on the first ask, which the
 * pager holds a reference on; ASKED counts the asks; MISSING is an index
 * it refuses (NOTEXIST), VT_PAGER_PAGES for none. vt_pager_ops keeps
 * shared mappings read-only, vt_pager_ops_writable lets them write (a
 * file opened for writing). vt_pager_free drops its frames. */
#define VT_PAGER_PAGES 8
struct vt_pager {
	mmu_pa_t page[VT_PAGER_PAGES];
	unsigned asked;
	uint64_t missing;
};
extern const struct mmu_vm_pager_ops vt_pager_ops, vt_pager_ops_writable;
void vt_pager_free(struct vt_pager *p);

#endif
