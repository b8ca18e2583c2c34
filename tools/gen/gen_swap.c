/* SPDX-License-Identifier: MIT */
/* Random process-swap commands (docs/VECTORS-INSPECT.md, "Swap"): swap
 * (a process's store), pageout, swapped, and what pages back in or
 * carries swap entries along: touches of the page from the process's
 * CPU (read, write, kwrite), fork of a process with pages out, exit of
 * one (its slots freed), faults (swapin=).
 *
 * They draw from a stream of their own (g->srng), as the object
 * commands do (gen_object.c): a seed's file keeps its other commands,
 * with swap lines in between, and differs further on only where the
 * model they aim with changed (a process a touch loaded, an exit, a
 * fork). A page-out changes nothing the model knows: the page comes back
 * with its bytes on the next touch (a kwrite of 0xc3 before an exec
 * included), and the frames it frees only make room. */
#include "tools/gen/gen.h"

#define K4 0x1000ull
#define WEIGHT 6 /* per 96 of the other commands' weights */

static bool enabled(const struct gen *g) { return gen_has(g, GEN_F_PROCS) && gen_has(g, GEN_F_SWAP); }

bool gen_swap_turn(struct gen *g) { return enabled(g) && gen_stream_turn(g, &g->srng, WEIGHT); }

/* ---- picks ---- */

/* A live process: with a store (as the model believes) when WITH_STORE,
 * loadable (not a ghost) when LOADABLE, with regions when REGIONS. */
static int pick_proc_where(struct gen *g, bool with_store, bool loadable, bool regions)
{
	unsigned start = gen_below(g, GEN_PROCS);
	for (unsigned k = 0; k < GEN_PROCS; k++) {
		unsigned i = (start + k) % GEN_PROCS;
		const struct gen_proc *p = &g->proc[i];
		if (p->live && (!with_store || p->swap) && (!loadable || !p->ghost) && (!regions || p->nregions))
			return (int)i;
	}
	return -1;
}

/* A live, loadable process with a store and regions, else a loadable
 * one with regions, else any live one with a store. */
static int pick_proc_aim(struct gen *g)
{
	int p = pick_proc_where(g, true, true, true);
	if (p < 0)
		p = pick_proc_where(g, true, false, true);
	if (p < 0)
		p = pick_proc_where(g, false, true, true);
	return p;
}

/* A live process mostly; a name that surely is not one for INVALID. */
static int target_proc(struct gen *g, bool with_store, char *name, size_t n)
{
	int p = with_store ? pick_proc_aim(g) : pick_proc_where(g, false, false, false);
	if (p < 0)
		p = pick_proc_where(g, false, false, false);
	if (p < 0 || gen_error(g, 4)) {
		int free_slot = gen_first_free_proc(g);
		if (free_slot < 0)
			snprintf(name, n, "kernel");
		else
			snprintf(name, n, "P%d", free_slot);
		return -1;
	}
	snprintf(name, n, "P%d", p);
	return p;
}

/* A page of one of P's regions (or just below a stack, where it grew;
 * now and then an object region's page, which cannot go out). */
static uint64_t region_page(struct gen *g, const struct gen_proc *p)
{
	if (p->noregions && gen_chance(g, 8)) {
		const struct gen_oregion *o = &p->oregion[gen_below(g, p->noregions)];
		return o->va + K4 * (gen_next(g) % (o->len / K4));
	}
	const struct gen_region *r = gen_regions_pick(g, p);
	if (!r)
		return 0x400000ull + (uint64_t)gen_below(g, 6) * (1ull << 20);
	if (r->kind == GEN_STACK && gen_chance(g, 20))
		return r->va - K4 * (1 + gen_below(g, 3));
	return r->va + K4 * (gen_next(g) % (r->len / K4));
}

/* A touch of the page at VA from P's CPU: a fault that makes it
 * resident, or pages it back in. */
static void touch(struct gen *g, int p, uint64_t va)
{
	unsigned cpu = gen_cpu_running(g, p);
	va += gen_below(g, 4096);
	unsigned roll = gen_below(g, 100);
	if (roll < 45)
		gen_line(g, "read %u 0x%llx user", cpu, (unsigned long long)va);
	else if (roll < 85)
		gen_line(g, "write %u 0x%llx 0x%02x user", cpu, (unsigned long long)va, gen_below(g, 256));
	else
		gen_line(g, "kwrite %u 0x%llx 0x%02x", cpu, (unsigned long long)va, gen_below(g, 256));
}

/* ---- the commands ---- */

/* `swap P SLOTS`: mostly for a process without a store yet (BUSY while
 * one has pages out, NOMEM beyond the 8 stores, objects' included). */
static void cmd_swap(struct gen *g)
{
	int p = pick_proc_where(g, false, false, false);
	if (p >= 0 && g->proc[p].swap && gen_chance(g, 70)) { /* rather one without */
		for (unsigned i = 0; i < GEN_PROCS; i++)
			if (g->proc[i].live && !g->proc[i].swap) {
				p = (int)i;
				break;
			}
	}
	char name[16];
	if (p < 0 || gen_error(g, 4))
		snprintf(name, sizeof name, "kernel");
	else
		snprintf(name, sizeof name, "P%d", p);
	unsigned slots = gen_chance(g, 70) ? 1 + gen_below(g, 4) : 1 + gen_below(g, 16);
	if (gen_error(g, 6))
		slots = gen_chance(g, 50) ? 0 : 17;
	gen_line(g, "swap %s %u", name, slots);
	if (p >= 0 && name[0] == 'P' && slots >= 1 && slots <= 16)
		g->proc[p].swap = true; /* may have been refused: aiming only */
}

/* `pageout P VA`: mostly of a page just touched (so resident), now and
 * then several pages in a row (the store fills: NOMEM), a `swapped`
 * after, and a touch that pages it back in. */
static void cmd_pageout(struct gen *g)
{
	char name[16];
	int p = target_proc(g, true, name, sizeof name);
	if (p < 0) {
		gen_line(g, "pageout %s 0x%llx", name, 0x400000ull + K4 * gen_below(g, 16));
		return;
	}
	const struct gen_proc *pr = &g->proc[p];
	bool loadable = !pr->ghost;
	if (!pr->swap && gen_chance(g, 70)) { /* a store first */
		gen_line(g, "swap P%d %u", p, 1 + gen_below(g, 4));
		g->proc[p].swap = true;
	}
	unsigned n = gen_chance(g, 25) ? 2 + gen_below(g, 4) : 1;
	uint64_t last = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t va = region_page(g, pr);
		if (loadable && gen_chance(g, 75))
			touch(g, p, va);
		if (gen_error(g, 4))
			va += gen_chance(g, 50) ? 0x800 : 0x10;
		gen_line(g, "pageout P%d 0x%llx", p, (unsigned long long)va);
		if (gen_chance(g, 10)) /* already out: NOTEXIST */
			gen_line(g, "pageout P%d 0x%llx", p, (unsigned long long)va);
		last = va & ~(K4 - 1);
		unsigned k = g->npagedout++ % 8;
		g->pagedout[k].proc = p;
		g->pagedout[k].va = last;
	}
	if (gen_chance(g, 35))
		gen_line(g, "swapped P%d", p);
	if (loadable && gen_chance(g, 40))
		touch(g, p, last);
}

/* A touch of a page that may be out (page-in), from the process's CPU:
 * mostly one a recent `pageout` named. */
static void cmd_touch(struct gen *g)
{
	unsigned n = g->npagedout < 8 ? g->npagedout : 8;
	if (n && gen_chance(g, 70)) {
		unsigned i = gen_below(g, n);
		int p = g->pagedout[i].proc;
		if (g->proc[p].live && !g->proc[p].ghost) {
			touch(g, p, g->pagedout[i].va);
			return;
		}
	}
	int p = pick_proc_aim(g);
	if (p < 0 || g->proc[p].ghost)
		return;
	uint64_t va = region_page(g, &g->proc[p]);
	touch(g, p, va);
}

static void cmd_swapped(struct gen *g)
{
	char name[16];
	target_proc(g, true, name, sizeof name);
	gen_line(g, "swapped %s", name);
}

static void cmd_faults(struct gen *g)
{
	char name[16];
	target_proc(g, true, name, sizeof name);
	gen_line(g, "faults %s", name);
}

/* A fork of a process with a store (its swap entries and store go to
 * the child), after a page-out now and then; a `swapped` of the child. */
static void cmd_fork(struct gen *g)
{
	int p = pick_proc_where(g, true, false, true);
	int q = gen_first_free_proc(g);
	if (p < 0 || q < 0)
		return;
	if (gen_chance(g, 50)) {
		uint64_t va = region_page(g, &g->proc[p]);
		if (!g->proc[p].ghost && gen_chance(g, 50))
			touch(g, p, va);
		gen_line(g, "pageout P%d 0x%llx", p, (unsigned long long)va);
	}
	gen_line(g, "fork P%d P%d", p, q);
	gen_fork_model(g, p, q);
	if (gen_chance(g, 50))
		gen_line(g, "swapped P%d", q);
}

/* An exit of a process with a store (its slots freed): the CPUs that run
 * it load `kernel` first, so that it is not BUSY. */
static void cmd_exit(struct gen *g)
{
	int p = pick_proc_where(g, true, false, false);
	if (p < 0)
		return;
	if (gen_chance(g, 50))
		gen_line(g, "swapped P%d", p);
	for (unsigned cpu = 0; cpu < g->m.cpus; cpu++)
		if (g->active[cpu].kind == GEN_T_PROC && g->active[cpu].i == p) {
			gen_line(g, "load %u kernel", cpu);
			g->active[cpu] = (struct gen_ref){GEN_T_KERNEL, 0};
		}
	gen_line(g, "exit P%d", p);
	g->proc[p].live = false;
	if (gen_chance(g, 15))
		gen_line(g, "swapped P%d", p); /* INVALID now */
}

static void one(struct gen *g)
{
	static const struct gen_cmd mix[] = {
		{cmd_swap, 8, 0}, {cmd_pageout, 42, 0}, {cmd_touch, 22, 0}, {cmd_swapped, 10, 0},
		{cmd_faults, 4, 0}, {cmd_fork, 8, 0},   {cmd_exit, 4, 0},
	};
	if (pick_proc_where(g, true, false, false) < 0) { /* a store to work with first */
		if (pick_proc_where(g, false, false, false) >= 0)
			cmd_swap(g);
		return;
	}
	gen_run_mix(g, mix, sizeof mix / sizeof mix[0]);
}

void gen_cmd_swap(struct gen *g) { gen_with_stream(g, &g->srng, one); }
