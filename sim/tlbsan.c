/* SPDX-License-Identifier: MIT */
/* The TLB sanitizer: always on, it reports (stderr "tlbsan: ...", counted)
 *
 *  (a) a TLB hit used although the current tables no longer allow it: they
 *      map the page elsewhere or with another size, or deny a permission
 *      (W, U, exec) or key the entry grants, or clear D while the entry is
 *      dirty and the access writes. A hit *less* permissive than the tables
 *      is legal (upgrades need no flush; the access faults spuriously);
 *  (b) a hit or a fresh walk that reaches a freed frame or walks through a
 *      freed table page. "Freed" means: allocated once and not allocated
 *      now. Memory never allocated (tables built by hand in tests) is never
 *      "freed";
 *  (c) a data frame or table page freed while any CPU's TLB still holds an
 *      entry whose frame overlaps it or whose walk went through it.
 *
 * With threads (sim_run_cpus) a CPU may legally use a stale entry between
 * another CPU's table write and its shootdown IPI, so (a) is not checked on
 * hits then; sim_run_cpus audits every TLB against the tables once the
 * threads are done instead. (b) and (c) hold at every instant: the library
 * frees only after every TLB dropped the frame. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim/internal.h"

void sim_tlbsan_report(struct sim *sim, const char *fmt, ...)
{
	char msg[sizeof(sim->tlbsan_last)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&sim->tlbsan_lock);
	memcpy(sim->tlbsan_last, msg, sizeof(msg));
	fprintf(stderr, "%s\n", msg);
	pthread_mutex_unlock(&sim->tlbsan_lock);
	atomic_fetch_add(&sim->tlbsan_reports, 1);
}

unsigned sim_tlbsan_reports(const struct sim *sim) { return atomic_load(&sim->tlbsan_reports); }

const char *sim_tlbsan_last(const struct sim *sim) { return sim->tlbsan_last; }

static const char *size_name(enum mmu_size size)
{
	return size == MMU_SIZE_1G ? "1G" : size == MMU_SIZE_2M ? "2M" : "4K";
}

static void describe(char *buf, size_t n, const struct sim_translation *tr)
{
	snprintf(buf, n, "pa 0x%llx %s r%c%c%c pkey %u%s", (unsigned long long)tr->pa_base, size_name(tr->size),
		 tr->w ? 'w' : '-', tr->xd ? '-' : 'x', tr->u ? 'u' : '-', tr->pkey, tr->dirty ? " D" : "");
}

/* Why cached translation E may not be used any more, or NULL. */
static const char *stale_reason(const struct sim_cpu *c, const struct sim_translation *e, const struct sim_walk *w,
				bool write)
{
	const struct sim_translation *t = &w->tr;
	if (w->status == SIM_WALK_NOT_PRESENT)
		return "not present";
	if (w->status == SIM_WALK_RSVD)
		return "reserved bits set";
	if (t->pa_base != e->pa_base || t->size != e->size)
		return "another frame or size";
	if (e->w && !t->w)
		return "read-only";
	if (e->u && !t->u)
		return "supervisor-only";
	if (!e->xd && t->xd)
		return "execute-disabled";
	if ((c->cr4 & SIM_CR4_PKE) && e->u && e->pkey != t->pkey)
		return "another protection key";
	if (write && e->dirty && !t->dirty)
		return "D clear (the write would not set it)";
	return NULL;
}

static void report_stale(struct sim *sim, unsigned cpu, mmu_vaddr_t va, const struct sim_translation *e,
			 const struct sim_walk *w, const char *why, const char *when)
{
	char cached[96], now[96] = "-";
	describe(cached, sizeof(cached), e);
	if (w->status == SIM_WALK_OK)
		describe(now, sizeof(now), &w->tr);
	sim_tlbsan_report(sim, "tlbsan: cpu %u va 0x%llx pa 0x%llx: %s a stale translation: cached %s; tables: %s (%s)",
			  cpu, (unsigned long long)va, (unsigned long long)(e->pa_base + (va - e->va_base)), when,
			  cached, now, why);
}

/* (b): the frame VA reaches and the tables walked must not be freed. */
static void check_freed(struct sim *sim, unsigned cpu, mmu_vaddr_t va, const struct sim_translation *tr,
			const uint32_t *tables, unsigned ntables, bool write, const char *what)
{
	for (unsigned i = 0; i < ntables; i++) {
		mmu_pa_t table = mmu_pa((uint64_t)tables[i] << MMU_PAGE_SHIFT);
		if (sim_frame_status(&sim->pm, table) == SIM_STATUS_TABLE_FREED)
			sim_tlbsan_report(sim, "tlbsan: cpu %u va 0x%llx: %s walked through freed table page 0x%llx",
					  cpu, (unsigned long long)va, what, (unsigned long long)mmu_pa_bits(table));
	}
	mmu_pa_t pa = mmu_pa(tr->pa_base + (va - tr->va_base));
	enum sim_frame_status st = sim_frame_status(&sim->pm, pa);
	if (st != SIM_STATUS_DATA_FREED && st != SIM_STATUS_TABLE_FREED)
		return;
	sim_tlbsan_report(sim, "tlbsan: cpu %u va 0x%llx pa 0x%llx: %s reaches a freed %s", cpu,
			  (unsigned long long)va, (unsigned long long)mmu_pa_bits(pa), what,
			  st == SIM_STATUS_DATA_FREED ? "data frame" : "table page");
	if (write)
		sim_note_written_free(&sim->pm, pa);
}

void sim_tlbsan_check_hit(struct sim *sim, unsigned cpu, const struct sim_tlb_entry *e, mmu_vaddr_t va,
			  const struct sim_request *req)
{
	struct sim_translation cached = sim_tlb_entry_translation(e);
	bool write = req->kind == SIM_WRITE;
	check_freed(sim, cpu, va, &cached, e->table, e->ntables, write, "TLB hit");
	if (atomic_load(&sim->threads_running))
		return; /* a shootdown may be on its way: the audit decides later */
	struct sim_paging pg;
	struct sim_walk w;
	sim_paging_of(sim, &sim->cpu[cpu], &pg);
	sim_walk_tables(sim, &pg, va, &w);
	const char *why = stale_reason(&sim->cpu[cpu], &cached, &w, write);
	if (why)
		report_stale(sim, cpu, va, &cached, &w, why, "TLB hit uses");
}

void sim_tlbsan_check_walk(struct sim *sim, unsigned cpu, mmu_vaddr_t va, const struct sim_walk *w,
			   const struct sim_request *req)
{
	uint32_t tables[SIM_TLB_MAX_TABLES];
	for (unsigned i = 0; i < w->nsteps; i++)
		tables[i] = (uint32_t)(mmu_pa_bits(w->step[i].table) >> MMU_PAGE_SHIFT);
	check_freed(sim, cpu, va, &w->tr, tables, w->nsteps, req->kind == SIM_WRITE, "page walk");
}

/* (c) on every CPU whose TLB is not empty. */
static __attribute__((noinline)) void check_free_slow(struct sim *sim, enum mmu_frame_use use, enum mmu_size size,
						      mmu_pa_t pa)
{
	for (unsigned cpu = 0; cpu < sim->cfg.ncpus; cpu++) {
		struct sim_tlb *t = &sim->cpu[cpu].tlb;
		if (atomic_load_explicit(&t->count, memory_order_relaxed) == 0)
			continue;
		struct sim_tlb_entry who;
		pthread_mutex_lock(&t->lock);
		bool held = use == MMU_FRAME_TABLE ? sim_tlb_find_table(t, pa, &who) : sim_tlb_find_frame(t, pa, size, &who);
		pthread_mutex_unlock(&t->lock);
		if (!held)
			continue;
		char what[32];
		snprintf(what, sizeof(what), "%s %s", use == MMU_FRAME_TABLE ? "table page" : "data frame",
			 use == MMU_FRAME_TABLE ? "4K" : size_name(size));
		sim_tlbsan_report(sim,
				  "tlbsan: cpu %u va 0x%llx pa 0x%llx: %s 0x%llx freed while the TLB holds a "
				  "translation %s (pcid %u%s)",
				  cpu, (unsigned long long)who.va_base, (unsigned long long)who.pa_base, what,
				  (unsigned long long)mmu_pa_bits(pa),
				  use == MMU_FRAME_TABLE ? "walked through it" : "to it", who.pcid,
				  who.global ? ", global" : "");
	}
}

void sim_tlbsan_check_free(struct sim *sim, enum mmu_frame_use use, enum mmu_size size, mmu_pa_t pa)
{
	/* An empty TLB holds nothing to report (most frees of a tree no CPU
	 * runs). Reading the counts unlocked only widens by a few
	 * instructions the window the locked lookup has anyway (an entry
	 * inserted between this check and the free); walks after the free
	 * are sim_tlbsan_check_walk's. This loop makes no call, so the
	 * common case (every TLB empty: the benchmark's trees are never
	 * loaded) costs a load and a compare per CPU and no stack frame;
	 * the lookups and the report are out of line. */
	for (unsigned cpu = 0; cpu < sim->cfg.ncpus; cpu++)
		if (atomic_load_explicit(&sim->cpu[cpu].tlb.count, memory_order_relaxed) != 0) {
			check_free_slow(sim, use, size, pa);
			return;
		}
}

struct audit_ctx {
	struct sim *sim;
	unsigned cpu, pcid;
	struct sim_paging pg;
};

static void audit_entry(void *ctx, const struct sim_tlb_entry *e)
{
	struct audit_ctx *a = ctx;
	/* Entries of other PCIDs belong to trees we cannot name. */
	if (!e->global && e->pcid != a->pcid)
		return;
	struct sim_translation cached = sim_tlb_entry_translation(e);
	struct sim_walk w;
	sim_walk_tables(a->sim, &a->pg, e->va_base, &w);
	const char *why = stale_reason(&a->sim->cpu[a->cpu], &cached, &w, /*write=*/false);
	if (why)
		report_stale(a->sim, a->cpu, e->va_base, &cached, &w, why, "TLB holds");
	check_freed(a->sim, a->cpu, e->va_base, &cached, e->table, e->ntables, /*write=*/false, "TLB entry");
}

unsigned sim_tlbsan_audit(struct sim *sim)
{
	unsigned before = sim_tlbsan_reports(sim);
	for (unsigned cpu = 0; cpu < sim->cfg.ncpus; cpu++) {
		struct sim_cpu *c = &sim->cpu[cpu];
		pthread_mutex_lock(&c->tlb.lock);
		struct audit_ctx a = {sim, cpu, sim_cpu_pcid(c), {{0}, 0, 0, false, false}};
		sim_paging_of(sim, c, &a.pg);
		sim_tlb_for_each(&c->tlb, audit_entry, &a);
		pthread_mutex_unlock(&c->tlb.lock);
	}
	return sim_tlbsan_reports(sim) - before;
}
