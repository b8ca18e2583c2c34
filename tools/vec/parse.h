/* SPDX-License-Identifier: MIT */
/* Parsing of vector files (format v1, docs/VECTORS.md).
 *
 * The parser walks a file held in one buffer, line by line, and turns each
 * command line into a vec_stmt whose arguments are already converted and
 * checked (numbers, permissions, CPU numbers against the machine line,
 * options). The runner parses the whole file once to find malformed lines
 * before anything runs, then parses it again while executing. */
#ifndef MMU64_VEC_PARSE_H
#define MMU64_VEC_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu64/mmu64.h"
#include "tools/vec/exec.h"

#define VEC_NAME_MAX 31    /* characters in a space or frame name */
#define VEC_EXPECT_MAX 159 /* characters in an expectation, blanks collapsed */
#define VEC_MAX_TOKENS 16  /* tokens before `=>` */
#define VEC_MAX_ARGS 7     /* positional arguments */
#define VEC_DIAG_MAX 160

enum vec_op {
	VEC_OP_MACHINE,
	VEC_OP_SPACE,
	VEC_OP_DROP,
	VEC_OP_FRAME,
	VEC_OP_MAP,
	VEC_OP_UNMAP,
	VEC_OP_PROTECT,
	VEC_OP_WALK,
	VEC_OP_ENTRY,
	VEC_OP_LOAD,
	VEC_OP_READ,
	VEC_OP_WRITE,
	VEC_OP_EXEC,
	VEC_OP_POKE,
	VEC_OP_PEEK,
	VEC_OP_STATS,
	VEC_OP_TLBSTATS,
	VEC_OP_PKRU,
	VEC_OP_DUMP,
	VEC_OP_PROC,
	VEC_OP_REGION,
	VEC_OP_FORK,
	VEC_OP_KWRITE,
	VEC_OP_KREAD,    /* mmu64's own: copy-from-user of a byte */
	VEC_OP_KREADSTR, /* mmu64's own: strncpy-from-user */
	VEC_OP_SAME,
	VEC_OP_EXIT,
	VEC_OP_FAULTS,
	/* Inspection and experiment commands (docs/VECTORS-INSPECT.md). */
	VEC_OP_LEVELS,
	VEC_OP_LEAVES,
	VEC_OP_TLB,
	VEC_OP_SETPTE,
	VEC_OP_INVLPG,
	VEC_OP_SHADOW,
	VEC_OP_REGIONS,
	VEC_OP_RPROTECT,
	VEC_OP_RREMOVE,
	VEC_OP_PROMOTE,
	VEC_OP_TLBSAN,
	/* Harvesting A and D (docs/VECTORS.md, the extension). */
	VEC_OP_HARVEST,
	/* Region extensions (docs/VECTORS-INSPECT.md, "Regions beyond v1"). */
	VEC_OP_RRESIZE,
	VEC_OP_RMINADDR,
	VEC_OP_RSTORAGE,
	VEC_OP_RHUGE,
	/* Memory objects (docs/VECTORS-INSPECT.md, "Shared and pager-backed memory"). */
	VEC_OP_OBJECT,
	VEC_OP_ROBJECT,
	VEC_OP_ORELEASE,
	VEC_OP_OREFS,
	VEC_OP_OMAPPERS,
	VEC_OP_OPAGEOUT,
	VEC_OP_OACCESSED,
	VEC_OP_OSWAP,
	/* Swap (docs/VECTORS-INSPECT.md, "Swap"). */
	VEC_OP_SWAP,
	VEC_OP_PAGEOUT,
	VEC_OP_SWAPPED,
	VEC_OP_COUNT
};

/* One positional argument. Which field holds the value depends on the
 * argument's kind: a name (tree, frame), a frame reference (name + num as
 * the offset), or a number (address, length, CPU, byte, MMU_PROT_* set,
 * enum mmu_level, enum mmu_size, enum mmu_vm_kind, MMU_HARVEST_* set, an
 * object's sort: 1 for store, 2 for wstore; 1 for `clear`). */
struct vec_arg {
	uint64_t num;
	char name[VEC_NAME_MAX + 1];
};

struct vec_stmt {
	unsigned line; /* 1-based */
	enum vec_op op;
	unsigned nargs;
	struct vec_arg arg[VEC_MAX_ARGS];
	bool user;                /* `user` on read/write/exec */
	struct mmu_map_opts opts; /* options of map */
	bool has_max;             /* region: max=SIZE given (in arg[5]) */
	bool has_expect;
	char expect[VEC_EXPECT_MAX + 1]; /* blanks collapsed */
};

struct vec_diag {
	unsigned line;
	char msg[VEC_DIAG_MAX];
};

struct vec_parser {
	const char *text;
	size_t len;
	size_t pos;
	unsigned line;
	bool seen_command;          /* a command came before: no machine line now */
	struct vec_machine machine; /* defaults until a machine line */
};

enum vec_next {
	VEC_NEXT_STMT,  /* *ST holds the next command */
	VEC_NEXT_END,   /* no more commands */
	VEC_NEXT_ERROR, /* *DIAG says what is wrong and where */
};

void vec_machine_default(struct vec_machine *m);
void vec_parser_init(struct vec_parser *p, const char *text, size_t len);
/* The next command line after P's position. A machine line updates
 * p->machine and is returned as VEC_OP_MACHINE. */
enum vec_next vec_parse_next(struct vec_parser *p, struct vec_stmt *st, struct vec_diag *diag);

#define VEC_MACHINE_USAGE \
	"machine [levels=4|5] [cpus=N] [mem=SIZE] [nx=0|1] [smep=0|1] [smap=0|1] [wp=0|1] [pke=0|1] [kpti=0|1]"
/* The usage line of command I (0: the machine line), NULL past the last:
 * what `mmu64 --help` lists. */
const char *vec_command_usage(unsigned i);

/* A number: 0x hex or decimal, optionally followed by K, M or G (x 2^10,
 * 2^20, 2^30). False when malformed or above 2^64-1. */
bool vec_parse_number(const char *s, size_t n, uint64_t *out);
/* PERM: letters r w x u in any order (`-` allowed as a placeholder, so
 * `-` is the empty set and `rw--` reads as `rw`). */
bool vec_parse_perm(const char *s, size_t n, unsigned *out);
/* Entry flags of `setpte` (tools/vec/cmd_inspect.c): names joined by `,`. */
bool vec_parse_pte_flags(const char *s, size_t n, uint64_t *out);

#endif
