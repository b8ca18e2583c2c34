/* SPDX-License-Identifier: MIT */
/* Where does one full flush become cheaper than N INVLPGs? Measured on this
 * CPU (QEMU TCG here) instead of guessed: a working set of W hot pages and
 * N changed pages are in the TLB; then either N INVLPGs or one CR3 reload,
 * followed by touching all W + N pages again (the refill is part of the
 * price). The library's default ceiling (MMU_TLB_CEILING_DEFAULT) is
 * documented against the crossover this prints. */
#include <stdint.h>

#include "kernel/bootinfo.h"
#include "kernel/ceiling.h"
#include "kernel/cpu.h"
#include "kernel/klib.h"
#include "kernel/machine.h"
#include "kernel/pmem.h"
#include "mmu64/mmu64.h"
#include "tools/vec/vec.h"

#define WINDOW 0xffffc80000000000ull /* the vectors' kernel-half window */
#define WORKING_SET 64u
#define MAX_CHANGED 256u
#define REPS 101u

static const unsigned changed_sizes[] = {1, 2, 4, 8, 16, 24, 32, 40, 48, 64, 96, 128, 192, 256};

static inline uint64_t cr3_read(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline void cr3_write(uint64_t v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }

static void touch(unsigned pages)
{
	for (unsigned i = 0; i < pages; i++)
		(void)*(volatile uint8_t *)(WINDOW + (uint64_t)i * MMU_PAGE_SIZE);
}

/* Cycles of one strategy, refill included, for N changed pages. */
static uint64_t cost(unsigned n, bool full)
{
	touch(WORKING_SET + n);
	uint64_t t0 = rdtsc();
	if (full) {
		cr3_write(cr3_read());
	} else {
		for (unsigned i = 0; i < n; i++)
			invlpg(WINDOW + (uint64_t)(WORKING_SET + i) * MMU_PAGE_SIZE);
	}
	touch(WORKING_SET + n);
	return rdtsc() - t0;
}

static uint64_t median(uint64_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

/* WORKING_SET + MAX_CHANGED non-global 4K pages in the window, all mapped
 * to one frame: each is its own TLB entry. */
static void map_window(struct mmu *mmu)
{
	mmu_pa_t frame;
	if (pmem_data_alloc(MMU_SIZE_4K, &frame) != MMU_OK)
		kpanic("ceiling: no frame");
	for (unsigned i = 0; i < WORKING_SET + MAX_CHANGED; i++)
		if (mmu_map(mmu_kernel_tree(mmu), WINDOW + (uint64_t)i * MMU_PAGE_SIZE, frame, MMU_PAGE_SIZE,
			    MMU_PROT_R | MMU_PROT_W, NULL, NULL) != MMU_OK)
			kpanic("ceiling: map failed");
}

_Noreturn void ceiling_run(void)
{
	struct vec_machine m = {.levels = boot_info.levels, .cpus = 1, .mem = 64ull << 20, .nx = true, .wp = true};
	struct mmu *mmu = NULL;
	const char *why = machine_setup(&m, &mmu);
	if (why)
		kpanic("ceiling: %s", why);
	map_window(mmu);
	uint64_t inv[REPS], full[REPS];
	unsigned crossover = 0;
	kprintf("ceiling: working set %u pages; cycles (median of %u) to invalidate N pages and touch all again\n",
		WORKING_SET, REPS);
	for (unsigned s = 0; s < sizeof(changed_sizes) / sizeof(changed_sizes[0]); s++) {
		unsigned n = changed_sizes[s];
		for (unsigned r = 0; r < REPS; r++) {
			inv[r] = cost(n, false);
			full[r] = cost(n, true);
		}
		uint64_t mi = median(inv, REPS), mf = median(full, REPS);
		if (!crossover && mi >= mf)
			crossover = n;
		kprintf("ceiling: N=%u invlpg=%lu full=%lu\n", n, (unsigned long)mi, (unsigned long)mf);
	}
	if (crossover)
		kprintf("ceiling: a full flush is cheaper from N=%u (library default %u)\n", crossover,
			MMU_TLB_CEILING_DEFAULT);
	else
		kprintf("ceiling: INVLPG stayed cheaper up to N=%u (library default %u)\n", MAX_CHANGED,
			MMU_TLB_CEILING_DEFAULT);
	qemu_exit(KEXIT_PASSED);
}
