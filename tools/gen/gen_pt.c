/* SPDX-License-Identifier: MIT */
/* Random page-table and CPU commands: space drop frame map unmap protect
 * walk leaves entry dump stats tlbstats same levels regions promote load
 * read write exec poke peek pkru. */
#include "tools/gen/gen.h"

#define K4 0x1000ull
#define M2 0x200000ull
#define G1 0x40000000ull
#define OUTSIDE_WINDOW 0xffffc60000002000ull /* kernel half, not the vectors' window */

static const char *size_name(uint64_t size) { return size == G1 ? "1G" : size == M2 ? "2M" : "4K"; }

/* PERM: r almost always (the page-table layer requires it), the others at
 * random; U mostly for user trees. */
static const char *gen_perm(struct gen *g, bool user_tree, unsigned *bits)
{
	static char buf[8];
	unsigned n = 0;
	*bits = 0;
	if (!gen_error(g, 4))
		buf[n++] = 'r', *bits |= 1;
	if (gen_chance(g, 60))
		buf[n++] = 'w', *bits |= 2;
	if (gen_chance(g, 40))
		buf[n++] = 'x', *bits |= 4;
	if (gen_chance(g, user_tree ? 75 : 10))
		buf[n++] = 'u', *bits |= 8;
	if (n == 0)
		buf[n++] = '-';
	buf[n] = '\0';
	return buf;
}

static int pick_live(struct gen *g, const bool *live, size_t stride, unsigned n)
{
	unsigned count = 0;
	for (unsigned i = 0; i < n; i++)
		count += *(const bool *)((const char *)live + i * stride);
	if (count == 0)
		return -1;
	unsigned k = gen_below(g, count);
	for (unsigned i = 0; i < n; i++)
		if (*(const bool *)((const char *)live + i * stride) && k-- == 0)
			return (int)i;
	return -1;
}

static int live_space(struct gen *g) { return pick_live(g, &g->space[0].live, sizeof g->space[0], GEN_SPACES); }
static int live_proc(struct gen *g) { return pick_live(g, &g->proc[0].live, sizeof g->proc[0], GEN_PROCS); }
static int live_frame(struct gen *g) { return pick_live(g, &g->frame[0].live, sizeof g->frame[0], GEN_FRAMES); }

/* A tree for page-table commands: mostly a live space, then the kernel,
 * sometimes a process (INVALID) or a space that does not exist. */
static struct gen_ref pick_tree(struct gen *g, bool any_kind)
{
	int s = live_space(g);
	unsigned roll = gen_below(g, 100);
	if (roll < 20 && gen_has(g, GEN_F_KERNEL))
		return (struct gen_ref){GEN_T_KERNEL, 0};
	if (roll < (any_kind ? 45 : 25) && gen_has(g, GEN_F_PROCS)) {
		int p = live_proc(g);
		if (p >= 0)
			return (struct gen_ref){GEN_T_PROC, p};
	}
	if (s < 0 || gen_error(g, 4))
		return (struct gen_ref){GEN_T_SPACE, (int)gen_below(g, GEN_SPACES)};
	return (struct gen_ref){GEN_T_SPACE, s};
}

/* The model of a tree that page-table commands change; NULL otherwise. */
static struct gen_tree *model_tree(struct gen *g, const struct gen_ref *r)
{
	if (r->kind == GEN_T_KERNEL)
		return &g->kernel;
	if (r->kind == GEN_T_SPACE && g->space[r->i].live)
		return &g->space[r->i];
	return NULL;
}

void gen_cmd_space(struct gen *g)
{
	unsigned i = gen_below(g, GEN_SPACES);
	if (gen_error(g, 3)) {
		gen_line(g, "space kernel");
		return;
	}
	gen_line(g, "space S%u", i);
	if (!g->space[i].live)
		g->space[i] = (struct gen_tree){.live = true};
}

void gen_cmd_drop(struct gen *g)
{
	int s = live_space(g);
	if (s < 0 || gen_error(g, 10)) {
		gen_line(g, "drop %s", gen_chance(g, 50) ? "kernel" : "S9");
		return;
	}
	gen_line(g, "drop S%d", s);
	if (gen_cpu_with(g, GEN_T_SPACE, s) < 0)
		g->space[s].live = false;
}

void gen_cmd_frame(struct gen *g)
{
	unsigned i = gen_below(g, GEN_FRAMES);
	uint64_t size = K4;
	if (gen_has(g, GEN_F_SIZES)) {
		unsigned roll = gen_below(g, 100);
		size = roll < 4 ? G1 : roll < 25 ? M2 : K4;
	}
	gen_line(g, size == K4 && gen_chance(g, 50) ? "frame F%u" : "frame F%u %s", i, size_name(size));
	if (g->frame[i].live)
		return; /* DUPLICATED */
	g->named_bytes += size;
	/* Sure only with room to spare: process pages come out of mem too. */
	bool sure = g->named_bytes + (256ull << 20) <= g->m.mem;
	g->frame[i] = (struct gen_frame){.live = true, .doubtful = !sure, .size = size};
}

/* ---- map ---- */

struct map_args {
	struct gen_ref ref;
	int frame;
	uint64_t va, off, len, leaf, forced;
	unsigned perm;
	bool bad; /* an error of the generator's making: the map must fail */
};

static void map_pick(struct gen *g, struct map_args *a)
{
	const struct gen_frame *f = &g->frame[a->frame];
	uint64_t fsize = f->live ? f->size : K4;
	bool kernel = a->ref.kind == GEN_T_KERNEL;
	a->leaf = fsize == G1 && gen_chance(g, 50) ? G1 : fsize >= M2 && gen_chance(g, 60) ? M2 : K4;
	a->va = gen_zone_va(g, kernel, a->leaf);
	a->off = (uint64_t)gen_below(g, (unsigned)(fsize / a->leaf)) * a->leaf;
	if (a->leaf == K4 && fsize > K4 && gen_chance(g, 50))
		a->off = (uint64_t)gen_below(g, (unsigned)(fsize / K4)) * K4; /* a 4K leaf anywhere */
	uint64_t room = (fsize - a->off) / a->leaf;
	a->len = (1 + gen_below(g, room < 4 ? (unsigned)room : 4)) * a->leaf;
	if (a->leaf == K4 && fsize >= M2 && gen_chance(g, 20)) /* 4K leaves up to a 2M one */
		a->len = fsize - a->off < M2 ? fsize - a->off : M2;
}

static void map_spoil(struct gen *g, struct map_args *a)
{
	a->bad = true;
	switch (gen_below(g, 7)) {
	case 0: a->va += 0x800; break;
	case 1: a->len = 0; break;
	case 2: a->off += g->frame[a->frame].live ? g->frame[a->frame].size : K4; break;
	case 3: a->va = g->m.levels == 5 ? 0x0100000000000000ull : 0x0000800000000000ull; break;
	case 4: a->va = a->ref.kind == GEN_T_KERNEL ? 0x10000 : 0xffffc80000010000ull; break;
	case 5: a->off += 0x10; break;
	default: a->len += 0x1000000000ull; break;
	}
}

static void map_options(struct gen *g, struct map_args *a, char *buf, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	a->forced = 0;
	if (gen_has(g, GEN_F_SIZES) && gen_chance(g, 20)) {
		static const uint64_t sizes[] = {K4, M2, G1};
		a->forced = gen_chance(g, 70) ? a->leaf : sizes[gen_below(g, 3)];
		used += (size_t)snprintf(buf + used, n - used, " size=%s", size_name(a->forced));
	}
	if (gen_has(g, GEN_F_GLOBAL) && gen_chance(g, 15))
		used += (size_t)snprintf(buf + used, n - used, " global");
	if (gen_has(g, GEN_F_CACHE) && gen_chance(g, 15))
		used += (size_t)snprintf(buf + used, n - used, gen_chance(g, 50) ? " uc" : " wc");
	if (gen_has(g, GEN_F_PKEYS) && gen_chance(g, g->m.pke ? 30 : 5))
		used += (size_t)snprintf(buf + used, n - used, " pkey=%u", gen_below(g, 16));
}

/* What the map did to the model: nothing when it surely failed; a sure
 * or a doubtful span otherwise. */
static void map_model(struct gen *g, const struct map_args *a)
{
	struct gen_tree *t = model_tree(g, &a->ref);
	const struct gen_frame *f = &g->frame[a->frame];
	uint64_t align = a->forced ? a->forced : K4;
	if (!t || !f->live || a->bad || !(a->perm & 1))
		return;
	if (!gen_range_ok(g, a->va, a->len, a->ref.kind == GEN_T_KERNEL) || a->off + a->len > f->size ||
	    a->off + a->len < a->off)
		return;
	if ((a->va | a->off | a->len) & (align - 1))
		return;
	int clash = gen_spans_overlap(t, a->va, a->len);
	if (clash == 2)
		return;
	gen_spans_add(t, a->va, a->len, a->frame, a->off, clash == 1 || f->doubtful);
}

void gen_cmd_map(struct gen *g)
{
	struct map_args a = {.ref = pick_tree(g, false)};
	char tree[16], opts[64];
	int f = live_frame(g);
	a.frame = f < 0 || gen_error(g, 3) ? (int)gen_below(g, GEN_FRAMES) : f;
	if (gen_has(g, GEN_F_OUTSIDE) && gen_below(g, 400) == 0) {
		/* The format allows other kernel-half addresses only where they
		 * must fail: the runner must refuse them, not crash. */
		gen_line(g, "map kernel 0x%llx F%d 4K r", (unsigned long long)OUTSIDE_WINDOW, a.frame);
		return;
	}
	map_pick(g, &a);
	if (gen_error(g, 8))
		map_spoil(g, &a);
	map_options(g, &a, opts, sizeof opts);
	const char *perm = gen_perm(g, a.ref.kind != GEN_T_KERNEL, &a.perm);
	gen_line(g, "map %s 0x%llx F%d+0x%llx 0x%llx %s%s", gen_ref_name(&a.ref, tree, sizeof tree),
		 (unsigned long long)a.va, a.frame, (unsigned long long)a.off, (unsigned long long)a.len, perm, opts);
	map_model(g, &a);
}

/* ---- unmap, protect: ranges over what is mapped, or anywhere ---- */

static void pick_range(struct gen *g, const struct gen_ref *ref, uint64_t *va, uint64_t *len)
{
	struct gen_tree *t = model_tree(g, ref);
	const struct gen_span *s = t ? gen_spans_pick(g, t) : NULL;
	if (s && gen_chance(g, 80)) {
		uint64_t pages = s->len / K4;
		uint64_t first = gen_chance(g, 50) ? 0 : gen_next(g) % pages;
		uint64_t count = gen_chance(g, 40) ? pages - first : 1 + gen_next(g) % (pages - first);
		*va = s->va + first * K4;
		*len = count * K4;
		if (gen_chance(g, 10))
			*len += K4 * gen_below(g, 4); /* past the end, maybe over a neighbour */
	} else {
		uint64_t align = gen_chance(g, 20) ? M2 : K4;
		*va = gen_zone_va(g, ref->kind == GEN_T_KERNEL, align);
		*len = (1 + gen_below(g, 8)) * align;
	}
	if (gen_error(g, 6)) {
		if (gen_chance(g, 50))
			*va += 0x10;
		else
			*len = gen_chance(g, 50) ? 0 : UINT64_MAX - 0xfff;
	}
}

void gen_cmd_unmap(struct gen *g)
{
	struct gen_ref ref = pick_tree(g, false);
	uint64_t va, len;
	char tree[16];
	pick_range(g, &ref, &va, &len);
	gen_line(g, "unmap %s 0x%llx 0x%llx", gen_ref_name(&ref, tree, sizeof tree), (unsigned long long)va,
		 (unsigned long long)len);
	struct gen_tree *t = model_tree(g, &ref);
	if (t && gen_range_ok(g, va, len, ref.kind == GEN_T_KERNEL) && !((va | len) & (K4 - 1)))
		gen_spans_cut(t, va, len);
}

void gen_cmd_protect(struct gen *g)
{
	struct gen_ref ref = pick_tree(g, false);
	uint64_t va, len;
	unsigned bits;
	char tree[16];
	pick_range(g, &ref, &va, &len);
	const char *perm = gen_perm(g, ref.kind != GEN_T_KERNEL, &bits);
	gen_line(g, "protect %s 0x%llx 0x%llx %s", gen_ref_name(&ref, tree, sizeof tree), (unsigned long long)va,
		 (unsigned long long)len, perm);
}

/* ---- looking: walk leaves entry dump stats tlbstats same ---- */

/* An address worth looking at or accessing in tree R's world. */
static uint64_t aim(struct gen *g, const struct gen_ref *r)
{
	const struct gen_tree *t = model_tree(g, r);
	const struct gen_span *s = NULL;
	unsigned roll = gen_below(g, 100);
	if (r->kind == GEN_T_PROC && g->proc[r->i].live && roll < 65) {
		const struct gen_region *reg = gen_regions_pick(g, &g->proc[r->i]);
		if (reg) {
			uint64_t va = reg->va + (gen_next(g) % reg->len);
			if (reg->kind == GEN_STACK && gen_chance(g, 40)) /* growth, the guard gap */
				va = reg->va - K4 * (1 + gen_below(g, gen_chance(g, 80) ? 4 : 400));
			return va;
		}
	}
	if (roll < 65 && t)
		s = gen_spans_pick(g, t);
	else if (roll < 80 && gen_has(g, GEN_F_KERNEL))
		s = gen_spans_pick(g, &g->kernel);
	if (s)
		return s->va + (gen_next(g) % s->len);
	if (roll < 95) { /* two statements: the order of the draws is fixed */
		uint64_t zone = gen_zone_va(g, gen_chance(g, 15), K4);
		return zone + gen_below(g, 4096);
	}
	return g->m.levels == 5 ? 0x0100000000001000ull : 0x0000800000001000ull; /* #GP */
}

static struct gen_ref any_tree(struct gen *g)
{
	unsigned roll = gen_below(g, 100);
	int p = live_proc(g), s = live_space(g);
	if (roll < 15)
		return (struct gen_ref){GEN_T_KERNEL, 0};
	if (roll < (g->procs_heavy ? 80 : 55) && p >= 0 && !g->proc[p].ghost)
		return (struct gen_ref){GEN_T_PROC, p};
	if (s >= 0 && !gen_error(g, 5))
		return (struct gen_ref){GEN_T_SPACE, s};
	return (struct gen_ref){GEN_T_SPACE, (int)gen_below(g, GEN_SPACES)};
}

/* Inspection commands both executors run (docs/VECTORS-INSPECT.md):
 * `levels` of a user address only (the kernel half's table A bits differ),
 * `regions`, and `promote`, which changes leaves but no translation. */
static void look_more(struct gen *g, const struct gen_ref *r, uint64_t va)
{
	char name[16];
	unsigned roll = gen_below(g, 3);
	gen_ref_name(r, name, sizeof name);
	if (roll == 0 && !(va >> 63))
		gen_line(g, "levels %s 0x%llx", name, (unsigned long long)va);
	else if (roll == 1 && gen_has(g, GEN_F_PROCS))
		gen_line(g, "regions %s", name);
	else
		gen_line(g, "promote %s %s", name, gen_chance(g, 60) ? "on" : "off");
}

void gen_cmd_look(struct gen *g)
{
	static const char *const levels[] = {"pt", "pd", "pdpt", "pml4", "pml5"};
	struct gen_ref r = any_tree(g), r2 = any_tree(g);
	char n1[16], n2[16];
	unsigned roll = gen_below(g, 100);
	uint64_t va = aim(g, &r);
	gen_ref_name(&r, n1, sizeof n1);
	if (roll < 36)
		gen_line(g, "walk %s 0x%llx", n1, (unsigned long long)va);
	else if (roll < 40) /* from VA's page: up to 4 MiB, or 1 GiB, across leaves of every size */
		gen_line(g, "leaves %s 0x%llx 0x%llx", n1, (unsigned long long)(va & ~(K4 - 1)),
			 (unsigned long long)(gen_chance(g, 10) ? G1 : K4 * (1 + gen_below(g, 1024))));
	else if (roll < 62)
		gen_line(g, "entry %s 0x%llx %s", n1, (unsigned long long)va, levels[gen_below(g, 5)]);
	else if (roll < 70)
		gen_line(g, "dump %s", n1);
	else if (roll < 80)
		gen_line(g, "stats");
	else if (roll < 84)
		gen_line(g, "tlbstats");
	else if (roll < 88)
		look_more(g, &r, va);
	else
		gen_line(g, "same %s 0x%llx %s 0x%llx", n1, (unsigned long long)va, gen_ref_name(&r2, n2, sizeof n2),
			 (unsigned long long)aim(g, &r2));
}

/* ---- CPUs ---- */

static void load(struct gen *g, unsigned cpu, struct gen_ref r)
{
	char name[16];
	gen_line(g, "load %u %s", cpu, gen_ref_name(&r, name, sizeof name));
	bool exists = r.kind == GEN_T_KERNEL || (r.kind == GEN_T_SPACE ? g->space[r.i].live : g->proc[r.i].live);
	if (exists)
		g->active[cpu] = r;
}

/* Now and then a round trip (A, B, A on one CPU with nothing between):
 * what a CPU owes a tree must survive switching through another. */
void gen_cmd_load(struct gen *g)
{
	unsigned cpu = gen_cpu(g);
	struct gen_ref back = g->active[cpu];
	load(g, cpu, any_tree(g));
	if (gen_chance(g, 25)) {
		load(g, cpu, back);
		load(g, cpu, any_tree(g));
		load(g, cpu, back);
	}
}

void gen_cmd_access(struct gen *g)
{
	unsigned cpu = gen_cpu(g);
	uint64_t va = aim(g, &g->active[cpu]);
	const char *user = gen_chance(g, 60) ? " user" : "";
	if (gen_chance(g, 55))
		gen_line(g, "read %u 0x%llx%s", cpu, (unsigned long long)va, user);
	else
		gen_line(g, "write %u 0x%llx 0x%02x%s", cpu, (unsigned long long)va, gen_below(g, 256), user);
}

/* A sure mapping of a live, sure frame in T (or the kernel's window). */
static const struct gen_span *sure_span(struct gen *g, const struct gen_tree *t)
{
	const struct gen_span *s = t && !t->chaos ? gen_spans_pick(g, t) : NULL;
	if (!s || s->doubtful || !g->frame[s->frame].live || g->frame[s->frame].doubtful)
		return NULL;
	return s;
}

/* Where a fetch may succeed the byte must be `ret` (the kernel executes
 * it): poke 0xc3 into the frame the model is sure of, then exec. */
static bool exec_span(struct gen *g, unsigned cpu, const struct gen_span *s, const char *user)
{
	if (!s)
		return false;
	uint64_t page = gen_next(g) % (s->len / K4);
	uint64_t va = s->va + page * K4 + 0x40, off = s->off + page * K4 + 0x40;
	gen_line(g, "poke F%d+0x%llx 0xc3", s->frame, (unsigned long long)off);
	gen_line(g, "exec %u 0x%llx%s", cpu, (unsigned long long)va, user);
	return true;
}

void gen_cmd_exec(struct gen *g)
{
	unsigned cpu = gen_cpu(g);
	const struct gen_ref *r = &g->active[cpu];
	const char *user = gen_chance(g, 60) ? " user" : "";
	if (r->kind == GEN_T_PROC && gen_chance(g, 60) && gen_exec_proc(g, cpu, user))
		return;
	if (r->kind != GEN_T_PROC && gen_chance(g, 70) && exec_span(g, cpu, sure_span(g, model_tree(g, r)), user))
		return;
	if (exec_span(g, cpu, sure_span(g, &g->kernel), user))
		return;
	/* Nothing sure to fetch from: a non-canonical address (#GP). */
	gen_line(g, "exec %u 0x%llx%s", cpu, g->m.levels == 5 ? 0x0100000000000040ull : 0x0000800000000040ull, user);
}

void gen_cmd_poke(struct gen *g)
{
	int f = live_frame(g);
	unsigned i = f < 0 || gen_error(g, 5) ? gen_below(g, GEN_FRAMES) : (unsigned)f;
	uint64_t size = g->frame[i].live ? g->frame[i].size : K4;
	uint64_t raw = gen_next(g); /* drawn first, in a statement of its own (no unsequenced draws) */
	uint64_t off = raw % (size + (gen_error(g, 5) ? size : 0));
	if (gen_chance(g, 50))
		gen_line(g, "poke F%u+0x%llx 0x%02x", i, (unsigned long long)off, gen_below(g, 256));
	else
		gen_line(g, "peek F%u+0x%llx", i, (unsigned long long)off);
}

/* Key 0 stays allowed: process pages and kwrite's stores use it, and an
 * exec must be preceded by a kwrite that took effect. */
void gen_cmd_pkru(struct gen *g)
{
	uint32_t v = gen_chance(g, 30) ? 0 : (uint32_t)gen_next(g) & ~3u;
	gen_line(g, "pkru %u 0x%x", gen_below(g, g->m.cpus), v);
}
