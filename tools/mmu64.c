/* mmu64: the command-line tool. `mmu64 run FILE...` runs vectors on the
 * software machine (docs/VECTORS.md); `mmu64 --help`, `mmu64 --version`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/exec_sim.h"
#include "tools/vec/parse.h"
#include "tools/vec/vec.h"

static void usage(FILE *to)
{
	fputs("usage: mmu64 run FILE...   run vector files on the software machine\n"
	      "       mmu64 --help        this text\n"
	      "       mmu64 --version     the library's version and the vector format's\n"
	      "\n"
	      "Each file prints `LINE: RESULT` per command and `N passed, N failed`.\n"
	      "With several files, each file's output starts with `== FILE`.\n"
	      "Exit status: the worst of the files: 0 passed (or skipped), 1 an\n"
	      "expectation or the TLB sanitizer failed, 2 a malformed file.\n"
	      "\n"
	      "A line is `COMMAND ARG... [=> EXPECTED]`; `#` starts a comment.\n"
	      "Commands (format " MMU64_VECTOR_FORMAT "):\n",
	      to);
	for (unsigned i = 0; vec_command_usage(i); i++)
		fprintf(to, "  %s\n", vec_command_usage(i));
	fputs("Results: ok [VALUE], error NAME, fault 0xE (#PF error code), gp, segv 0xE.\n"
	      "The full reference, with every rule and result: docs/VECTORS.md.\n",
	      to);
}

static void version(void)
{
	printf("mmu64 %s (vector format %s)\n", MMU64_VERSION_STRING, MMU64_VECTOR_FORMAT);
}

/* The whole of PATH in a malloc'd buffer; NULL (message printed) on error. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	if (!f) {
		fprintf(stderr, "mmu64: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n == cap) {
			char *bigger = realloc(buf, cap = cap ? cap * 2 : 65536);
			if (!bigger) {
				free(buf);
				fclose(f);
				fprintf(stderr, "mmu64: %s: out of memory\n", path);
				return NULL;
			}
			buf = bigger;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "mmu64: %s: read error\n", path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	puts(line);
}

static int run_file(const char *path)
{
	static struct vec_session session;
	struct exec_sim exec = {0};
	struct vec_io io = {.file = path, .out = print_line};
	char *text = read_file(path, &io.len);
	int status;
	if (!text)
		return VEC_MALFORMED;
	io.text = text;
	status = vec_run(&session, &io, &exec_sim_ops, &exec);
	free(text);
	return status;
}

static int run_files(int nfiles, char **files)
{
	int worst = VEC_PASSED;
	for (int i = 0; i < nfiles; i++) {
		if (nfiles > 1)
			printf("== %s\n", files[i]);
		int status = run_file(files[i]);
		if (status > worst)
			worst = status;
	}
	return worst;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		version();
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "run") == 0)
		return run_files(argc - 2, argv + 2);
	usage(stderr);
	return 2;
}
