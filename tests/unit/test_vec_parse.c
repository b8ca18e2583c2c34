/* SPDX-License-Identifier: MIT */
/* Parser of the vector interpreter: numbers, permissions, expectations,
 * and malformed files rejected with FILE:LINE before anything runs. */
#include <string.h>

#include "check.h"
#include "tools/vec/parse.h"
#include "tools/vec/text.h"
#include "tools/vec/vec.h"

static char last_line[512];
static unsigned lines_out;

static void capture(void *ctx, const char *line)
{
	(void)ctx;
	snprintf(last_line, sizeof last_line, "%s", line);
	lines_out++;
}

/* vec_check on TEXT named "t.mmu"; the diagnostic lands in last_line. */
static int check_text(const char *text)
{
	struct vec_io io = {.file = "t.mmu", .text = text, .len = strlen(text), .out = capture};
	last_line[0] = '\0';
	lines_out = 0;
	return vec_check(&io, NULL);
}

static void expect_malformed(const char *text, const char *diag, int line)
{
	int status = check_text(text);
	if (status != VEC_MALFORMED || strncmp(last_line, diag, strlen(diag)) != 0) {
		fprintf(stderr, "%s:%d: status %d, diagnostic \"%s\", expected 2 and \"%s...\"\n", __FILE__, line,
			status, last_line, diag);
		check_failures++;
	}
}
#define EXPECT_MALFORMED(text, diag) expect_malformed(text, diag, __LINE__)

/* The whole diagnostic, not a prefix of it. */
static void expect_diag(const char *text, const char *diag, int line)
{
	int status = check_text(text);
	if (status != VEC_MALFORMED || strcmp(last_line, diag) != 0) {
		fprintf(stderr, "%s:%d: status %d, diagnostic \"%s\", expected 2 and \"%s\"\n", __FILE__, line,
			status, last_line, diag);
		check_failures++;
	}
}
#define EXPECT_DIAG(text, diag) expect_diag(text, diag, __LINE__)

static uint64_t number(const char *s)
{
	uint64_t v = 0xdeadbeef;
	CHECK(vec_parse_number(s, strlen(s), &v));
	return v;
}

static bool bad_number(const char *s)
{
	uint64_t v;
	return !vec_parse_number(s, strlen(s), &v);
}

static void test_numbers(void)
{
	CHECK_EQ(number("0"), 0);
	CHECK_EQ(number("4096"), 4096);
	CHECK_EQ(number("0x1000"), 0x1000);
	CHECK_EQ(number("0xFFFFc80000000000"), 0xffffc80000000000ull);
	CHECK_EQ(number("4K"), 4096);
	CHECK_EQ(number("2M"), 2u << 20);
	CHECK_EQ(number("1G"), 1u << 30);
	CHECK_EQ(number("0x10K"), 0x4000);
	CHECK_EQ(number("0xffffffffffffffff"), UINT64_MAX);
	CHECK(bad_number(""));
	CHECK(bad_number("0x"));
	CHECK(bad_number("K"));
	CHECK(bad_number("12z"));
	CHECK(bad_number("0x1g0"));
	CHECK(bad_number("-1"));
	CHECK(bad_number("0x10000000000000000"));
	CHECK(bad_number("18446744073709551616"));
	CHECK(bad_number("17179869184G"));
}

static void test_perm(void)
{
	unsigned p = 99;
	CHECK(vec_parse_perm("rwxu", 4, &p) && p == (MMU_PROT_R | MMU_PROT_W | MMU_PROT_X | MMU_PROT_U));
	CHECK(vec_parse_perm("ur", 2, &p) && p == (MMU_PROT_R | MMU_PROT_U));
	CHECK(vec_parse_perm("-", 1, &p) && p == 0);
	CHECK(vec_parse_perm("rw--", 4, &p) && p == (MMU_PROT_R | MMU_PROT_W));
	CHECK(!vec_parse_perm("rq", 2, &p));
	CHECK(!vec_parse_perm("", 0, &p));
}

static void test_collapse(void)
{
	char out[32];
	CHECK(vec_collapse_blanks(out, sizeof out, "  ok \t F+0x0   4K  ", 19) && strcmp(out, "ok F+0x0 4K") == 0);
	CHECK(vec_collapse_blanks(out, sizeof out, "", 0) && strcmp(out, "") == 0);
	CHECK(!vec_collapse_blanks(out, 4, "ok 1234", 7));
}

/* A statement's fields, parsed from one line after a machine line. */
static void test_statements(void)
{
	static const char text[] = "machine cpus=4 levels=5 pke=1\n"
				   "\n# comment\n"
				   "map A 0x1000 F+0x2000 8K rw size=4K global uc pkey=3   =>  error   NOTEXIST  # c\n"
				   "read 3 0x1000 user\r\n"
				   "frame G 1G";
	struct vec_parser p;
	struct vec_stmt st;
	struct vec_diag d;
	vec_parser_init(&p, text, strlen(text));
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_STMT);
	CHECK_EQ(st.op, VEC_OP_MACHINE);
	CHECK_EQ(p.machine.cpus, 4);
	CHECK_EQ(p.machine.levels, 5);
	CHECK(p.machine.pke && p.machine.nx && p.machine.smap);
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_STMT);
	CHECK_EQ(st.line, 4);
	CHECK_EQ(st.op, VEC_OP_MAP);
	CHECK(strcmp(st.arg[0].name, "A") == 0 && strcmp(st.arg[2].name, "F") == 0);
	CHECK_EQ(st.arg[1].num, 0x1000);
	CHECK_EQ(st.arg[2].num, 0x2000);
	CHECK_EQ(st.arg[3].num, 0x2000);
	CHECK_EQ(st.arg[4].num, MMU_PROT_R | MMU_PROT_W);
	CHECK(st.opts.size == MMU_SIZE_4K && st.opts.global && st.opts.cache == MMU_CACHE_UC && st.opts.pkey == 3);
	CHECK(st.has_expect && strcmp(st.expect, "error NOTEXIST") == 0);
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_STMT);
	CHECK(st.op == VEC_OP_READ && st.user && st.arg[0].num == 3 && !st.has_expect);
	CHECK(!p.machine.needs_1g);
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_STMT);
	CHECK(st.op == VEC_OP_FRAME && st.arg[1].num == MMU_SIZE_1G && p.machine.needs_1g);
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_END);
}

/* The PCID extension of the machine line: off by default, INVPCID on. */
static void test_machine_pcid(void)
{
	static const char text[] = "machine pcid=1 invpcid=0 kpti=1\n";
	struct vec_parser p;
	struct vec_stmt st;
	struct vec_diag d;
	vec_parser_init(&p, text, strlen(text));
	CHECK(!p.machine.pcid && p.machine.invpcid);
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_STMT);
	CHECK(p.machine.pcid && !p.machine.invpcid && p.machine.kpti);
	EXPECT_MALFORMED("machine pcid=2\n", "t.mmu:1: bad machine setting `pcid=2`");
	EXPECT_MALFORMED("machine invpcid\n", "t.mmu:1: bad machine setting `invpcid`");
}

static void test_process_statements(void)
{
	const char *text = "region P 0x7f0000 64K rw stack max=1M\nregion P 0x400000 4K rx anon\nsame P 0x1000 Q 0x2000\n";
	struct vec_parser p;
	struct vec_stmt st;
	struct vec_diag d;
	vec_parser_init(&p, text, strlen(text));
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_STMT);
	CHECK(st.op == VEC_OP_REGION && st.has_max && st.arg[4].num == MMU_VM_STACK);
	CHECK_EQ(st.arg[5].num, 1ull << 20);
	CHECK_EQ(st.arg[2].num, 64ull << 10);
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_STMT);
	CHECK(st.op == VEC_OP_REGION && !st.has_max && st.arg[4].num == MMU_VM_ANON);
	CHECK_EQ(st.arg[3].num, MMU_PROT_R | MMU_PROT_X);
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_STMT);
	CHECK(st.op == VEC_OP_SAME && strcmp(st.arg[2].name, "Q") == 0 && st.arg[3].num == 0x2000);
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_END);
}

/* `harvest` (docs/VECTORS.md, the extension): its last word is the
 * MMU_HARVEST_* bits. */
static void test_harvest_statements(void)
{
	const char *text = "harvest A 0x1000 8K accessed\nharvest kernel 0x0 4K dirty\nharvest P 0x0 4K both\n";
	static const unsigned want[] = {MMU_HARVEST_ACCESSED, MMU_HARVEST_DIRTY,
					MMU_HARVEST_ACCESSED | MMU_HARVEST_DIRTY};
	struct vec_parser p;
	struct vec_stmt st;
	struct vec_diag d;
	vec_parser_init(&p, text, strlen(text));
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_STMT);
		CHECK(st.op == VEC_OP_HARVEST && st.nargs == 4);
		CHECK_EQ(st.arg[3].num, want[i]);
	}
	CHECK_EQ(st.arg[2].num, 0x1000);
	CHECK_EQ(vec_parse_next(&p, &st, &d), VEC_NEXT_END);
	EXPECT_DIAG("harvest A 0x1000 4K clean\n", "t.mmu:1: bad argument `clean`: expected accessed, dirty or both "
						   "(see docs/VECTORS.md, \"Extension: harvesting A and D\")");
	EXPECT_DIAG("harvest A 0x1000 4K\n", "t.mmu:1: wrong arguments; usage: `harvest A VA LEN "
					     "accessed|dirty|both` (see docs/VECTORS.md, \"Extension: harvesting A "
					     "and D\")");
}

static void test_malformed(void)
{
	EXPECT_MALFORMED("space A\nfly A\n", "t.mmu:2: unknown command `fly`");
	EXPECT_MALFORMED("proc P\nregion P 0x1000 4K rw heap\n", "t.mmu:2: bad argument `heap`");
	EXPECT_MALFORMED("region P 0x1000 4K rw anon max=1M\n", "t.mmu:1: wrong arguments; usage: `region");
	EXPECT_MALFORMED("region P 0x1000 4K rw stack max=1Q\n", "t.mmu:1: bad argument `max=1Q`");
	EXPECT_MALFORMED("region P 0x1000 4K rw stack max=1M max=2M\n", "t.mmu:1: wrong arguments");
	EXPECT_MALFORMED("kwrite 0 0x1000\n", "t.mmu:1: wrong arguments; usage: `kwrite");
	EXPECT_MALFORMED("kread 0\n", "t.mmu:1: wrong arguments; usage: `kread CPU VA`");
	EXPECT_MALFORMED("kreadstr 0 0x1000\n", "t.mmu:1: wrong arguments; usage: `kreadstr CPU VA MAX`");
	EXPECT_MALFORMED("kreadstr 0 0x1000 many\n", "t.mmu:1: bad argument `many`: expected a length");
	EXPECT_MALFORMED("same A 0x1000 B\n", "t.mmu:1: wrong arguments; usage: `same");
	EXPECT_MALFORMED("fork P\n", "t.mmu:1: wrong arguments; usage: `fork");
	EXPECT_MALFORMED("space A\nmachine cpus=1\n", "t.mmu:2: `machine` must be the first");
	EXPECT_MALFORMED("machine cpus=0\n", "t.mmu:1: bad machine setting `cpus=0`");
	EXPECT_MALFORMED("machine levels=3\n", "t.mmu:1: bad machine setting");
	EXPECT_MALFORMED("machine la57=1\n", "t.mmu:1: unknown machine setting `la57=1`");
	EXPECT_MALFORMED("\n\nread 2 0x1000\n", "t.mmu:3: CPU `2` does not exist");
	EXPECT_MALFORMED("map A 0x1000 F 4K rwq\n", "t.mmu:1: bad argument `rwq`");
	EXPECT_MALFORMED("map A 0x1000 F 4K\n", "t.mmu:1: wrong arguments; usage: `map");
	EXPECT_MALFORMED("map A 0x1000 F 4K r size=8K\n", "t.mmu:1: bad map option `size=8K`");
	EXPECT_MALFORMED("map A 0x1000 F 4K r uc wc\n", "t.mmu:1: map option `wc` conflicts");
	EXPECT_MALFORMED("map A 0x1000 F 4K r pkey=16\n", "t.mmu:1: bad map option");
	EXPECT_MALFORMED("write 0 0x1000 0x100\n", "t.mmu:1: bad argument `0x100`");
	EXPECT_MALFORMED("read 0 0x1000 kernel\n", "t.mmu:1: wrong arguments");
	EXPECT_MALFORMED("stats extra\n", "t.mmu:1: wrong arguments");
	EXPECT_MALFORMED("frame F 8K\n", "t.mmu:1: bad argument `8K`");
	EXPECT_MALFORMED("entry A 0x1000 pml6\n", "t.mmu:1: bad argument `pml6`");
	EXPECT_MALFORMED("walk A 0x1000 =>\n", "t.mmu:1: nothing after `=>`");
	EXPECT_MALFORMED("  => ok\n", "t.mmu:1: `=>` without a command");
	EXPECT_MALFORMED("space A23456789012345678901234567890123\n", "t.mmu:1: bad argument");
	EXPECT_MALFORMED("peek F+zz\n", "t.mmu:1: bad argument `F+zz`");
	/* Nothing runs: the diagnostic is the only line. */
	CHECK_EQ(lines_out, 1);
}

/* Every diagnostic names where to read about what it refuses: the
 * command's section (docs/VECTORS.md or docs/VECTORS-INSPECT.md), the
 * machine line's, or the one on lines; a long token is cut so that the
 * pointer still fits. */
static void test_diagnostics_point_at_docs(void)
{
	char nul[] = "stats\0\n";
	char longexp[200] = "stats => ";
	EXPECT_DIAG("space A\nmachine cpus=1\n",
		    "t.mmu:2: `machine` must be the first command of the file (see docs/VECTORS.md, \"The machine line\")");
	EXPECT_DIAG("machine cpus=1 => ok\n",
		    "t.mmu:1: `machine` prints no result: no `=>` allowed (see docs/VECTORS.md, \"The machine line\")");
	EXPECT_DIAG("machine la57=1\n",
		    "t.mmu:1: unknown machine setting `la57=1` (see docs/VECTORS.md, \"The machine line\")");
	EXPECT_DIAG("read 2 0x1000\n",
		    "t.mmu:1: CPU `2` does not exist (see cpus= in docs/VECTORS.md, \"The machine line\")");
	EXPECT_DIAG("map A 0x1000 F 4K\n",
		    "t.mmu:1: wrong arguments; usage: `map A VA F[+OFF] LEN PERM [size=4K|2M|1G] [global] [uc|wc] "
		    "[pkey=N]` (see docs/VECTORS.md, \"map\")");
	EXPECT_DIAG("map A 0x1000 F 4K rwq\n",
		    "t.mmu:1: bad argument `rwq`: expected a permission (letters r w x u, or -; see docs/VECTORS.md, "
		    "\"map\")");
	EXPECT_DIAG("map A 0x1000 F 4K r size=8K\n",
		    "t.mmu:1: bad map option `size=8K` (size=4K|2M|1G global uc wc pkey=0..15; see docs/VECTORS.md, "
		    "\"map\")");
	EXPECT_DIAG("map A 0x1000 F 4K r uc wc\n",
		    "t.mmu:1: map option `wc` conflicts with an earlier one (see docs/VECTORS.md, \"map\")");
	EXPECT_DIAG("unmap A 0x1000\n",
		    "t.mmu:1: wrong arguments; usage: `unmap A VA LEN` (see docs/VECTORS.md, \"unmap and protect\")");
	EXPECT_DIAG("write 0 0x1000 0x100\n",
		    "t.mmu:1: bad argument `0x100`: expected a byte (0..0xff; see docs/VECTORS.md, \"The access "
		    "commands\")");
	EXPECT_DIAG("stats extra\n", "t.mmu:1: wrong arguments; usage: `stats` (see docs/VECTORS.md, \"Physical "
				     "memory, PKRU, counters, dump\")");
	EXPECT_DIAG("region P 0x1000 4K rw stack max=1Q\n",
		    "t.mmu:1: bad argument `max=1Q`: expected max=SIZE (see docs/VECTORS.md, \"Regions\")");
	EXPECT_DIAG("fork P\n", "t.mmu:1: wrong arguments; usage: `fork P Q` (see docs/VECTORS.md, \"fork\")");
	EXPECT_DIAG("promote A maybe\n",
		    "t.mmu:1: bad argument `maybe`: expected on or off (see docs/VECTORS-INSPECT.md, \"Doing\")");
	EXPECT_DIAG("levels A\n",
		    "t.mmu:1: wrong arguments; usage: `levels A VA` (see docs/VECTORS-INSPECT.md, \"Looking\")");
	EXPECT_DIAG("space A23456789012345678901234567890123456789012345\n",
		    "t.mmu:1: bad argument `A234567890123456789012345678901234567...`: expected a name (1-31 "
		    "characters, no + or =; see docs/VECTORS.md, \"Page-table commands\")");
	EXPECT_DIAG("walk A 0x1000 =>\n", "t.mmu:1: nothing after `=>` (see docs/VECTORS.md, \"Lines\")");
	EXPECT_DIAG("  => ok\n", "t.mmu:1: `=>` without a command (see docs/VECTORS.md, \"Lines\")");
	EXPECT_DIAG("a b c d e f g h i j k l m n o p q\n",
		    "t.mmu:1: too many arguments (see docs/VECTORS.md, \"Lines\")");
	memset(longexp + strlen(longexp), 'x', 170);
	EXPECT_DIAG(longexp, "t.mmu:1: expectation too long (see docs/VECTORS.md, \"Lines\")");
	{
		struct vec_io io = {.file = "t.mmu", .text = nul, .len = sizeof nul - 1, .out = capture};
		last_line[0] = '\0';
		CHECK_EQ(vec_check(&io, NULL), VEC_MALFORMED);
		CHECK(strcmp(last_line, "t.mmu:1: NUL byte in line (see docs/VECTORS.md, \"Malformed files\")") == 0);
	}
}

static void test_well_formed(void)
{
	CHECK_EQ(check_text(""), VEC_PASSED);
	CHECK_EQ(check_text("# only a comment\n\n"), VEC_PASSED);
	CHECK_EQ(check_text("machine\nspace A\nframe F 2M\nmap A 0x200000 F 2M rwxu size=2M => ok\n"
			    "load 1 A\nexec 1 0x200000 user => ok\nwrite 0 0x200000 0xc3 user\ntlbstats"),
		 VEC_PASSED);
	CHECK_EQ(lines_out, 0);
}

int test_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	test_numbers();
	test_perm();
	test_collapse();
	test_statements();
	test_machine_pcid();
	test_process_statements();
	test_harvest_statements();
	test_malformed();
	test_diagnostics_point_at_docs();
	test_well_formed();
	return 0;
}
