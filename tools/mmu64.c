/* SPDX-License-Identifier: MIT */
/* mmu64: the command-line tool. `mmu64 run FILE...` runs vectors on the
 * software machine (docs/VECTORS.md); `mmu64 --help`, `mmu64 --version`. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/annotate.h"
#include "tools/exec_sim.h"
#include "tools/gen/gen.h"
#include "tools/view.h"
#include "tools/vec/vec.h"

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

static int run_file(const char *path, bool annotated)
{
	static struct vec_session session;
	struct exec_sim exec = {0};
	struct vec_io io = {.file = path, .out = print_line};
	struct annotate note = {.to = stdout};
	char *text = read_file(path, &io.len);
	int status;
	if (!text)
		return VEC_MALFORMED;
	io.text = text;
	if (annotated) {
		note.text = text;
		note.len = io.len;
		io.out = annotate_line;
		io.out_ctx = &note;
		io.raw = true;
	}
	status = vec_run(&session, &io, &exec_sim_ops, &exec);
	if (annotated)
		annotate_done(&note);
	free(text);
	return status;
}

static int run_files(int nfiles, char **files, bool annotated)
{
	int worst = VEC_PASSED;
	for (int i = 0; i < nfiles; i++) {
		if (nfiles > 1)
			printf("== %s\n", files[i]);
		int status = run_file(files[i], annotated);
		if (status > worst)
			worst = status;
	}
	return worst;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		print_usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "gen") == 0)
		return gen_main(argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		print_version();
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "run") == 0 && strcmp(argv[2], "--annotate") == 0)
		return run_files(argc - 3, argv + 3, true);
	if (argc >= 3 && strcmp(argv[1], "run") == 0)
		return run_files(argc - 2, argv + 2, false);
	if (argc == 3 && strcmp(argv[1], "explain") == 0)
		return explain_main(argv[2]);
	if (argc == 5 && strcmp(argv[1], "view") == 0 && strcmp(argv[3], "-o") == 0)
		return view_main(argv[2], argv[4]);
	print_usage(stderr);
	return 2;
}
