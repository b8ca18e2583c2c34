/* SPDX-License-Identifier: MIT */
/* Random process commands: proc region rremove rprotect fork
 * exit kwrite faults, and the exec of a process page. */
#include "tools/gen/gen.h"

#define K4 0x1000ull
#define MAX_REGIONS 16 /* the library's MMU_VM_MAX_REGIONS */

static int pick_proc(struct gen *g, bool live)
{
	unsigned start = gen_below(g, GEN_PROCS);
	for (unsigned k = 0; k < GEN_PROCS; k++) {
		unsigned i = (start + k) % GEN_PROCS;
		if (g->proc[i].live == live)
			return (int)i;
	}
	return -1;
}

/* A name that surely is not a process (`kernel`, or a free slot's): a
 * live process's name here would change it behind the model's back. */
static void not_a_proc(struct gen *g, char *name, size_t n)
{
	int free_slot = pick_proc(g, false);
	if (free_slot < 0 || gen_chance(g, 50))
		snprintf(name, n, "kernel");
	else
		snprintf(name, n, "P%d", free_slot);
}

/* A name that surely is taken (a live process, or `kernel`): DUPLICATED. */
static void taken_name(struct gen *g, char *name, size_t n)
{
	int live = pick_proc(g, true);
	if (live < 0 || gen_chance(g, 30))
		snprintf(name, n, "kernel");
	else
		snprintf(name, n, "P%d", live);
}

/* A live process mostly; sometimes a name that is not one (INVALID). */
static int target_proc(struct gen *g, char *name, size_t n)
{
	int p = pick_proc(g, true);
	if (p < 0 || gen_error(g, 5)) {
		not_a_proc(g, name, n);
		return -1;
	}
	snprintf(name, n, "P%d", p);
	return p;
}

void gen_cmd_proc(struct gen *g)
{
	int p = pick_proc(g, false);
	if (p < 0 || gen_error(g, 5)) {
		char name[16];
		taken_name(g, name, sizeof name);
		gen_line(g, "proc %s", name);
		return;
	}
	gen_line(g, "proc P%d", p);
	g->proc[p] = (struct gen_proc){.live = true};
}

static const char *perm_text(unsigned bits)
{
	static char buf[6];
	unsigned n = 0;
	if (bits & 1)
		buf[n++] = 'r';
	if (bits & 2)
		buf[n++] = 'w';
	if (bits & 4)
		buf[n++] = 'x';
	if (n == 0)
		buf[n++] = '-';
	buf[n] = '\0';
	return buf;
}

static unsigned region_perm(struct gen *g)
{
	unsigned bits = gen_error(g, 4) ? 0 : 1;
	if (gen_chance(g, 75))
		bits |= 2;
	if (gen_chance(g, 35))
		bits |= 4;
	return bits;
}

/* Region addresses: a few slots 1M apart below 64M (anon, eager), stacks
 * near the top of their slot so that growth and the guard gap matter;
 * the same above 2^47 now and then (levels=5 only). */
static uint64_t region_va(struct gen *g, enum gen_kind kind)
{
	uint64_t va = 0x400000ull + (uint64_t)gen_below(g, 6) * (1ull << 20);
	if (kind == GEN_STACK)
		va += (1ull << 20) - K4 * (1 + gen_below(g, 4));
	else
		va += K4 * gen_below(g, 8);
	if (gen_chance(g, 6))
		va += 0x00f0000000000000ull;
	return va;
}

struct region_args {
	uint64_t va, len, max;
	enum gen_kind kind;
	unsigned perm;
	bool bad;
};

static void region_spoil(struct gen *g, struct region_args *a)
{
	a->bad = true;
	switch (gen_below(g, 5)) {
	case 0: a->va = 0; break; /* page 0 */
	case 1: a->va += 0x100; break;
	case 2: a->len = 0; break;
	case 3: a->va = 0xffffc80000400000ull; break;
	default: a->max = a->kind == GEN_STACK ? a->len - K4 : 0; break;
	}
}

/* The model: a sure region when it surely was added, a doubtful one when
 * it may have been (an overlap with a stack's growth, NOMEM). */
static void region_model(struct gen *g, struct gen_proc *p, const struct region_args *a)
{
	if (a->bad || !(a->perm & 1) || !gen_range_ok(g, a->va, a->len, false) || a->va < K4)
		return;
	int clash = gen_regions_overlap(p, a->va, a->len);
	if (clash == 2)
		return;
	bool doubtful = clash == 1 || p->nregions + p->noregions >= MAX_REGIONS - 1 || (a->kind == GEN_EAGER && g->m.mem < (1ull << 30));
	gen_regions_add(p, a->va, a->len, a->kind, a->perm, doubtful);
}

void gen_cmd_region(struct gen *g)
{
	static const char *const kinds[] = {"anon", "stack", "eager"};
	char name[16], max[32] = "";
	int p = target_proc(g, name, sizeof name);
	unsigned roll = gen_below(g, 100);
	struct region_args a = {.kind = roll < 55 ? GEN_ANON : roll < 80 ? GEN_STACK : GEN_EAGER};
	a.va = region_va(g, a.kind);
	a.len = K4 * (1 + gen_below(g, a.kind == GEN_EAGER ? 4 : 16));
	a.perm = region_perm(g);
	if (a.kind == GEN_STACK && gen_chance(g, 40))
		a.max = a.len + K4 * gen_below(g, 64);
	if (gen_error(g, 8))
		region_spoil(g, &a);
	if (a.kind == GEN_STACK && (a.max || (a.bad && gen_chance(g, 30))))
		snprintf(max, sizeof max, " max=0x%llx", (unsigned long long)a.max);
	gen_line(g, "region %s 0x%llx 0x%llx %s %s%s", name, (unsigned long long)a.va, (unsigned long long)a.len,
		 perm_text(a.perm), kinds[a.kind], max);
	if (p >= 0)
		region_model(g, &g->proc[p], &a);
}

/* rremove and rprotect over a region, part of one, or across
 * two; the model cuts removed ranges and doubts every protect that may
 * take W or X away (an exec target must stay writable and executable). */
void gen_cmd_region_change(struct gen *g)
{
	char name[16];
	int p = target_proc(g, name, sizeof name);
	const struct gen_region *r = p >= 0 ? gen_regions_pick(g, &g->proc[p]) : NULL;
	uint64_t va = r ? r->va : region_va(g, GEN_ANON), len = r ? r->len : K4 * (1 + gen_below(g, 8));
	if (gen_chance(g, 50) && len > K4) { /* a part: the regions split */
		uint64_t skip = K4 * gen_below(g, (unsigned)(len / K4));
		va += skip;
		len = K4 * (1 + gen_below(g, (unsigned)((len - skip) / K4)));
	} else if (gen_chance(g, 20)) {
		len += 1ull << 20; /* across the next slot */
	}
	if (gen_error(g, 5))
		va += 0x10;
	if (gen_chance(g, 45)) {
		gen_line(g, "rremove %s 0x%llx 0x%llx", name, (unsigned long long)va, (unsigned long long)len);
		/* Near the 16 slots a split may be refused (NOMEM): the regions
		 * may stay, so they become doubtful rather than gone. */
		if (p >= 0 && g->proc[p].nregions + g->proc[p].noregions >= MAX_REGIONS - 2)
			gen_regions_doubt(&g->proc[p], va, len);
		else if (p >= 0 && !(va & (K4 - 1)))
			gen_regions_cut(&g->proc[p], va, len);
		return;
	}
	unsigned perm = region_perm(g);
	gen_line(g, "rprotect %s 0x%llx 0x%llx %s", name, (unsigned long long)va, (unsigned long long)len,
		 perm_text(perm));
	if (p >= 0 && (perm & 6) != 6)
		gen_regions_doubt(&g->proc[p], va, len);
}

void gen_cmd_fork(struct gen *g)
{
	char name[16];
	int p = target_proc(g, name, sizeof name);
	int q = pick_proc(g, false);
	if (q < 0 || gen_error(g, 5)) {
		char child[16];
		taken_name(g, child, sizeof child);
		gen_line(g, "fork %s %s", name, child);
		return;
	}
	gen_line(g, "fork %s P%d", name, q);
	if (p >= 0)
		gen_fork_model(g, p, q);
}

/* The child as the model sees it. A parent with object regions may be
 * refused (NOSPACE: the object's mapper records are all taken): the
 * child is a ghost, which may not exist and is never loaded, so that
 * the model still knows exactly what each CPU runs (and which processes
 * live: `exit` of a loaded one is BUSY). */
void gen_fork_model(struct gen *g, int p, int q)
{
	g->proc[q] = g->proc[p];
	if (g->proc[p].noregions)
		g->proc[q].ghost = true;
}

void gen_cmd_exit(struct gen *g)
{
	char name[16];
	int p = target_proc(g, name, sizeof name);
	gen_line(g, "exit %s", name);
	if (p >= 0 && gen_cpu_with(g, GEN_T_PROC, p) < 0)
		g->proc[p].live = false;
}

/* A CPU running a process, mostly; an address in one of its regions. */
void gen_cmd_kwrite(struct gen *g)
{
	unsigned cpu = gen_cpu(g);
	const struct gen_ref *r = &g->active[cpu];
	const struct gen_region *reg = r->kind == GEN_T_PROC ? gen_regions_pick(g, &g->proc[r->i]) : NULL;
	uint64_t va = reg ? reg->va + gen_next(g) % reg->len : region_va(g, GEN_ANON);
	if (reg && reg->kind == GEN_STACK && gen_chance(g, 40))
		va = reg->va - K4 * (1 + gen_below(g, 4));
	if (gen_error(g, 5))
		va = gen_chance(g, 50) ? 0xffffc80000000000ull : 0;
	gen_line(g, "kwrite %u 0x%llx 0x%02x", cpu, (unsigned long long)va, gen_below(g, 256));
}

void gen_cmd_faults(struct gen *g)
{
	char name[16];
	target_proc(g, name, sizeof name);
	gen_line(g, "faults %s", name);
}

/* Exec in a process: only in a sure, writable and executable anon or
 * eager region, right after a kwrite of 0xc3 there, and only where mem
 * cannot run out (a COW copy refused for NOMEM would leave the old frame
 * mapped, and the kernel would execute whatever it holds). */
bool gen_exec_proc(struct gen *g, unsigned cpu, const char *user)
{
	const struct gen_proc *p = &g->proc[g->active[cpu].i];
	const struct gen_region *r = !p->chaos ? gen_regions_pick(g, p) : NULL;
	if (!r || r->doubtful || r->kind == GEN_STACK || (r->perm & 7) != 7 || g->m.mem < (1ull << 30))
		return false;
	uint64_t va = r->va + K4 * (gen_next(g) % (r->len / K4)) + 0x40;
	gen_line(g, "kwrite %u 0x%llx 0xc3", cpu, (unsigned long long)va);
	gen_line(g, "exec %u 0x%llx%s", cpu, (unsigned long long)va, user);
	return true;
}
