/* SPDX-License-Identifier: MIT */
/* clock: a process whose working set is three times the machine's memory
 * runs to the end with every byte intact, because the kernel pages out
 * cold pages with a clock (include/mmu64/vm.h, "swap").
 *
 * The software machine has 16 data frames; the process has an anonymous
 * region of 48 pages. The kernel gives its space a swap store (64 pages
 * of this program's memory, reference counted as mmu_vm_swap_ops says).
 * When a fault finds no frame (MMU_VM_NOMEM), the clock harvests the
 * accessed bits of the region (mmu_harvest, which also flushes the
 * cleared bits out of the TLB) and sweeps its hand over the pages: a page
 * used since the last sweep gets a second chance, a cold one is paged out
 * (mmu_vm_page_out); then the access is retried. The next touch of a page
 * that is out pages it back in (counted in `swapin`).
 *
 * The process first writes every byte of its 48 pages, then makes 6000
 * uses: every other one of the 6 hot pages, the rest of a cold page in
 * turn; each use reads 8 bytes and writes one. A copy of every byte the
 * program keeps says what each read must give, and at the end every byte
 * of every page is read back through user accesses. Then the space exits:
 * every frame and every slot must come back, the TLB sanitizer silent.
 *
 * Build against an installed mmu64 (examples/clock/Makefile):
 *     cc -std=c11 clock.c $(pkg-config --cflags --libs mmu64-sim)
 * Exit status 0 when every step gave what it should. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmu64/mmu64.h>
#include <mmu64/sim.h>

#define PAGE 4096u
#define FRAMES 16u /* the machine's data frames */
#define PAGES 48u  /* the process's pages */
#define HOT 6u     /* pages used every other time */
#define USES 6000u
#define SLOTS 64u
#define BASE 0x400000ull

static int failures;

static void step(const char *what, bool ok, const char *got)
{
	printf("%-60s %s%s\n", what, got, ok ? "" : "   <-- unexpected");
	if (!ok)
		failures++;
}

static void step_count(const char *what, unsigned long long got, unsigned long long want)
{
	char s[32];
	snprintf(s, sizeof s, "%llu", got);
	step(what, got == want, s);
}

/* ---- the swap store: SLOTS pages of this program's memory ---- */

struct store {
	struct sim *sim;
	uint8_t page[SLOTS][PAGE];
	unsigned refs[SLOTS];
	unsigned used;
};

static mmu_err_t store_write(void *ctx, mmu_pa_t frame, uint64_t *slot)
{
	struct store *s = ctx;
	for (unsigned i = 0; i < SLOTS; i++) {
		if (s->refs[i] == 0) {
			memcpy(s->page[i], sim_phys(s->sim, frame), PAGE);
			s->refs[i] = 1;
			s->used++;
			*slot = i;
			return MMU_OK;
		}
	}
	return MMU_E_NOMEM; /* full: the page stays in */
}

static mmu_err_t store_read(void *ctx, uint64_t slot, mmu_pa_t frame)
{
	struct store *s = ctx;
	memcpy(sim_phys(s->sim, frame), s->page[slot], PAGE);
	return MMU_OK;
}

static void store_dup(void *ctx, uint64_t slot) { ((struct store *)ctx)->refs[slot]++; }

static void store_free(void *ctx, uint64_t slot)
{
	struct store *s = ctx;
	if (--s->refs[slot] == 0)
		s->used--;
}

static const struct mmu_vm_swap_ops store_ops = {store_write, store_read, store_dup, store_free};

/* ---- the clock ---- */

struct clock {
	struct mmu_vm_space *sp;
	unsigned hand;
	bool referenced[PAGES];
	unsigned long outs[PAGES]; /* page-outs per page */
};

static void clock_saw(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t, unsigned had)
{
	(void)t, (void)had;
	struct clock *c = ctx;
	c->referenced[(va - BASE) / PAGE] = true;
}

/* Page out up to WANT cold pages: how many went. */
static unsigned clock_reclaim(struct clock *c, unsigned want)
{
	mmu_err_t err = mmu_harvest(&c->sp->tree, BASE, PAGES * PAGE, MMU_HARVEST_ACCESSED, clock_saw, c, NULL);
	if (err != MMU_OK && err != MMU_E_NOTEXIST)
		return 0;
	unsigned freed = 0;
	for (unsigned n = 0; n < 2 * PAGES && freed < want; n++) {
		unsigned i = c->hand;
		c->hand = (c->hand + 1) % PAGES;
		if (c->referenced[i]) {
			c->referenced[i] = false; /* a second chance */
			continue;
		}
		if (mmu_vm_page_out(c->sp, BASE + i * PAGE) == MMU_OK) {
			c->outs[i]++;
			freed++;
		}
	}
	return freed;
}

/* ---- the process ---- */

struct proc {
	struct sim *sim;
	struct mmu_vm_space sp;
	struct clock clock;
	uint8_t expect[PAGES][PAGE]; /* every byte the process wrote */
	unsigned long wrong;          /* reads that gave another byte */
	unsigned long peak;           /* the most data frames in use */
};

/* A user access of page I at OFF on CPU 0: each #PF goes to the fault
 * handler, the clock reclaims when it found no frame. False when an
 * access was refused or nothing could be reclaimed. */
static bool use(struct proc *p, enum sim_access_kind kind, unsigned i, unsigned off, uint8_t byte, uint8_t *got)
{
	mmu_vaddr_t va = BASE + i * PAGE + off;
	for (;;) {
		struct sim_access a = sim_access(p->sim, 0, kind, va, true, false, byte);
		unsigned long in_use = sim_frames_in_use(p->sim);
		p->peak = in_use > p->peak ? in_use : p->peak;
		if (a.outcome == SIM_OK) {
			*got = a.byte;
			return true;
		}
		if (a.outcome != SIM_PF)
			return false;
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, MMU_VM_FAULT_ACCESS);
		enum mmu_vm_outcome o = mmu_vm_handle_fault(&p->sp, &f);
		if (o == MMU_VM_NOMEM && clock_reclaim(&p->clock, 2) == 0)
			return false;
		if (o != MMU_VM_NOMEM && !mmu_vm_resolved(o))
			return false;
	}
}

static bool write_byte(struct proc *p, unsigned i, unsigned off, uint8_t byte)
{
	uint8_t got;
	p->expect[i][off] = byte;
	return use(p, SIM_WRITE, i, off, byte, &got);
}

static bool read_check(struct proc *p, unsigned i, unsigned off)
{
	uint8_t got = 0;
	if (!use(p, SIM_READ, i, off, 0, &got))
		return false;
	p->wrong += got != p->expect[i][off];
	return true;
}

static bool fill_all(struct proc *p)
{
	for (unsigned i = 0; i < PAGES; i++)
		for (unsigned off = 0; off < PAGE; off++)
			if (!write_byte(p, i, off, (uint8_t)(i * 31 + off * 7 + 1)))
				return false;
	return true;
}

/* Use N: a hot page every other time, else the next cold one; 8 bytes
 * read, one written. */
static bool use_page(struct proc *p, unsigned n, uint32_t *rng)
{
	unsigned i = n % 2 ? HOT + (n / 2) % (PAGES - HOT) : (n / 2) % HOT;
	for (unsigned k = 0; k < 8; k++) {
		*rng = *rng * 1103515245u + 12345u;
		if (!read_check(p, i, (*rng >> 8) % PAGE))
			return false;
	}
	return write_byte(p, i, (n * 61) % PAGE, (uint8_t)(n ^ i));
}

static bool check_all(struct proc *p)
{
	for (unsigned i = 0; i < PAGES; i++)
		for (unsigned off = 0; off < PAGE; off++)
			if (!read_check(p, i, off))
				return false;
	return true;
}

static void report(struct proc *p, struct store *st)
{
	unsigned long hot = 0, cold = 0;
	for (unsigned i = 0; i < PAGES; i++)
		*(i < HOT ? &hot : &cold) += p->clock.outs[i];
	struct mmu_vm_counters c = mmu_vm_counters_take(&p->sp);
	printf("clock: %lu page-outs of cold pages, %lu of hot ones, %llu page-ins, %u slots in use\n", cold, hot,
	       (unsigned long long)c.swapin, st->used);
	step_count("bytes that read back wrong", p->wrong, 0);
	step("data frames in use never above the machine's 16", p->peak <= FRAMES, p->peak <= FRAMES ? "ok" : "above");
	step("hot pages paged out far less than cold ones", hot * 10 < cold, hot * 10 < cold ? "ok" : "no");
	bool balanced = hot + cold == c.swapin + st->used;
	step("page-outs = page-ins (swapin) + slots still in use", balanced, balanced ? "ok" : "no");
}

static void run(struct sim *sim, struct proc *p, struct store *st)
{
	st->sim = sim;
	p->sim = sim;
	p->clock.sp = &p->sp;
	bool ok = mmu_vm_space_create(sim_mmu(sim), &p->sp) == MMU_OK &&
		  mmu_vm_space_set_swap(&p->sp, &store_ops, st) == MMU_OK &&
		  mmu_vm_region_add(&p->sp, BASE, PAGES * PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0) == MMU_OK;
	step("a space with the store and a region of 48 pages", ok, ok ? "ok" : "failed");
	if (!ok)
		return;
	sim_set_cpu(sim, 0);
	mmu_tree_load(&p->sp.tree);
	bool filled = fill_all(p);
	step("write every byte of the 48 pages", filled, filled ? "done" : "refused");
	uint32_t rng = 1;
	bool used = true;
	for (unsigned n = 0; n < USES && used; n++)
		used = use_page(p, n, &rng);
	step("6000 uses, 8 bytes read and one written each", used, used ? "done" : "refused");
	bool checked = check_all(p);
	step("every byte read back at the end", checked, checked ? "done" : "refused");
	report(p, st);
	mmu_tree_load(mmu_kernel_tree(sim_mmu(sim)));
	step("exit", mmu_vm_space_exit(&p->sp) == MMU_OK, "ok");
	step_count("  data frames in use after exit", sim_frames_in_use(sim), 0);
	step_count("  swap slots in use after exit", st->used, 0);
}

int main(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 1;
	cfg.mem = FRAMES * PAGE;
	struct sim *sim = sim_create(&cfg);
	struct proc *p = calloc(1, sizeof *p);
	struct store *st = calloc(1, sizeof *st);
	if (!sim || !p || !st) {
		fprintf(stderr, "clock: no machine or no memory\n");
		return 1;
	}
	run(sim, p, st);
	step_count("TLB sanitizer reports", sim_tlbsan_reports(sim), 0);
	sim_destroy(sim);
	free(p);
	free(st);
	printf("%s\n", failures ? "clock: FAILED" : "clock: all steps as expected");
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
