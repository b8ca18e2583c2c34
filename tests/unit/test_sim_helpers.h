/* SPDX-License-Identifier: MIT */
/* Helpers for the software machine's own tests: bare machines (no mmu64
 * instance) and page tables built by hand in their physical memory. */
#ifndef MMU64_TEST_SIM_HELPERS_H
#define MMU64_TEST_SIM_HELPERS_H

#include <string.h>

#include "check.h"
#include "sim/internal.h"

/* Non-leaf entries built by th_entry: P RW US, as the library makes them in
 * the user half. */
#define TH_TABLE_FLAGS (MMU_PTE_P | MMU_PTE_RW | MMU_PTE_US)

static inline struct sim *th_machine(const struct sim_config *cfg)
{
	struct sim *sim = sim_create_bare(cfg);
	if (!sim) {
		fprintf(stderr, "th_machine: sim_create_bare failed\n");
		exit(1);
	}
	return sim;
}

static inline struct sim *th_default_machine(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.mem = 64ull << 20;
	return th_machine(&cfg);
}

static inline mmu_pa_t th_table(struct sim *sim)
{
	mmu_pa_t pa;
	if (sim_alloc_frame(sim, MMU_FRAME_TABLE, MMU_SIZE_4K, &pa) != MMU_OK) {
		fprintf(stderr, "th_table: no table page\n");
		exit(1);
	}
	return pa;
}

static inline mmu_pa_t th_data(struct sim *sim, enum mmu_size size)
{
	mmu_pa_t pa;
	if (sim_frame_alloc(sim, size, &pa) != MMU_OK) {
		fprintf(stderr, "th_data: no data frame of size %u\n", (unsigned)size);
		exit(1);
	}
	return pa;
}

static inline uint64_t *th_slot(struct sim *sim, mmu_pa_t table, unsigned index)
{
	return (uint64_t *)(void *)sim_phys(sim, mmu_pa_add(table, index * 8ull));
}

/* The entry at LEVEL on the way to VA from ROOT, creating missing tables
 * above it with TH_TABLE_FLAGS. */
static inline uint64_t *th_entry(struct sim *sim, mmu_pa_t root, mmu_vaddr_t va, enum mmu_level level)
{
	mmu_pa_t table = root;
	for (unsigned l = sim_config(sim)->levels; l > (unsigned)level; l--) {
		uint64_t *e = th_slot(sim, table, mmu_va_index(va, (enum mmu_level)l));
		if (!(*e & MMU_PTE_P))
			*e = mmu_pa_bits(th_table(sim)) | TH_TABLE_FLAGS;
		table = mmu_pa(*e & MMU_PTE_ADDR_MASK);
	}
	return th_slot(sim, table, mmu_va_index(va, level));
}

/* Map VA -> PA with leaf FLAGS (P and PS added) at SIZE. */
static inline uint64_t *th_map(struct sim *sim, mmu_pa_t root, mmu_vaddr_t va, mmu_pa_t pa, enum mmu_size size,
			       uint64_t flags)
{
	uint64_t *e = th_entry(sim, root, va, (enum mmu_level)size);
	*e = mmu_pa_bits(pa) | flags | MMU_PTE_P | (size != MMU_SIZE_4K ? MMU_PTE_PS : 0);
	return e;
}

/* A fresh root loaded on every CPU (CR3 = root | PCID). */
static inline mmu_pa_t th_root_on_all(struct sim *sim)
{
	mmu_pa_t root = th_table(sim);
	for (unsigned i = 0; i < sim_config(sim)->ncpus; i++)
		sim_write_cr3(sim, i, mmu_pa_bits(root));
	return root;
}

static inline struct sim_access th_read(struct sim *sim, unsigned cpu, mmu_vaddr_t va, bool user)
{
	return sim_access(sim, cpu, SIM_READ, va, user, false, 0);
}

static inline struct sim_access th_write(struct sim *sim, unsigned cpu, mmu_vaddr_t va, uint8_t byte, bool user)
{
	return sim_access(sim, cpu, SIM_WRITE, va, user, false, byte);
}

/* Outcome as one number: 0x1000 for OK, 0x2000 for #GP, the error code for
 * #PF, so CHECK_EQ shows all three. */
#define TH_OK 0x1000u
#define TH_GP 0x2000u
static inline uint32_t th_result(struct sim_access a)
{
	return a.outcome == SIM_OK ? TH_OK : a.outcome == SIM_GP ? TH_GP : a.error_code;
}

#endif
