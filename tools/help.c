/* SPDX-License-Identifier: MIT */
/* mmu64 --help: usage and a summary of the vector commands. */
#include "mmu64/version.h"
#include "tools/annotate.h"
#include "tools/vec/parse.h"

void print_usage(FILE *to)
{
	fputs("usage: mmu64 run [--annotate] FILE...  run vector files on the software machine\n"
	      "       mmu64 view FILE.mmu -o FILE.html  write a step-through page of one vector\n"
	      "       mmu64 explain CODE               decode a #PF error code (e.g. 0x7)\n"
	      "       mmu64 gen --seed N [--commands N] [--cpus N] [--pcid] [--no FEATURE,...]\n"
	      "                                        a random vector file (docs/RANDOM-DIFF.md)\n"
	      "       mmu64 --help                     this text\n"
	      "       mmu64 --version                  the library's version and the vector format's\n"
	      "\n"
	      "Each file prints `LINE: RESULT` per command and `N passed, N failed`.\n"
	      "With several files, each file's output starts with `== FILE`.\n"
	      "Exit status: the worst of the files: 0 passed (or skipped), 1 an\n"
	      "expectation or the TLB sanitizer failed, 2 a malformed file.\n"
	      "--annotate prints each command beside its result, decodes fault codes\n"
	      "(P W U RSVD I/D PK SS) and shows raw entries in `levels`; without it the\n"
	      "output is the plain format that executors compare.\n"
	      "\n"
	      "A line is `COMMAND ARG... [=> EXPECTED]`; `#` starts a comment.\n"
	      "Commands (format " MMU64_VECTOR_FORMAT "; the inspection commands from `levels` on\n"
	      "are extensions, docs/VECTORS-INSPECT.md):\n",
	      to);
	for (unsigned i = 0; vec_command_usage(i); i++)
		fprintf(to, "  %s\n", vec_command_usage(i));
	fputs("The machine line also takes [pcid=0|1] [invpcid=0|1] (an extension: docs/VECTORS.md,\n"
	      "\"Extension: PCIDs\").\n"
	      "Results: ok [VALUE], error NAME, fault 0xE (#PF error code), gp, segv 0xE.\n"
	      "The full reference, with every rule and result: docs/VECTORS.md.\n",
	      to);
}

void print_version(void)
{
	printf("mmu64 %s (vector format %s)\n", MMU64_VERSION_STRING, MMU64_VECTOR_FORMAT);
}
