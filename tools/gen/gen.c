/* SPDX-License-Identifier: MIT */
/* mmu64 gen: see gen.h. `mmu64 gen --seed N [--commands N] [--cpus N]
 * [--no FEATURE,...]` writes one vector file to stdout. */
#include "tools/gen/gen.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- randomness: splitmix64, the same sequence on every host ---- */

uint64_t gen_next(struct gen *g)
{
	uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

unsigned gen_below(struct gen *g, unsigned n) { return n ? (unsigned)(gen_next(g) % n) : 0; }
bool gen_chance(struct gen *g, unsigned percent) { return gen_below(g, 100) < percent; }
bool gen_has(const struct gen *g, unsigned feature) { return (g->features & feature) != 0; }
bool gen_error(struct gen *g, unsigned percent) { return gen_has(g, GEN_F_ERRORS) && gen_chance(g, percent); }

/* ---- a group's own stream: its draws leave the main stream's as they were ---- */

void gen_with_stream(struct gen *g, uint64_t *stream, void (*fn)(struct gen *g))
{
	uint64_t main = g->rng;
	g->rng = *stream;
	fn(g);
	*stream = g->rng;
	g->rng = main;
}

bool gen_stream_turn(struct gen *g, uint64_t *stream, unsigned weight)
{
	unsigned w = g->procs_heavy ? 2 * weight : weight;
	uint64_t main = g->rng;
	g->rng = *stream;
	bool turn = gen_below(g, 96 + w) < w;
	*stream = g->rng;
	g->rng = main;
	return turn;
}

unsigned gen_cpu(struct gen *g)
{
	unsigned cpu = gen_below(g, g->m.cpus);
	if (!g->procs_heavy || gen_chance(g, 25))
		return cpu;
	for (unsigned k = 0; k < g->m.cpus; k++)
		if (g->active[(cpu + k) % g->m.cpus].kind == GEN_T_PROC)
			return (cpu + k) % g->m.cpus;
	return cpu;
}

int gen_cpu_with(const struct gen *g, enum gen_tree_kind kind, int i)
{
	for (unsigned cpu = 0; cpu < g->m.cpus; cpu++)
		if (g->active[cpu].kind == kind && g->active[cpu].i == i)
			return (int)cpu;
	return -1;
}

unsigned gen_cpu_running(struct gen *g, int p)
{
	int running = gen_cpu_with(g, GEN_T_PROC, p);
	if (running >= 0)
		return (unsigned)running;
	unsigned cpu = gen_below(g, g->m.cpus);
	gen_line(g, "load %u P%d", cpu, p);
	g->active[cpu] = (struct gen_ref){GEN_T_PROC, p};
	return cpu;
}

int gen_first_free_proc(const struct gen *g)
{
	for (unsigned i = 0; i < GEN_PROCS; i++)
		if (!g->proc[i].live)
			return (int)i;
	return -1;
}

void gen_line(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(g->out, fmt, ap);
	va_end(ap);
	fputc('\n', g->out);
	g->lines++;
}

/* ---- addresses ---- */

/* Zones, each small so that maps overlap, split and share tables: 64
 * pages, six 2M slots, three 1G slots; the same offsets above 2^47 (only
 * canonical with levels=5) and in the kernel-half window. */
#define ZONE_4K 0x10000ull
#define ZONE_2M 0x40000000ull
#define ZONE_1G 0x4000000000ull
#define ZONE_HIGH 0x00f0000000000000ull
#define KERNEL_WINDOW 0xffffc80000000000ull

uint64_t gen_zone_va(struct gen *g, bool kernel, uint64_t align)
{
	uint64_t va;
	unsigned z = align >= (1ull << 30) ? 2 : align >= (2ull << 20) ? 1 + gen_below(g, 2) : gen_below(g, 3);
	if (z == 0)
		va = ZONE_4K + (uint64_t)gen_below(g, 64) * 4096;
	else if (z == 1)
		va = ZONE_2M + (uint64_t)gen_below(g, 6) * (2ull << 20);
	else
		va = ZONE_1G + (uint64_t)gen_below(g, 3) * (1ull << 30);
	va &= ~(align - 1);
	if (kernel)
		return KERNEL_WINDOW + va;
	if (gen_chance(g, 8))
		va += ZONE_HIGH;
	return va;
}

static bool canonical(const struct gen *g, uint64_t va)
{
	unsigned bits = g->m.levels == 5 ? 57 : 48;
	uint64_t top = va >> (bits - 1);
	return top == 0 || top == (UINT64_MAX >> (bits - 1));
}

bool gen_range_ok(const struct gen *g, uint64_t va, uint64_t len, bool kernel)
{
	uint64_t last = va + len - 1;
	if (len == 0 || last < va || !canonical(g, va) || !canonical(g, last))
		return false;
	bool high = va >> 63, high_last = last >> 63;
	return high == high_last && high == kernel;
}

const char *gen_ref_name(const struct gen_ref *r, char *buf, size_t n)
{
	if (r->kind == GEN_T_KERNEL)
		snprintf(buf, n, "kernel");
	else
		snprintf(buf, n, "%c%d", r->kind == GEN_T_SPACE ? 'S' : 'P', r->i);
	return buf;
}

/* ---- the machine line ---- */

static void gen_machine(struct gen *g, int cpus)
{
	struct gen_machine *m = &g->m;
	bool prot = gen_has(g, GEN_F_PROTECTIONS);
	*m = (struct gen_machine){.levels = 4, .cpus = 2, .mem = 2ull << 30, .nx = true, .smep = true,
				  .smap = true, .wp = true, .invpcid = true};
	m->cpus = cpus > 0 ? (unsigned)cpus : 1 + gen_below(g, GEN_MAX_CPUS);
	if (gen_has(g, GEN_F_LEVELS5) && gen_chance(g, 25))
		m->levels = 5;
	if (gen_has(g, GEN_F_SMALLMEM) && gen_chance(g, 25))
		m->mem = (uint64_t)(8 + gen_below(g, 120)) << 12; /* 32K .. 508K */
	m->nx = !(prot && gen_chance(g, 15));
	m->smep = !(prot && gen_chance(g, 15));
	m->smap = !(prot && gen_chance(g, 15));
	m->wp = !(prot && gen_chance(g, 15));
	m->pke = gen_has(g, GEN_F_PKEYS) && gen_chance(g, 40);
	m->kpti = gen_has(g, GEN_F_KPTI) && gen_has(g, GEN_F_PROCS) && gen_chance(g, 30);
	m->pcid = g->force_pcid || (gen_has(g, GEN_F_PCID) && gen_chance(g, 20));
	m->invpcid = !m->pcid || gen_chance(g, 50);
	gen_line(g, "machine levels=%u cpus=%u mem=%llu%s nx=%d smep=%d smap=%d wp=%d pke=%d kpti=%d%s%s", m->levels,
		 m->cpus, (unsigned long long)(m->mem >> (m->mem >= (1ull << 30) ? 30 : 10)), m->mem >= (1ull << 30) ? "G" : "K", m->nx, m->smep, m->smap, m->wp, m->pke, m->kpti,
		 m->pcid ? " pcid=1" : "", m->pcid ? (m->invpcid ? " invpcid=1" : " invpcid=0") : "");
}

/* ---- the command mix ---- */

static const struct gen_cmd mix[] = {
	{gen_cmd_space, 3, 0},          {gen_cmd_drop, 1, 0},         {gen_cmd_frame, 4, 0},
	{gen_cmd_map, 14, 0},           {gen_cmd_unmap, 5, 0},        {gen_cmd_protect, 5, 0},
	{gen_cmd_look, 6, 0},           {gen_cmd_load, 10, 0},        {gen_cmd_access, 20, 0},
	{gen_cmd_exec, 4, 0},           {gen_cmd_poke, 2, 0},         {gen_cmd_pkru, 2, GEN_F_PKEYS},
	{gen_cmd_proc, 3, GEN_F_PROCS}, {gen_cmd_region, 5, GEN_F_PROCS}, {gen_cmd_region_change, 3, GEN_F_PROCS},
	{gen_cmd_fork, 2, GEN_F_PROCS}, {gen_cmd_exit, 2, GEN_F_PROCS}, {gen_cmd_kwrite, 4, GEN_F_PROCS},
	{gen_cmd_faults, 1, GEN_F_PROCS},
};

/* A processes-heavy file (one in three) makes process commands three
 * times as likely: forks, exits and region changes while CPUs switch. */
static unsigned weight(const struct gen *g, const struct gen_cmd *c)
{
	if (c->needs && !gen_has(g, c->needs))
		return 0;
	return c->needs == GEN_F_PROCS && g->procs_heavy ? 3 * c->weight : c->weight;
}

void gen_run_mix(struct gen *g, const struct gen_cmd *cmds, size_t n)
{
	unsigned total = 0;
	for (size_t i = 0; i < n; i++)
		total += weight(g, &cmds[i]);
	unsigned pick = gen_below(g, total);
	for (size_t i = 0; i < n; i++) {
		if (pick < weight(g, &cmds[i])) {
			cmds[i].fn(g);
			return;
		}
		pick -= weight(g, &cmds[i]);
	}
}

static void gen_one(struct gen *g)
{
	if (gen_swap_turn(g)) {
		gen_cmd_swap(g);
		return;
	}
	if (gen_object_turn(g)) {
		gen_cmd_object(g);
		return;
	}
	gen_run_mix(g, mix, sizeof mix / sizeof mix[0]);
}

/* Something to work with first: frames, spaces, processes, mappings. */
static void gen_start(struct gen *g)
{
	for (unsigned i = 0; i < 3; i++)
		gen_cmd_frame(g);
	gen_cmd_space(g);
	gen_cmd_space(g);
	if (gen_has(g, GEN_F_PROCS)) {
		gen_cmd_proc(g);
		gen_cmd_region(g);
		gen_cmd_region(g);
	}
	for (unsigned i = 0; i < 3; i++)
		gen_cmd_map(g);
}

/* ---- the command line ---- */

static const struct {
	const char *name;
	unsigned bit;
} feature_names[] = {
	{"global", GEN_F_GLOBAL}, {"pkeys", GEN_F_PKEYS},     {"cache", GEN_F_CACHE},
	{"sizes", GEN_F_SIZES},   {"levels5", GEN_F_LEVELS5}, {"kpti", GEN_F_KPTI},
	{"pcid", GEN_F_PCID},     {"procs", GEN_F_PROCS},     {"kernel", GEN_F_KERNEL},
	{"outside", GEN_F_OUTSIDE}, {"errors", GEN_F_ERRORS}, {"smallmem", GEN_F_SMALLMEM},
	{"protections", GEN_F_PROTECTIONS}, {"objects", GEN_F_OBJECTS},
	{"swap", GEN_F_SWAP},
};

static void gen_usage(FILE *to)
{
	fputs("usage: mmu64 gen --seed N [--commands N] [--cpus N] [--pcid] [--no FEATURE,...]\n"
	      "Writes a random vector file (no expectations) to stdout; the same\n"
	      "arguments give the same file. --pcid: always pcid=1. FEATURE: global pkeys cache sizes levels5\n"
	      "kpti pcid procs kernel outside errors smallmem protections objects swap\n"
	      "(all on by default).\n",
	      to);
}

static bool parse_features(const char *list, unsigned *off)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		size_t i = 0;
		while (i < sizeof feature_names / sizeof feature_names[0] && strcmp(tok, feature_names[i].name) != 0)
			i++;
		if (i == sizeof feature_names / sizeof feature_names[0]) {
			fprintf(stderr, "mmu64 gen: unknown feature `%s`\n", tok);
			return false;
		}
		*off |= feature_names[i].bit;
	}
	return true;
}

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	if (!s || !*s)
		return false;
	*out = strtoull(s, &end, 0);
	return *end == '\0' && *out <= max;
}

int gen_main(int argc, char **argv)
{
	static struct gen g;
	unsigned long long seed = 0, commands = 300, cpus = 0;
	unsigned off = 0;
	const char *no = NULL;
	bool have_seed = false, force_pcid = false;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;
		if (strcmp(argv[i], "--seed") == 0)
			ok = have_seed = parse_uint(v, UINT64_MAX, &seed);
		else if (strcmp(argv[i], "--commands") == 0)
			ok = parse_uint(v, 1000000, &commands);
		else if (strcmp(argv[i], "--cpus") == 0)
			ok = parse_uint(v, GEN_MAX_CPUS, &cpus) && cpus >= 1;
		else if (strcmp(argv[i], "--no") == 0)
			ok = v && parse_features(v, &off), no = v;
		else if (strcmp(argv[i], "--pcid") == 0) {
			force_pcid = true;
			continue;
		} else if (strcmp(argv[i], "--help") == 0) {
			gen_usage(stdout);
			return 0;
		} else
			ok = false;
		if (!ok) {
			gen_usage(stderr);
			return 2;
		}
		i++;
	}
	if (!have_seed) {
		gen_usage(stderr);
		return 2;
	}
	memset(&g, 0, sizeof g);
	g.rng = seed;
	g.orng = seed ^ 0x6f626a6563747321ull; /* the object commands' stream */
	g.srng = seed ^ 0x73776170706f7574ull; /* the swap commands' stream */
	g.out = stdout;
	g.features = ~off;
	g.force_pcid = force_pcid;
	g.kernel.live = true;
	fprintf(g.out, "# mmu64 gen --seed %llu --commands %llu", seed, commands);
	if (cpus)
		fprintf(g.out, " --cpus %llu", cpus);
	if (force_pcid)
		fprintf(g.out, " --pcid");
	if (no)
		fprintf(g.out, " --no %s", no);
	fputc('\n', g.out);
	gen_machine(&g, (int)cpus);
	g.procs_heavy = gen_has(&g, GEN_F_PROCS) && gen_chance(&g, 35);
	gen_start(&g);
	while (g.lines < commands + 1) /* the machine line, then the commands */
		gen_one(&g);
	return 0;
}
