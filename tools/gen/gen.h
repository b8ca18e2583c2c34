/* SPDX-License-Identifier: MIT */
/* mmu64 gen: random vector files without expectations, for the random
 * differential (scripts/random-diff: the software machine against the
 * test kernel under QEMU, with the TLB sanitizer on).
 *
 * The generator keeps a model of what the file has made so far (names,
 * frames, mappings, regions, the tree each CPU runs) only to aim: most
 * commands name things that exist and access addresses that are mapped.
 * The model never decides a result; the executors do, and the driver
 * compares them. It must be exact in one place only: an executed byte
 * must be `ret` (0xc3) on the test kernel, so `exec` goes only where the
 * model is sure which frame is mapped (it pokes 0xc3 there first), or to
 * a process page it has just written 0xc3 into with `kwrite`. */
#ifndef MMU64_GEN_H
#define MMU64_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define GEN_SPACES 6
#define GEN_PROCS 8
#define GEN_FRAMES 24
#define GEN_SPANS 48   /* modelled mappings per tree */
#define GEN_REGIONS 20 /* modelled regions per process */
#define GEN_MAX_CPUS 4
#define GEN_OBJECTS 8   /* the interpreter's objects at a time: O0..O7 */
#define GEN_OREGIONS 8  /* modelled object regions per process */

/* Features `--no` can leave out (the default generates all of them). */
enum gen_feature {
	GEN_F_GLOBAL = 1u << 0,   /* map ... global */
	GEN_F_PKEYS = 1u << 1,    /* pke=1, pkey=, pkru */
	GEN_F_CACHE = 1u << 2,    /* uc, wc */
	GEN_F_SIZES = 1u << 3,    /* size=, 2M and 1G frames */
	GEN_F_LEVELS5 = 1u << 4,  /* levels=5 */
	GEN_F_KPTI = 1u << 5,     /* kpti=1 */
	GEN_F_PCID = 1u << 6,     /* pcid=1 (software machine only) */
	GEN_F_PROCS = 1u << 7,    /* proc, region, fork, exit, kwrite ... */
	GEN_F_KERNEL = 1u << 8,   /* kernel-half maps in the window */
	GEN_F_OUTSIDE = 1u << 9,  /* kernel-half maps outside the window (must fail) */
	GEN_F_ERRORS = 1u << 10,  /* bad arguments: unknown names, misaligned, ... */
	GEN_F_SMALLMEM = 1u << 11, /* small mem= (NOMEM) */
	GEN_F_PROTECTIONS = 1u << 12, /* nx smep smap wp off */
	GEN_F_OBJECTS = 1u << 13, /* object robject omappers opageout ... (with procs) */
	GEN_F_SWAP = 1u << 14,    /* swap pageout swapped (with procs) */
};

struct gen_machine {
	unsigned levels, cpus;
	uint64_t mem;
	bool nx, smep, smap, wp, pke, kpti, pcid, invpcid;
};

/* A modelled mapping [va, va+len) -> frame + off. Doubtful: the model
 * could not tell whether the map took effect (it still occupies). */
struct gen_span {
	uint64_t va, len, off;
	int frame;
	bool doubtful;
};

struct gen_tree {
	bool live;
	bool chaos; /* more mappings than modelled: no exec there */
	unsigned nspans;
	struct gen_span span[GEN_SPANS];
};

enum gen_kind { GEN_ANON, GEN_STACK, GEN_EAGER };

struct gen_region {
	uint64_t va, len;
	enum gen_kind kind;
	unsigned perm;
	bool doubtful; /* may or may not exist; never an exec target */
};

/* A region over an object (robject), kept apart from the others: never
 * an exec target, and it makes every region that overlaps it doubtful.
 * It may not exist (a refused robject): it only occupies. */
struct gen_oregion {
	uint64_t va, len;
	unsigned obj, first;
};

struct gen_proc {
	bool live;
	bool ghost; /* may not exist (a fork that may have been refused): never loaded */
	unsigned nregions;
	bool chaos;
	struct gen_region region[GEN_REGIONS];
	unsigned noregions;
	struct gen_oregion oregion[GEN_OREGIONS];
	bool swap; /* a `swap` store was asked for (it or a fork parent's): aiming only */
};

/* A memory object as the model believes it is (for aiming only). */
enum gen_okind { GEN_O_ANON, GEN_O_STORE, GEN_O_WSTORE };
struct gen_object {
	bool live;
	enum gen_okind kind;
	unsigned pages;
};

struct gen_frame {
	bool live, doubtful;
	uint64_t size;
};

/* What a CPU runs: the kernel tree, space I or process I. */
enum gen_tree_kind { GEN_T_KERNEL, GEN_T_SPACE, GEN_T_PROC };
struct gen_ref {
	enum gen_tree_kind kind;
	int i;
};

struct gen {
	uint64_t rng;
	uint64_t orng; /* the object commands' own stream: the rest of a seed's file keeps its choices */
	uint64_t srng; /* the swap commands' own stream, likewise */
	struct { int proc; uint64_t va; } pagedout[8]; /* recent pageouts (gen_swap.c), to page in */
	unsigned npagedout;
	unsigned features; /* enum gen_feature bits left on */
	bool force_pcid;  /* --pcid: every file has pcid=1 */
	bool procs_heavy; /* this file's mix: mostly processes, several CPUs on them */
	FILE *out;
	unsigned long long lines; /* commands written */
	struct gen_machine m;
	uint64_t named_bytes; /* bytes of frames asked for */
	struct gen_frame frame[GEN_FRAMES];
	struct gen_tree kernel;
	struct gen_tree space[GEN_SPACES];
	struct gen_proc proc[GEN_PROCS];
	struct gen_ref active[GEN_MAX_CPUS];
	struct gen_object object[GEN_OBJECTS];
};

/* ---- gen.c: randomness, names, addresses ---- */
uint64_t gen_next(struct gen *g);
unsigned gen_below(struct gen *g, unsigned n); /* 0 .. n-1 */
bool gen_chance(struct gen *g, unsigned percent);
bool gen_has(const struct gen *g, unsigned feature);
/* An error case, PERCENT of the time, when the file has errors. */
bool gen_error(struct gen *g, unsigned percent);
/* FN drawing from STREAM (a command group's own) as g's randomness. */
void gen_with_stream(struct gen *g, uint64_t *stream, void (*fn)(struct gen *g));
/* Whether the next command is STREAM's group's: WEIGHT per 96 of the
 * other commands' weights (twice that in a processes-heavy file), drawn
 * from STREAM. */
bool gen_stream_turn(struct gen *g, uint64_t *stream, unsigned weight);

/* A command of a random mix, drawn with WEIGHT among its mix's (0 when
 * the feature NEEDS, if any, is off; three times as likely in a
 * processes-heavy file when it needs processes). */
struct gen_cmd {
	void (*fn)(struct gen *g);
	unsigned weight;
	unsigned needs;
};
/* Run one command of MIX (N of them), drawn by weight: one draw. */
void gen_run_mix(struct gen *g, const struct gen_cmd *mix, size_t n);

/* A CPU for an access; in a processes-heavy file mostly one running a process. */
unsigned gen_cpu(struct gen *g);
/* The first CPU with tree I of KIND loaded, or -1. */
int gen_cpu_with(const struct gen *g, enum gen_tree_kind kind, int i);
/* A CPU that runs process P: one that does, or one made to (`load`). */
unsigned gen_cpu_running(struct gen *g, int p);
/* The first process slot not in use (a child's, a name sure to be no
 * process's), or -1. */
int gen_first_free_proc(const struct gen *g);
void gen_line(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A user (or kernel-window) VA in one of the zones, aligned to ALIGN. */
uint64_t gen_zone_va(struct gen *g, bool kernel, uint64_t align);
bool gen_range_ok(const struct gen *g, uint64_t va, uint64_t len, bool kernel);

/* ---- gen_model.c: spans and regions ---- */
/* 0: nothing overlaps, 1: only doubtful spans overlap, 2: a sure one does. */
int gen_spans_overlap(const struct gen_tree *t, uint64_t va, uint64_t len);
void gen_spans_add(struct gen_tree *t, uint64_t va, uint64_t len, int frame, uint64_t off, bool doubtful);
void gen_spans_cut(struct gen_tree *t, uint64_t va, uint64_t len);
const struct gen_span *gen_spans_pick(struct gen *g, const struct gen_tree *t);
int gen_regions_overlap(const struct gen_proc *p, uint64_t va, uint64_t len);
void gen_regions_add(struct gen_proc *p, uint64_t va, uint64_t len, enum gen_kind kind, unsigned perm,
		     bool doubtful);
void gen_regions_cut(struct gen_proc *p, uint64_t va, uint64_t len); /* object regions too */
void gen_regions_doubt(struct gen_proc *p, uint64_t va, uint64_t len);
const struct gen_region *gen_regions_pick(struct gen *g, const struct gen_proc *p);

/* ---- gen_pt.c / gen_proc.c: one random command each ---- */
void gen_cmd_space(struct gen *g);
void gen_cmd_drop(struct gen *g);
void gen_cmd_frame(struct gen *g);
void gen_cmd_map(struct gen *g);
void gen_cmd_unmap(struct gen *g);
void gen_cmd_protect(struct gen *g);
void gen_cmd_look(struct gen *g); /* walk entry dump stats tlbstats same */
void gen_cmd_load(struct gen *g);
void gen_cmd_access(struct gen *g);
void gen_cmd_exec(struct gen *g);
void gen_cmd_poke(struct gen *g);
void gen_cmd_pkru(struct gen *g);
void gen_cmd_proc(struct gen *g);
void gen_cmd_region(struct gen *g);
void gen_cmd_region_change(struct gen *g);
void gen_cmd_fork(struct gen *g);
void gen_fork_model(struct gen *g, int parent, int child);
void gen_cmd_exit(struct gen *g);
void gen_cmd_kwrite(struct gen *g);
void gen_cmd_faults(struct gen *g);
/* gen_object.c: the memory-object commands, drawn from g->orng. Whether
 * the next command is one of them (before the usual draw), and one. */
bool gen_object_turn(struct gen *g);
void gen_cmd_object(struct gen *g);
/* gen_swap.c: the process-swap commands, drawn from g->srng; as above. */
bool gen_swap_turn(struct gen *g);
void gen_cmd_swap(struct gen *g);
/* exec on CPU, which runs a process: false when nothing there is sure. */
bool gen_exec_proc(struct gen *g, unsigned cpu, const char *user);

/* Names as the file spells them. */
const char *gen_ref_name(const struct gen_ref *r, char *buf, size_t n);

int gen_main(int argc, char **argv);

#endif
