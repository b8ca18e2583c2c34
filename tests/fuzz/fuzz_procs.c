/* SPDX-License-Identifier: MIT */
/* The process-space half of fuzz-ops (see fuzz_ops.c): up to four
 * processes on a software machine of 2-4 CPUs (4 or 5 levels, PCIDs with
 * or without INVPCID, KPTI), driven by the input: region add / remove /
 * protect, user accesses on several CPUs through the fault handler (demand
 * zero, copy-on-write, stack growth), copy-to-user, loads, fork, exit.
 *
 * The model, written from the contract in include/mmu64/vm.h alone, is
 * per process and per page of an 8 MiB arena: the region's permissions and
 * kind, and the byte at the one offset the harness touches. So it checks
 * isolation the way a user would see it: a read returns what this process
 * last wrote there (0 on a fresh page) whatever its parent or children
 * wrote after a fork, a permitted access succeeds, a forbidden one is
 * refused, every refusal left things alone. Stack growth is the one part
 * the model does not predict (the guard gap and the limit): below a stack
 * either answer is taken, and the model follows the library's region.
 * The TLB sanitizer must stay silent throughout. Before the teardown
 * every leaf lies in a region over a frame holding the model's byte, a
 * frame's refcount counts the leaves that map it, a shared frame is
 * writable through none of them, and (KPTI) every shadow passes its audit,
 * as after each fork; after it every frame and table must be back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "tests/fuzz/fuzz_bytes.h"

#define NPROCS 4
#define PG 0x1000ull
#define ABASE 0x10000000ull /* the arena the model follows */
#define APAGES 2048u        /* 8 MiB */
#define OFF 0x10u           /* the offset in each page the harness reads and writes */
#define MAX_OPS 3000

struct ppage {
	uint8_t prot; /* MMU_PROT_R|W|X of the region here; 0: no region */
	uint8_t kind; /* enum mmu_vm_kind */
	uint8_t byte; /* at OFF */
};

struct fproc {
	bool used;
	struct mmu_vm_space sp;
	struct ppage pg[APAGES];
};

static struct {
	struct sim *sim;
	struct mmu *mmu;
	unsigned ncpus, levels;
	bool kpti;
	struct mmu_kpti template;
	struct fproc proc[NPROCS];
	int loaded[MMU_MAX_CPUS]; /* process index per CPU, -1: the kernel tree */
	uint64_t frames0, tables0;
	unsigned recent[8], nrecent; /* pages accessed last, to come back to */
	unsigned op;
	char desc[160];
} P;

#define FAIL(...)                                                                                      \
	FUZZ_FAIL("process op %u (%s): %s", P.op, P.desc, (snprintf(fail_msg, sizeof fail_msg, __VA_ARGS__), fail_msg))
static char fail_msg[256];
static bool trace; /* FUZZ_OPS_TRACE=1: print every operation */

static void describe(const char *fmt, unsigned a, unsigned b, unsigned c, unsigned d)
{
	snprintf(P.desc, sizeof P.desc, fmt, a, b, c, d);
}

static void expect(mmu_err_t got, mmu_err_t want)
{
	if (got != want)
		FAIL("returned %s, expected %s", mmu_err_name(got), mmu_err_name(want));
}

static void check_sanitizer(void)
{
	if (sim_tlbsan_reports(P.sim))
		FAIL("the TLB sanitizer reported: %s", sim_tlbsan_last(P.sim));
}

static mmu_vaddr_t page_va(unsigned page) { return ABASE + page * PG; }

/* ---- choices ---- */

static int pick_proc(bool used)
{
	unsigned start = (unsigned)fuzz_below(NPROCS);
	for (unsigned i = 0; i < NPROCS; i++) {
		unsigned k = (start + i) % NPROCS;
		if (P.proc[k].used == used)
			return (int)k;
	}
	return -1;
}

/* A run of pages [*FIRST, *FIRST + *N) inside the arena, mostly short and
 * crowded into the first quarter so that regions meet. */
static void pick_range(unsigned *first, unsigned *n)
{
	unsigned span = fuzz_chance(75) ? APAGES / 4 : APAGES;
	*first = (unsigned)fuzz_below(span);
	*n = 1 + (unsigned)fuzz_below(fuzz_chance(80) ? 16 : 512);
	if (*first + *n > APAGES)
		*n = APAGES - *first;
}

static unsigned pick_prot(void)
{
	unsigned prot = (unsigned)fuzz_below(8) & (MMU_PROT_W | MMU_PROT_X);
	return prot | (fuzz_chance(92) ? MMU_PROT_R : 0) | (fuzz_chance(10) ? MMU_PROT_U : 0);
}

/* A page to access: half the time one accessed lately (so that a CPU
 * comes back to what another one changed), mostly the first region page
 * from a random place, sometimes any page. */
static unsigned pick_page(const struct fproc *p)
{
	unsigned k = (unsigned)fuzz_below(10), page;
	unsigned nrecent = P.nrecent < 8 ? P.nrecent : 8;
	if (k < 5 && nrecent) {
		page = P.recent[fuzz_below(nrecent)];
	} else {
		page = (unsigned)fuzz_below(fuzz_chance(75) ? APAGES / 4 : APAGES);
		for (unsigned q = page; k < 9 && q < APAGES; q++)
			if (p->pg[q].prot) {
				page = q;
				break;
			}
	}
	P.recent[P.nrecent++ % 8] = page;
	return page;
}

/* ---- the model's questions ---- */

static bool any_region(const struct fproc *p, unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++)
		if (p->pg[i].prot)
			return true;
	return false;
}

static bool loaded_anywhere(int idx)
{
	for (unsigned c = 0; c < P.ncpus; c++)
		if (P.loaded[c] == idx)
			return true;
	return false;
}

/* Below a stack (the next region page above is a stack's) the stack may
 * grow: the model takes either answer. */
static bool may_grow(const struct fproc *p, unsigned page, unsigned *stack_page)
{
	for (unsigned q = page + 1; q < APAGES; q++)
		if (p->pg[q].prot) {
			*stack_page = q;
			return p->pg[q].kind == MMU_VM_STACK;
		}
	return false;
}

/* After a fault below a stack: the pages the library's stack now covers. */
static void follow_growth(struct fproc *p, unsigned page, unsigned stack_page)
{
	for (unsigned q = page; q < stack_page; q++) {
		const struct mmu_vm_region *r = mmu_vm_region_at(&p->sp, page_va(q));
		if (!r)
			continue;
		if (r->kind != MMU_VM_STACK)
			FAIL("page 0x%llx became part of a region of kind %u", (unsigned long long)page_va(q), r->kind);
		p->pg[q] = (struct ppage){(uint8_t)(r->prot & (MMU_PROT_R | MMU_PROT_W | MMU_PROT_X)),
					  MMU_VM_STACK, 0};
	}
}

/* ---- the kernel's part: user accesses through the fault handler ---- */

enum uresult { U_OK, U_SEGV };

static const char *kind_name(enum sim_access_kind kind)
{
	return kind == SIM_READ ? "read" : kind == SIM_WRITE ? "write" : "exec";
}

/* One user-mode access by CPU (running P there), the way a kernel runs
 * it: exit to user mode (KPTI: the shadow's CR3), the access, entry on a
 * fault (the space's CR3), the handler, and a retry. */
static enum uresult user_access(struct fproc *p, unsigned cpu, enum sim_access_kind kind, mmu_vaddr_t va,
				uint8_t byte, uint8_t *read)
{
	for (unsigned i = 0; i < 4; i++) {
		sim_set_cpu(P.sim, cpu);
		if (P.kpti)
			sim_write_cr3(P.sim, cpu, mmu_vm_user_cr3(&p->sp));
		struct sim_access a = sim_access(P.sim, cpu, kind, va, /*user=*/true, /*ac=*/false, byte);
		if (P.kpti)
			sim_write_cr3(P.sim, cpu, mmu_vm_kernel_cr3(&p->sp));
		if (a.outcome == SIM_OK) {
			*read = a.byte;
			return U_OK;
		}
		if (a.outcome != SIM_PF)
			FAIL("a user %s gave #GP", kind_name(kind));
		if (a.cr2 != va)
			FAIL("cr2 0x%llx", (unsigned long long)a.cr2);
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, MMU_VM_FAULT_ACCESS);
		enum mmu_vm_outcome out = mmu_vm_handle_fault(&p->sp, &f);
		if (!mmu_vm_resolved(out)) {
			if (out != MMU_VM_SEGV)
				FAIL("a user fault (error 0x%x) ended in outcome %u", a.error_code, out);
			return U_SEGV;
		}
	}
	FAIL("four faults in a row");
}

static bool allowed(const struct ppage *pg, enum sim_access_kind kind)
{
	if (!pg->prot)
		return false;
	return kind == SIM_READ || (kind == SIM_WRITE && (pg->prot & MMU_PROT_W)) ||
	       (kind == SIM_EXEC && (pg->prot & MMU_PROT_X));
}

static void do_access(void)
{
	static const enum sim_access_kind kinds[] = {SIM_READ, SIM_READ, SIM_WRITE, SIM_WRITE, SIM_EXEC};
	unsigned cpu = (unsigned)fuzz_below(P.ncpus);
	int idx = P.loaded[cpu];
	if (idx < 0)
		return;
	struct fproc *p = &P.proc[idx];
	enum sim_access_kind kind = kinds[fuzz_below(5)];
	unsigned page = pick_page(p), stack_page = 0;
	uint8_t byte = (uint8_t)fuzz_below(256), got = 0;
	snprintf(P.desc, sizeof P.desc, "user %s by cpu %u of proc %d at 0x%llx byte 0x%02x", kind_name(kind), cpu,
		 idx, (unsigned long long)(page_va(page) + OFF), byte);
	struct ppage *pg = &p->pg[page];
	bool grows = !pg->prot && may_grow(p, page, &stack_page);
	enum uresult r = user_access(p, cpu, kind, page_va(page) + OFF, byte, &got);
	if (grows) {
		follow_growth(p, page, stack_page);
		if (r == U_OK && !allowed(pg, kind))
			FAIL("the stack grew to a page that does not allow the access");
	} else if ((r == U_OK) != allowed(pg, kind)) {
		FAIL("%s, the model says %s (region prot 0x%x)", r == U_OK ? "done" : "refused",
		     allowed(pg, kind) ? "allowed" : "refused", pg->prot);
	}
	if (r != U_OK)
		return;
	if (kind == SIM_READ && got != pg->byte)
		FAIL("read 0x%02x, the process last wrote 0x%02x there", got, pg->byte);
	if (kind == SIM_WRITE)
		pg->byte = byte;
}

/* The store of copy-to-user: a supervisor write with EFLAGS.AC set. */
static uint32_t kernel_store(void *ctx, mmu_vaddr_t va, const uint8_t *src, size_t len)
{
	unsigned cpu = *(const unsigned *)ctx;
	for (size_t i = 0; i < len; i++) {
		struct sim_access a = sim_access(P.sim, cpu, SIM_WRITE, va + i, false, true, src[i]);
		if (a.outcome == SIM_PF)
			return a.error_code;
		if (a.outcome != SIM_OK)
			FAIL("copy-to-user store gave #GP");
	}
	return 0;
}

static void do_copy_to_user(void)
{
	unsigned cpu = (unsigned)fuzz_below(P.ncpus);
	int idx = P.loaded[cpu];
	if (idx < 0)
		return;
	struct fproc *p = &P.proc[idx];
	unsigned page = pick_page(p), stack_page = 0;
	uint8_t byte = (uint8_t)fuzz_below(256);
	uint32_t error_code = 0;
	snprintf(P.desc, sizeof P.desc, "copy-to-user by cpu %u of proc %d at 0x%llx byte 0x%02x", cpu, idx,
		 (unsigned long long)(page_va(page) + OFF), byte);
	struct ppage *pg = &p->pg[page];
	bool grows = !pg->prot && may_grow(p, page, &stack_page);
	sim_set_cpu(P.sim, cpu);
	expect(mmu_vm_copy_to_user(&p->sp, page_va(page) + OFF, &byte, 1, kernel_store, &cpu, &error_code), MMU_OK);
	if (grows)
		follow_growth(p, page, stack_page);
	else if ((error_code == 0) != allowed(pg, SIM_WRITE))
		FAIL("copy-to-user %s (error 0x%x), the model says %s", error_code ? "refused" : "done", error_code,
		     allowed(pg, SIM_WRITE) ? "allowed" : "refused");
	if (error_code == 0)
		pg->byte = byte;
}

/* ---- process operations ---- */

static void do_create(void)
{
	int idx = pick_proc(false);
	if (idx < 0)
		return;
	struct fproc *p = &P.proc[idx];
	describe("create proc %u", (unsigned)idx, 0, 0, 0);
	expect(mmu_vm_space_create(P.mmu, &p->sp), MMU_OK);
	if (P.kpti)
		expect(mmu_vm_kpti_enable(&p->sp, &P.template), MMU_OK);
	memset(p->pg, 0, sizeof p->pg);
	p->used = true;
}

static void do_region_add(struct fproc *p, int idx)
{
	static const enum mmu_vm_kind kinds[] = {MMU_VM_ANON, MMU_VM_ANON, MMU_VM_STACK, MMU_VM_EAGER};
	unsigned first, n, prot = pick_prot();
	enum mmu_vm_kind kind = kinds[fuzz_below(4)];
	uint64_t max = 0;
	pick_range(&first, &n);
	if (kind == MMU_VM_STACK && fuzz_chance(60))
		max = (n + fuzz_below(APAGES)) * PG;
	describe("region add proc %u pages %u+%u prot 0x%x", (unsigned)idx, first, n, prot);
	snprintf(P.desc + strlen(P.desc), sizeof P.desc - strlen(P.desc), " kind %u max 0x%llx", kind,
		 (unsigned long long)max);
	mmu_err_t want = !(prot & MMU_PROT_R) ? MMU_E_INVALID_PERMISSION
			 : any_region(p, first, n) ? MMU_E_DUPLICATED : MMU_OK;
	mmu_err_t got = mmu_vm_region_add(&p->sp, page_va(first), n * PG, prot, kind, max);
	if (want == MMU_OK && got == MMU_E_NOSPACE && p->sp.nregions == p->sp.region_cap)
		return;
	expect(got, want);
	if (got != MMU_OK)
		return;
	for (unsigned i = first; i < first + n; i++)
		p->pg[i] = (struct ppage){(uint8_t)(prot & ~MMU_PROT_U), (uint8_t)kind, 0};
}

static void do_region_change(struct fproc *p, int idx, bool remove)
{
	unsigned first, n, prot = remove ? 0 : pick_prot();
	pick_range(&first, &n);
	describe(remove ? "region remove proc %u pages %u+%u" : "region protect proc %u pages %u+%u prot 0x%x",
		 (unsigned)idx, first, n, prot);
	mmu_err_t want = !remove && !(prot & MMU_PROT_R) ? MMU_E_INVALID_PERMISSION
			 : !any_region(p, first, n) ? MMU_E_NOTEXIST : MMU_OK;
	mmu_err_t got = remove ? mmu_vm_region_remove(&p->sp, page_va(first), n * PG)
			       : mmu_vm_region_protect(&p->sp, page_va(first), n * PG, prot);
	/* Cutting regions takes slots; near capacity NOSPACE is the answer. */
	if (want == MMU_OK && got == MMU_E_NOSPACE && p->sp.nregions + 2 > p->sp.region_cap)
		return;
	expect(got, want);
	if (got != MMU_OK)
		return;
	for (unsigned i = first; i < first + n; i++) {
		if (remove)
			p->pg[i] = (struct ppage){0};
		else if (p->pg[i].prot)
			p->pg[i].prot = (uint8_t)(prot & ~MMU_PROT_U);
	}
}

/* Arguments every region call refuses before looking at the regions. */
static void do_region_invalid(struct fproc *p, int idx)
{
	mmu_vaddr_t hole = 1ull << (mmu_va_bits(P.levels) - 1); /* the user half's end */
	const struct {
		mmu_vaddr_t va;
		uint64_t len;
		mmu_err_t want;
	} c[] = {
		{0, PG, MMU_E_INVALID},                         /* page 0 */
		{ABASE, 0, MMU_E_INVALID},                      /* empty */
		{0xffffc80000000000ull, PG, MMU_E_INVALID},     /* the kernel half */
		{hole - PG, 2 * PG, MMU_E_INVALID},             /* runs into the hole */
		{hole, PG, MMU_E_INVALID},                      /* non-canonical */
		{~0ull - PG + 1, 2 * PG, MMU_E_INVALID},        /* wraps */
		{ABASE + 8, PG, MMU_E_UNALIGNED},
		{ABASE, PG + 8, MMU_E_UNALIGNED},
	};
	unsigned i = (unsigned)fuzz_below(sizeof c / sizeof c[0]), what = (unsigned)fuzz_below(3);
	describe("invalid region call %u (case %u) proc %u", what, i, (unsigned)idx, 0);
	unsigned nregions = p->sp.nregions;
	mmu_err_t got = what == 0   ? mmu_vm_region_add(&p->sp, c[i].va, c[i].len, MMU_PROT_R, MMU_VM_ANON, 0)
			: what == 1 ? mmu_vm_region_remove(&p->sp, c[i].va, c[i].len)
				    : mmu_vm_region_protect(&p->sp, c[i].va, c[i].len, MMU_PROT_R);
	expect(got, c[i].want);
	if (p->sp.nregions != nregions)
		FAIL("a refused call changed the regions");
}

static void do_region_op(void)
{
	int idx = pick_proc(true);
	if (idx < 0)
		return;
	struct fproc *p = &P.proc[idx];
	sim_set_cpu(P.sim, (unsigned)fuzz_below(P.ncpus)); /* library calls from any CPU */
	unsigned k = (unsigned)fuzz_below(10);
	if (k < 4)
		do_region_add(p, idx);
	else if (k < 6)
		do_region_change(p, idx, true);
	else if (k < 9)
		do_region_change(p, idx, false);
	else
		do_region_invalid(p, idx);
}

static void do_load(void)
{
	unsigned cpu = (unsigned)fuzz_below(P.ncpus);
	int idx = fuzz_chance(25) ? -1 : pick_proc(true);
	if (idx < 0)
		describe("load cpu %u kernel", cpu, 0, 0, 0);
	else
		describe("load cpu %u proc %u", cpu, (unsigned)idx, 0, 0);
	sim_set_cpu(P.sim, cpu);
	mmu_tree_load(idx < 0 ? mmu_kernel_tree(P.mmu) : &P.proc[idx].sp.tree);
	P.loaded[cpu] = idx;
}

static void do_fork(void)
{
	int parent = pick_proc(true), child = pick_proc(false);
	if (parent < 0 || child < 0)
		return;
	describe("fork proc %u -> proc %u", (unsigned)parent, (unsigned)child, 0, 0);
	sim_set_cpu(P.sim, (unsigned)fuzz_below(P.ncpus));
	expect(mmu_vm_fork(&P.proc[parent].sp, &P.proc[child].sp), MMU_OK);
	memcpy(P.proc[child].pg, P.proc[parent].pg, sizeof P.proc[child].pg);
	P.proc[child].used = true;
	if (P.kpti && (mmu_vm_kpti_audit(&P.proc[parent].sp, NULL, NULL) || mmu_vm_kpti_audit(&P.proc[child].sp, NULL, NULL)))
		FAIL("a KPTI audit after fork found violations");
}

static void do_exit(void)
{
	int idx = pick_proc(true);
	if (idx < 0)
		return;
	bool busy = loaded_anywhere(idx);
	describe("exit proc %u (loaded %u)", (unsigned)idx, busy, 0, 0);
	sim_set_cpu(P.sim, (unsigned)fuzz_below(P.ncpus));
	expect(mmu_vm_space_exit(&P.proc[idx].sp), busy ? MMU_E_BUSY : MMU_OK);
	if (!busy)
		P.proc[idx].used = false;
}

static void one_op(void)
{
	unsigned k = (unsigned)fuzz_below(100);
	snprintf(P.desc, sizeof P.desc, "nothing to do (choice %u)", k);
	if (k < 5)
		do_create();
	else if (k < 30)
		do_region_op();
	else if (k < 70)
		do_access();
	else if (k < 75)
		do_copy_to_user();
	else if (k < 88)
		do_load();
	else if (k < 95)
		do_fork();
	else
		do_exit();
	if (trace)
		fprintf(stderr, "  op %u: %s\n", P.op, P.desc);
	sim_set_cpu(P.sim, 0);
	check_sanitizer();
}

/* ---- what the tables must say at the end ---- */

struct leaf_ref {
	uint64_t frame;
	bool writable;
};

static int by_frame(const void *a, const void *b)
{
	uint64_t x = ((const struct leaf_ref *)a)->frame, y = ((const struct leaf_ref *)b)->frame;
	return x < y ? -1 : x > y;
}

/* Every leaf of the arena, over every process: only inside a region, over
 * a frame holding the byte the model says; a frame's refcount is the
 * number of leaves mapping it, and a frame two leaves share is writable
 * through neither (copy-on-write). KPTI: each shadow passes its audit. */
static void check_frames(void)
{
	static struct leaf_ref refs[NPROCS * APAGES];
	size_t n = 0;
	snprintf(P.desc, sizeof P.desc, "the frames before teardown");
	for (unsigned i = 0; i < NPROCS; i++) {
		struct fproc *p = &P.proc[i];
		if (!p->used)
			continue;
		if (P.kpti && mmu_vm_kpti_audit(&p->sp, NULL, NULL) != 0)
			FAIL("the KPTI audit of proc %u found violations", i);
		for (unsigned q = 0; q < APAGES; q++) {
			struct mmu_translation tr;
			if (mmu_walk(&p->sp.tree, page_va(q) + OFF, &tr) != MMU_OK)
				continue;
			if (!p->pg[q].prot)
				FAIL("proc %u maps 0x%llx outside its regions", i, (unsigned long long)page_va(q));
			uint8_t mem = *sim_phys(P.sim, tr.pa);
			if (mem != p->pg[q].byte)
				FAIL("proc %u's frame at 0x%llx holds 0x%02x, the process last wrote 0x%02x", i,
				     (unsigned long long)page_va(q), mem, p->pg[q].byte);
			refs[n++] = (struct leaf_ref){tr.pa.bits & ~(PG - 1), (tr.prot & MMU_PROT_W) != 0};
		}
	}
	qsort(refs, n, sizeof refs[0], by_frame);
	for (size_t i = 0, j; i < n; i = j) {
		bool writable = false;
		for (j = i; j < n && refs[j].frame == refs[i].frame; j++)
			writable |= refs[j].writable;
		uint32_t count = sim_frame_meta(P.sim, mmu_pa(refs[i].frame))->refcount;
		if (count != j - i)
			FAIL("frame 0x%llx has refcount %u, %zu leaves map it", (unsigned long long)refs[i].frame, count,
			     j - i);
		if (j - i > 1 && writable)
			FAIL("frame 0x%llx is shared by %zu leaves and writable", (unsigned long long)refs[i].frame, j - i);
	}
}

/* ---- the run ---- */

static void setup(void)
{
	struct sim_config cfg;
	memset(&P, 0, sizeof P);
	trace = getenv("FUZZ_OPS_TRACE") != NULL;
	sim_config_default(&cfg);
	cfg.levels = fuzz_chance(50) ? 5 : 4;
	cfg.ncpus = 2 + (unsigned)fuzz_below(3);
	cfg.mem = 256ull << 20;
	cfg.pcide = fuzz_chance(50);
	cfg.no_invpcid = cfg.pcide && fuzz_chance(40);
	P.kpti = fuzz_chance(40);
	P.sim = sim_create(&cfg);
	if (!P.sim)
		FUZZ_FAIL("no software machine");
	P.mmu = sim_mmu(P.sim);
	P.ncpus = cfg.ncpus;
	P.levels = cfg.levels;
	for (unsigned c = 0; c < MMU_MAX_CPUS; c++)
		P.loaded[c] = -1;
	snprintf(P.desc, sizeof P.desc, "setup levels=%u cpus=%u pcid=%u invpcid=%u kpti=%u", cfg.levels, cfg.ncpus,
		 cfg.pcide, !cfg.no_invpcid, P.kpti);
	if (trace)
		fprintf(stderr, "  %s\n", P.desc);
	P.frames0 = sim_frames_in_use(P.sim);
	P.tables0 = sim_tables_in_use(P.sim);
	if (P.kpti)
		expect(mmu_kpti_init(P.mmu, &P.template, NULL, 0), MMU_OK);
}

static void teardown(void)
{
	check_frames();
	snprintf(P.desc, sizeof P.desc, "teardown");
	for (unsigned c = 0; c < P.ncpus; c++) {
		sim_set_cpu(P.sim, c);
		mmu_tree_load(mmu_kernel_tree(P.mmu));
		P.loaded[c] = -1;
	}
	sim_set_cpu(P.sim, 0);
	for (unsigned i = 0; i < NPROCS; i++)
		if (P.proc[i].used)
			expect(mmu_vm_space_exit(&P.proc[i].sp), MMU_OK);
	if (P.kpti)
		mmu_kpti_fini(&P.template);
	check_sanitizer();
	if (sim_frames_in_use(P.sim) != P.frames0 || sim_tables_in_use(P.sim) != P.tables0 ||
	    mmu_user_tables(P.mmu) != 0)
		FAIL("after every exit: %llu frames and %llu tables in use (started with %llu and %llu), %lld user tables",
		     (unsigned long long)sim_frames_in_use(P.sim), (unsigned long long)sim_tables_in_use(P.sim),
		     (unsigned long long)P.frames0, (unsigned long long)P.tables0, (long long)mmu_user_tables(P.mmu));
	sim_destroy(P.sim);
}

void fuzz_procs_run(void)
{
	setup();
	for (P.op = 0; P.op < MAX_OPS && fuzz_more(); P.op++)
		one_op();
	teardown();
}
