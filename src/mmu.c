/* SPDX-License-Identifier: MIT */
/* The MMU instance: the kernel tree every tree shares, counters. */
#include "internal.h"

static void kernel_free_tops(struct mmu *mmu)
{
	for (unsigned i = MMU_ENTRIES_PER_TABLE / 2; i < MMU_ENTRIES_PER_TABLE; i++) {
		mmu_pa_t pa;
		if (entry_unlink_kernel_top(mmu, i, &pa))
			table_free_now(mmu, pa);
	}
}

/* One table under each upper-half root slot, created now and never freed
 * while the MMU lives: a user tree copies these 256 entries once, and every
 * kernel mapping made later lands below them, so it is seen by every tree
 * without a list of trees to update. The cost is 1 MiB of tables. */
static mmu_err_t kernel_build_tops(struct mmu *mmu)
{
	for (unsigned i = MMU_ENTRIES_PER_TABLE / 2; i < MMU_ENTRIES_PER_TABLE; i++) {
		mmu_pa_t pa;
		if (table_alloc(mmu, false, &pa) != MMU_OK) {
			kernel_free_tops(mmu);
			return MMU_E_NOMEM;
		}
		port_meta(mmu, pa)->flags |= META_PINNED;
		entry_link_kernel_top(mmu, i, pa);
	}
	return MMU_OK;
}

static mmu_err_t config_check(const struct mmu_config *cfg)
{
	if (cfg->levels != 4 && cfg->levels != 5)
		return MMU_E_INVALID;
	if (cfg->ncpus == 0 || cfg->ncpus > MMU_MAX_CPUS)
		return MMU_E_INVALID;
	if (cfg->invpcid && !cfg->pcid)
		return MMU_E_INVALID;
	if (cfg->maxphyaddr != 0 && (cfg->maxphyaddr < 32 || cfg->maxphyaddr > MMU_PA_MAX_BITS))
		return MMU_E_INVALID;
	return MMU_OK;
}

mmu_err_t mmu_init(struct mmu *mmu, const struct mmu_port *port, const struct mmu_config *cfg)
{
	mmu_err_t err = config_check(cfg);
	if (err == MMU_OK && cfg->invpcid && !port->ops->invpcid)
		err = MMU_E_INVALID;
	if (err != MMU_OK)
		return err;
	/* memset, not a compound literal: at -O0 that is a 37 KiB temporary on
	 * the stack (docs/PORTING.md, "Stack"). */
	__builtin_memset(mmu, 0, sizeof *mmu);
	mmu->port = *port;
	mmu->port_direct = port->direct_map && port->meta_map;
	mmu->levels = cfg->levels;
	mmu->ncpus = cfg->ncpus;
	mmu->nx = cfg->nx;
	/* No XD without NX (EFER.NXE: XD would be a reserved bit). */
	for (unsigned prot = 0; prot < 16; prot++)
		mmu->prot_pte[prot] = ((prot & MMU_PROT_W) ? MMU_PTE_RW : 0) | ((prot & MMU_PROT_U) ? MMU_PTE_US : 0) |
				      (!(prot & MMU_PROT_X) && cfg->nx ? MMU_PTE_XD : 0);
	for (unsigned i = 0; i < 8; i++) {
		uint64_t folded = ((i & 1) ? MMU_PTE_RW : 0) | ((i & 2) ? MMU_PTE_US : 0) | ((i & 4) ? MMU_PTE_XD : 0);
		mmu->pte_prot[prot_index(folded)] =
			(uint8_t)(MMU_PROT_R | ((i & 1) ? MMU_PROT_W : 0) | ((i & 2) ? MMU_PROT_U : 0) |
				  ((i & 4) || !cfg->nx ? MMU_PROT_X : 0));
	}
	mmu->flush_ceiling = cfg->flush_ceiling ? cfg->flush_ceiling : MMU_TLB_CEILING_DEFAULT;
	mmu->pcid = cfg->pcid;
	mmu->invpcid = cfg->invpcid;
	mmu->pa_reserved = ~0ull << (cfg->maxphyaddr ? cfg->maxphyaddr : MMU_MAXPHYADDR_DEFAULT);
	mmu->page_1g = cfg->page_1g;
	for (unsigned cpu = 0; cpu < cfg->ncpus; cpu++) {
		mmu->cpu[cpu].pcid_gen = 1; /* a zeroed tree slot (gen 0) holds no PCID */
		mmu->cpu[cpu].pcid_next = 1;
	}
	atomic_init(&mmu->kernel.locked, false);
	atomic_init(&mmu->vm_family_lock, false);
	mmu->kernel.mmu = mmu;
	pt_cache_init(&mmu->kernel);
	tree_set_half(&mmu->kernel, true);
	mmu->kernel.owes_always = true; /* its half is live on every CPU */
	mmu_pa_t root;
	err = table_alloc(mmu, false, &root);
	if (err != MMU_OK)
		return err;
	tree_set_root(&mmu->kernel, root);
	port_meta(mmu, mmu->kernel.root)->flags |= META_PINNED;
	err = kernel_build_tops(mmu);
	if (err != MMU_OK)
		table_free_now(mmu, mmu->kernel.root);
	return err;
}

void mmu_fini(struct mmu *mmu)
{
	mmu_pte_t *root = table_of(mmu, mmu->kernel.root);
	for (unsigned i = MMU_ENTRIES_PER_TABLE / 2; i < MMU_ENTRIES_PER_TABLE; i++) {
		mmu_pa_t top;
		if (mmu_pte_next_table(root[i], mmu_top_level(mmu), &top) != MMU_OK)
			continue;
		unsigned live = table_live(port_meta(mmu, top));
		MMU_ASSERT(mmu, live == 0, "mmu_fini: kernel slot %u still maps %u entries", i, live);
	}
	int64_t user = mmu_user_tables(mmu);
	MMU_ASSERT(mmu, user == 0, "mmu_fini: %ld user tables still exist", (long)user);
	kernel_free_tops(mmu);
	table_free_now(mmu, mmu->kernel.root);
}

int64_t mmu_user_tables(const struct mmu *mmu)
{
	return atomic_load_explicit(&mmu->user_tables, memory_order_relaxed);
}

int64_t mmu_kernel_tables(const struct mmu *mmu)
{
	return atomic_load_explicit(&mmu->kernel_tables, memory_order_relaxed);
}

struct mmu_counters mmu_cpu_counters(const struct mmu *mmu, unsigned cpu)
{
	const struct mmu_cpu *c = &mmu->cpu[cpu];
	return (struct mmu_counters){
		.invlpg = atomic_load_explicit(&c->invlpg, memory_order_relaxed),
		.full = atomic_load_explicit(&c->full, memory_order_relaxed),
		.ipis = 0,
		.cr3_noflush = atomic_load_explicit(&c->cr3_noflush, memory_order_relaxed),
		.cr3_flush = atomic_load_explicit(&c->cr3_flush, memory_order_relaxed),
	};
}

struct mmu_counters mmu_counters_take(struct mmu *mmu)
{
	struct mmu_counters now = {
		.ipis = atomic_load_explicit(&mmu->ipis, memory_order_relaxed),
		.promotions = atomic_load_explicit(&mmu->promotions, memory_order_relaxed),
		.demotions = atomic_load_explicit(&mmu->demotions, memory_order_relaxed),
	};
	for (unsigned cpu = 0; cpu < mmu->ncpus; cpu++) {
		struct mmu_counters c = mmu_cpu_counters(mmu, cpu);
		now.invlpg += c.invlpg;
		now.full += c.full;
		now.cr3_noflush += c.cr3_noflush;
		now.cr3_flush += c.cr3_flush;
	}
	struct mmu_counters since = {
		.invlpg = now.invlpg - mmu->reported.invlpg,
		.full = now.full - mmu->reported.full,
		.ipis = now.ipis - mmu->reported.ipis,
		.cr3_noflush = now.cr3_noflush - mmu->reported.cr3_noflush,
		.cr3_flush = now.cr3_flush - mmu->reported.cr3_flush,
		.promotions = now.promotions - mmu->reported.promotions,
		.demotions = now.demotions - mmu->reported.demotions,
	};
	mmu->reported = now;
	return since;
}
