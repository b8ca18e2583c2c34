/* SPDX-License-Identifier: MIT */
/* Random memory-object commands (docs/VECTORS-INSPECT.md, "Shared and
 * pager-backed memory"): object robject omappers opageout oaccessed
 * oswap orefs orelease, and the touches that fault object pages in
 * (read, write, kwrite in an object region, a fork of a process that
 * maps objects).
 *
 * They draw from a stream of their own (g->orng), so that a seed's other
 * choices stay those it made before objects existed: the file gets
 * object lines in between, and its other commands change only where the
 * model they aim with does. Object regions are modelled apart from the
 * others (struct gen_oregion): never an exec target, and whatever
 * overlaps one is doubtful. */
#include "tools/gen/gen.h"

#define K4 0x1000ull
#define OBJECT_PAGES 16 /* the interpreter's VEC_OBJECT_PAGES */
#define OBJECT_VA 0xa00000ull /* above the other regions' slots, below nothing that grows */
#define WEIGHT 9 /* per 96 of the other commands' weights */

static bool enabled(const struct gen *g) { return gen_has(g, GEN_F_PROCS) && gen_has(g, GEN_F_OBJECTS); }

bool gen_object_turn(struct gen *g) { return enabled(g) && gen_stream_turn(g, &g->orng, WEIGHT); }

/* ---- picks ---- */

static int pick_object(struct gen *g, bool live)
{
	unsigned start = gen_below(g, GEN_OBJECTS);
	for (unsigned k = 0; k < GEN_OBJECTS; k++) {
		unsigned i = (start + k) % GEN_OBJECTS;
		if (g->object[i].live == live)
			return (int)i;
	}
	return -1;
}

/* A live object's name mostly; O9, which never exists, for INVALID. */
static int target_object(struct gen *g, char *name, size_t n)
{
	int o = pick_object(g, true);
	if (o < 0 || gen_error(g, 4)) {
		snprintf(name, n, "O9");
		return -1;
	}
	snprintf(name, n, "O%d", o);
	return o;
}

static int pick_proc_where(struct gen *g, bool with_oregions, bool loadable)
{
	unsigned start = gen_below(g, GEN_PROCS);
	for (unsigned k = 0; k < GEN_PROCS; k++) {
		unsigned i = (start + k) % GEN_PROCS;
		const struct gen_proc *p = &g->proc[i];
		if (p->live && (!with_oregions || p->noregions) && (!loadable || !p->ghost))
			return (int)i;
	}
	return -1;
}

/* An object region of a process (P out), or NULL. */
static const struct gen_oregion *pick_oregion(struct gen *g, bool loadable, int *pout)
{
	int p = pick_proc_where(g, true, loadable);
	*pout = p;
	if (p < 0)
		return NULL;
	return &g->proc[p].oregion[gen_below(g, g->proc[p].noregions)];
}

/* A page of O: mostly one a region maps (so it may be resident). */
static unsigned object_page(struct gen *g, int o)
{
	unsigned pages = o >= 0 ? g->object[o].pages : OBJECT_PAGES;
	if (o >= 0 && gen_chance(g, 70)) {
		for (unsigned k = 0, start = gen_below(g, GEN_PROCS); k < GEN_PROCS; k++) {
			const struct gen_proc *p = &g->proc[(start + k) % GEN_PROCS];
			for (unsigned i = 0; p->live && i < p->noregions; i++)
				if (p->oregion[i].obj == (unsigned)o)
					return p->oregion[i].first + (unsigned)(gen_next(g) % (p->oregion[i].len / K4));
		}
	}
	if (gen_error(g, 5))
		return pages + gen_below(g, 2); /* beyond O: INVALID */
	return gen_below(g, pages ? pages : 1);
}

/* ---- the commands ---- */

static void cmd_object(struct gen *g)
{
	static const char *const kinds[] = {"anon", "store", "wstore"};
	int o = pick_object(g, false);
	unsigned roll = gen_below(g, 100);
	enum gen_okind kind = roll < 40 ? GEN_O_ANON : roll < 65 ? GEN_O_STORE : GEN_O_WSTORE;
	unsigned pages = gen_chance(g, 75) ? 1 + gen_below(g, 4) : 1 + gen_below(g, OBJECT_PAGES);
	if (o < 0 || gen_error(g, 6)) { /* every slot taken (NOMEM), a name taken, a bad size */
		int taken = pick_object(g, true);
		if (taken >= 0 && gen_chance(g, 50))
			o = taken;
		else if (o < 0)
			o = GEN_OBJECTS; /* O8: a ninth object, NOMEM (O9 is never made) */
		if (gen_chance(g, 50))
			pages = gen_chance(g, 50) ? 0 : OBJECT_PAGES + 1;
		gen_line(g, "object O%d %s %u", o, kinds[kind], pages);
		return; /* a refused object: the model stays as it was */
	}
	gen_line(g, "object O%d %s %u", o, kinds[kind], pages);
	g->object[o] = (struct gen_object){.live = true, .kind = kind, .pages = pages};
	if (gen_chance(g, 85)) /* records now, while nothing maps it */
		gen_line(g, "omappers O%d %u", o, 1 + gen_below(g, 4));
	if (kind == GEN_O_ANON && gen_chance(g, 65))
		gen_line(g, "oswap O%d %u", o, 1 + gen_below(g, 6));
}

static void cmd_omappers(struct gen *g)
{
	char name[16];
	target_object(g, name, sizeof name);
	unsigned n = gen_chance(g, 15) ? 0 : 1 + gen_below(g, 5);
	if (gen_error(g, 5))
		n = 9;
	gen_line(g, "omappers %s %u", name, n);
}

static const char *object_perm(struct gen *g)
{
	static const char *const perms[] = {"r", "rw", "rw", "rw", "rx", "rwx"};
	return gen_error(g, 3) ? "w" : perms[gen_below(g, 6)];
}

static void cmd_robject(struct gen *g)
{
	char name[16];
	int p = pick_proc_where(g, false, false);
	int o = target_object(g, name, sizeof name);
	unsigned pages = o >= 0 ? g->object[o].pages : 4;
	unsigned first = gen_below(g, pages);
	uint64_t len = K4 * (1 + gen_below(g, pages - first < 4 ? pages - first : 4));
	uint64_t va;
	if (p >= 0 && g->proc[p].noregions && gen_chance(g, 15)) { /* onto another object region */
		va = g->proc[p].oregion[gen_below(g, g->proc[p].noregions)].va;
	} else { /* among the other regions (mostly refused), or above them */
		va = gen_chance(g, 12) ? 0x400000ull + (uint64_t)gen_below(g, 6) * (1ull << 20)
				       : OBJECT_VA + (uint64_t)gen_below(g, 4) * (1ull << 20);
		va += K4 * gen_below(g, 8); /* a statement of its own: the order of draws is fixed */
	}
	if (gen_error(g, 5)) { /* beyond O's end */
		len = K4 * (pages - first + 1);
	}
	const char *kind = gen_chance(g, 60) ? "shared" : "private";
	const char *perm = object_perm(g);
	if (p < 0) {
		gen_line(g, "robject P%u 0x%llx 0x%llx %s %s %s %u", gen_below(g, GEN_PROCS), (unsigned long long)va,
			 (unsigned long long)len, perm, kind, name, first);
		return;
	}
	gen_line(g, "robject P%d 0x%llx 0x%llx %s %s %s %u", p, (unsigned long long)va, (unsigned long long)len, perm,
		 kind, name, first);
	struct gen_proc *pr = &g->proc[p];
	if (o < 0 || gen_regions_overlap(pr, va, len) == 2) /* no such object, a sure region there: refused */
		return;
	if (pr->noregions == GEN_OREGIONS) {
		pr->chaos = true; /* no longer known where the object regions are */
		return;
	}
	pr->oregion[pr->noregions++] =
		(struct gen_oregion){.va = va, .len = len, .obj = (unsigned)o, .first = first};
}

/* A fault in an object region (in, copy-on-write, back from a store),
 * from the process's CPU or the kernel's kwrite. */
static void cmd_touch(struct gen *g)
{
	int p;
	const struct gen_oregion *r = pick_oregion(g, true, &p);
	if (!r)
		return;
	uint64_t va = r->va + gen_next(g) % r->len;
	unsigned cpu = gen_cpu_running(g, p);
	const char *user = gen_chance(g, 80) ? " user" : "";
	unsigned roll = gen_below(g, 100);
	if (roll < 45)
		gen_line(g, "read %u 0x%llx%s", cpu, (unsigned long long)va, user);
	else if (roll < 85)
		gen_line(g, "write %u 0x%llx 0x%02x%s", cpu, (unsigned long long)va, gen_below(g, 256), user);
	else
		gen_line(g, "kwrite %u 0x%llx 0x%02x", cpu, (unsigned long long)va, gen_below(g, 256));
}

/* A touch of page PAGE of O through R (P's region over O): a fault that
 * makes it resident, or brings it back after a page-out. */
static void touch_page(struct gen *g, int p, const struct gen_oregion *r, unsigned page)
{
	uint64_t va = r->va + (uint64_t)(page - r->first) * K4 + gen_below(g, 4096);
	unsigned cpu = gen_cpu_running(g, p);
	if (gen_chance(g, 50))
		gen_line(g, "read %u 0x%llx user", cpu, (unsigned long long)va);
	else
		gen_line(g, "write %u 0x%llx 0x%02x user", cpu, (unsigned long long)va, gen_below(g, 256));
}

/* opageout, oaccessed, orefs: mostly of a page a region maps, now and
 * then right after a touch of it, and a touch again after. */
static void cmd_page(struct gen *g)
{
	char name[16];
	int p;
	const struct gen_oregion *r = gen_chance(g, 70) ? pick_oregion(g, false, &p) : NULL;
	int o = r && g->object[r->obj].live ? (int)r->obj : target_object(g, name, sizeof name);
	unsigned page = r && o == (int)r->obj ? r->first + (unsigned)(gen_next(g) % (r->len / K4)) : object_page(g, o);
	if (o >= 0)
		snprintf(name, sizeof name, "O%d", o);
	bool touchable = r && o == (int)r->obj && !g->proc[p].ghost;
	if (touchable && gen_chance(g, 40))
		touch_page(g, p, r, page);
	unsigned roll = gen_below(g, 100);
	if (roll < 45) {
		gen_line(g, "opageout %s %u", name, page);
	} else if (roll < 80) {
		bool clear = gen_chance(g, 50);
		gen_line(g, "oaccessed %s %u %s", name, page, clear ? "clear" : "keep");
		if (clear && gen_chance(g, 40))
			gen_line(g, "oaccessed %s %u %s", name, page, gen_chance(g, 50) ? "clear" : "keep");
	} else {
		gen_line(g, "orefs %s %u", name, page);
	}
	if (touchable && gen_chance(g, 30))
		touch_page(g, p, r, page);
}

static void cmd_oswap(struct gen *g)
{
	char name[16];
	int o = target_object(g, name, sizeof name);
	unsigned slots = 1 + gen_below(g, 6);
	if (gen_error(g, 6))
		slots = gen_chance(g, 50) ? 0 : 17;
	(void)o;
	gen_line(g, "oswap %s %u", name, slots);
}

/* orelease: the model forgets O only when no process it knows maps it
 * (else BUSY); a name it believes free stays free of doubt either way. */
static void cmd_orelease(struct gen *g)
{
	char name[16];
	int o = target_object(g, name, sizeof name);
	gen_line(g, "orelease %s", name);
	if (o < 0)
		return;
	for (unsigned i = 0; i < GEN_PROCS; i++)
		for (unsigned k = 0; g->proc[i].live && k < g->proc[i].noregions; k++)
			if (g->proc[i].oregion[k].obj == (unsigned)o)
				return;
	g->object[o].live = false;
}

/* A process's object region goes (its mapper record with the last one). */
static void cmd_rremove(struct gen *g)
{
	int p;
	const struct gen_oregion *r = pick_oregion(g, false, &p);
	if (!r)
		return;
	uint64_t va = r->va, len = r->len;
	gen_line(g, "rremove P%d 0x%llx 0x%llx", p, (unsigned long long)va, (unsigned long long)len);
	struct gen_proc *pr = &g->proc[p];
	if (pr->nregions + pr->noregions < 14) /* far from the 16 slots, where a split may be refused */
		gen_regions_cut(pr, va, len);
}

/* A fork of a process that maps objects: each object it maps needs a
 * record for the child (NOSPACE when none is left). */
static void cmd_fork(struct gen *g)
{
	int p = pick_proc_where(g, true, false);
	int q = gen_first_free_proc(g);
	if (p < 0 || q < 0)
		return;
	gen_line(g, "fork P%d P%d", p, q);
	gen_fork_model(g, p, q);
}

static void one(struct gen *g)
{
	static const struct gen_cmd mix[] = {
		{cmd_object, 12, 0}, {cmd_omappers, 6, 0}, {cmd_robject, 18, 0}, {cmd_touch, 28, 0}, {cmd_page, 24, 0},
		{cmd_oswap, 4, 0},   {cmd_orelease, 4, 0}, {cmd_rremove, 3, 0},  {cmd_fork, 3, 0},
	};
	if (pick_object(g, true) < 0) { /* something to work with first */
		cmd_object(g);
		return;
	}
	gen_run_mix(g, mix, sizeof mix / sizeof mix[0]);
}

void gen_cmd_object(struct gen *g) { gen_with_stream(g, &g->orng, one); }
