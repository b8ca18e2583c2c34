/* SPDX-License-Identifier: MIT */
/* The page-table lab's grader: runs the checks (the .lab files of checks/, one small
 * vector each) against the student's lab_walk/lab_map/lab_unmap on
 * mmu64's software machine, each check in its own process on a fresh
 * machine, and prints PASS/FAIL per check and a score.
 *
 * A check fails at the first command whose result is not the expected one,
 * at the first TLB sanitizer report (a stale translation used, a frame
 * freed while a TLB holds it), or when the student's code crashes. The
 * check format is README.md's "Checks". */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab.h"
#include "sim/sim.h"

#define MAX_FRAMES 64
#define MAX_TOKENS 8
#define POINTS 10

struct frame {
	char name[32];
	mmu_pa_t pa;
	bool freed;
};

/* The running check (one per process). */
static struct {
	struct sim *sim;
	uint64_t root, kernel_cr3;
	struct frame frame[MAX_FRAMES];
	unsigned nframes, ncpus;
	unsigned tables, reports_seen;
	jmp_buf bail; /* the student's code called a service wrongly */
	char why[512];
} g;

static void failf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g.why, sizeof g.why, fmt, ap);
	va_end(ap);
}

/* ---- the services of lab.h ---- */

void *lab_p2v(uint64_t pa)
{
	uint8_t *p = sim_phys(g.sim, mmu_pa(pa));
	if (!p) {
		failf("lab_p2v(0x%llx): not physical memory", (unsigned long long)pa);
		longjmp(g.bail, 1);
	}
	return p;
}

uint64_t lab_table_alloc(void)
{
	struct mmu_port *port = &sim_mmu(g.sim)->port;
	mmu_pa_t pa;
	if (port->ops->frame_alloc(port->ctx, MMU_FRAME_TABLE, MMU_SIZE_4K, &pa) != MMU_OK)
		return 0;
	g.tables++;
	return mmu_pa_bits(pa);
}

void lab_invlpg(uint64_t va) { sim_invlpg(g.sim, 0, va); }

void lab_shootdown(uint64_t root, uint64_t va)
{
	for (unsigned cpu = 1; cpu < g.ncpus; cpu++)
		if ((sim_cpu_regs(g.sim, cpu).cr3 & PTE_ADDR) == root)
			sim_invlpg(g.sim, cpu, va);
}

static struct frame *frame_at(uint64_t pa)
{
	for (unsigned i = 0; i < g.nframes; i++)
		if (mmu_pa_bits(g.frame[i].pa) == pa)
			return &g.frame[i];
	return NULL;
}

void lab_frame_free(uint64_t pa)
{
	struct frame *f = frame_at(pa);
	if (!f || f->freed) {
		failf("lab_frame_free(0x%llx): %s", (unsigned long long)pa, f ? "freed twice" : "not a data frame");
		longjmp(g.bail, 1);
	}
	f->freed = true;
	sim_frame_free(g.sim, MMU_SIZE_4K, f->pa);
}

/* ---- commands ---- */

static struct frame *frame_named(const char *name)
{
	for (unsigned i = 0; i < g.nframes; i++)
		if (strcmp(g.frame[i].name, name) == 0)
			return &g.frame[i];
	return NULL;
}

static unsigned parse_perm(const char *s)
{
	unsigned p = 0;
	for (; *s; s++)
		p |= *s == 'w' ? PERM_W : *s == 'u' ? PERM_U : *s == 'x' ? PERM_X : 0;
	return p;
}

static void access_result(char *out, size_t n, struct sim_access a, bool read)
{
	if (a.outcome == SIM_OK && read)
		snprintf(out, n, "ok 0x%02x", a.byte);
	else if (a.outcome == SIM_OK)
		snprintf(out, n, "ok");
	else if (a.outcome == SIM_PF)
		snprintf(out, n, "fault 0x%x", a.error_code);
	else
		snprintf(out, n, "gp");
}

static void do_access(char **tok, unsigned ntok, char *out, size_t n)
{
	enum sim_access_kind kind = tok[0][0] == 'r' ? SIM_READ : tok[0][0] == 'w' ? SIM_WRITE : SIM_EXEC;
	unsigned cpu = (unsigned)strtoul(tok[1], NULL, 0);
	uint64_t va = strtoull(tok[2], NULL, 0);
	unsigned argn = kind == SIM_WRITE ? 4 : 3;
	uint8_t byte = kind == SIM_WRITE ? (uint8_t)strtoul(tok[3], NULL, 0) : 0;
	bool user = ntok > argn && strcmp(tok[argn], "user") == 0;
	access_result(out, n, sim_access(g.sim, cpu, kind, va, user, false, byte), kind == SIM_READ);
}

static void do_walk(uint64_t va, char *out, size_t n)
{
	pte_t *pte = lab_walk(g.root, va, false);
	struct frame *f = pte && (*pte & PTE_P) ? frame_at(*pte & PTE_ADDR) : NULL;
	if (!pte || !(*pte & PTE_P))
		snprintf(out, n, "none");
	else if (f)
		snprintf(out, n, "ok %s", f->name);
	else
		snprintf(out, n, "ok 0x%llx", (unsigned long long)(*pte & PTE_ADDR));
}

/* Run one command; OUT gets its result. False: the line is malformed. */
static bool run_command(char **tok, unsigned ntok, char *out, size_t n)
{
	const char *c = tok[0];
	out[0] = '\0';
	if (strcmp(c, "frame") == 0 && ntok == 2 && g.nframes < MAX_FRAMES) {
		struct frame *f = &g.frame[g.nframes++];
		snprintf(f->name, sizeof f->name, "%s", tok[1]);
		snprintf(out, n, sim_frame_alloc(g.sim, MMU_SIZE_4K, &f->pa) == MMU_OK ? "ok" : "error");
	} else if (strcmp(c, "map") == 0 && ntok == 4 && frame_named(tok[2])) {
		int r = lab_map(g.root, strtoull(tok[1], NULL, 0), mmu_pa_bits(frame_named(tok[2])->pa), parse_perm(tok[3]));
		snprintf(out, n, r == 0 ? "ok" : "error");
	} else if (strcmp(c, "unmap") == 0 && (ntok == 2 || (ntok == 3 && strcmp(tok[2], "free") == 0))) {
		int r = lab_unmap(g.root, strtoull(tok[1], NULL, 0), ntok == 3);
		snprintf(out, n, r == 0 ? "ok" : "error");
	} else if (strcmp(c, "walk") == 0 && ntok == 2) {
		do_walk(strtoull(tok[1], NULL, 0), out, n);
	} else if (strcmp(c, "load") == 0 && ntok == 2 && strtoul(tok[1], NULL, 0) < g.ncpus) {
		sim_write_cr3(g.sim, (unsigned)strtoul(tok[1], NULL, 0), g.root);
		snprintf(out, n, "ok");
	} else if ((strcmp(c, "read") == 0 || strcmp(c, "exec") == 0) && (ntok == 3 || ntok == 4)) {
		do_access(tok, ntok, out, n);
	} else if (strcmp(c, "write") == 0 && (ntok == 4 || ntok == 5)) {
		do_access(tok, ntok, out, n);
	} else if (strcmp(c, "tables") == 0 && ntok == 1) {
		snprintf(out, n, "ok %u", g.tables);
	} else {
		return false;
	}
	return true;
}

/* ---- one check ---- */

/* Split LINE into tokens (before `=>`) and the expectation (after). */
static unsigned split(char *line, char **tok, char **expect)
{
	char *arrow = strstr(line, "=>"), *hash = strchr(line, '#');
	unsigned n = 0;
	if (hash)
		*hash = '\0';
	*expect = NULL;
	if (arrow && (!hash || arrow < hash)) {
		*arrow = '\0';
		*expect = arrow + 2;
		while (**expect == ' ' || **expect == '\t')
			(*expect)++;
		char *end = *expect + strlen(*expect);
		while (end > *expect && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
			*--end = '\0';
	}
	for (char *t = strtok(line, " \t\r\n"); t && n < MAX_TOKENS; t = strtok(NULL, " \t\r\n"))
		tok[n++] = t;
	return n;
}

static bool sanitizer_quiet(unsigned ln)
{
	unsigned n = sim_tlbsan_reports(g.sim);
	if (n == g.reports_seen)
		return true;
	failf("line %u: TLB sanitizer: %s", ln, sim_tlbsan_last(g.sim));
	g.reports_seen = n;
	return false;
}

/* The lines of F, run in order; true when every one held. */
static bool run_lines(FILE *f)
{
	char line[256];
	for (unsigned ln = 1; fgets(line, sizeof line, f); ln++) {
		char copy[256], *tok[MAX_TOKENS], *expect, result[64];
		snprintf(copy, sizeof copy, "%s", line);
		unsigned ntok = split(copy, tok, &expect);
		if (ntok == 0)
			continue;
		if (!run_command(tok, ntok, result, sizeof result)) {
			failf("line %u: malformed check line: %s", ln, line);
			return false;
		}
		if (expect && strcmp(expect, result) != 0) {
			line[strcspn(line, "=")] = '\0';
			failf("line %u: %s=> %s (expected %s)", ln, line, result, expect);
			sanitizer_quiet(ln); /* its message explains more than the result */
			return false;
		}
		if (!sanitizer_quiet(ln))
			return false;
	}
	return true;
}

/* Back to the kernel tree everywhere (flushing), then the student's
 * tables and the frames still held go back. */
static void release(void)
{
	for (unsigned cpu = 0; cpu < g.ncpus; cpu++)
		sim_write_cr3(g.sim, cpu, g.kernel_cr3);
	for (unsigned i = 0; i < g.nframes; i++)
		if (!g.frame[i].freed)
			sim_frame_free(g.sim, MMU_SIZE_4K, g.frame[i].pa);
	sim_destroy(g.sim); /* the arena goes with it, student tables included */
}

static bool run_check(const char *path)
{
	struct sim_config cfg;
	FILE *f = fopen(path, "r");
	bool ok;
	if (!f) {
		failf("cannot read %s", path);
		return false;
	}
	sim_config_default(&cfg);
	cfg.ncpus = g.ncpus = 2;
	g.sim = sim_create(&cfg);
	if (!g.sim) {
		fclose(f);
		failf("the software machine could not be created");
		return false;
	}
	sim_set_cpu(g.sim, 0);
	g.kernel_cr3 = sim_cpu_regs(g.sim, 0).cr3;
	g.root = lab_table_alloc();
	if (setjmp(g.bail) == 0)
		ok = run_lines(f);
	else
		ok = false;
	fclose(f);
	if (ok && !sanitizer_quiet(0))
		ok = false;
	release();
	return ok;
}

/* ---- driver ---- */

static void describe(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	char line[256] = "";
	out[0] = '\0';
	if (f && fgets(line, sizeof line, f) && line[0] == '#') {
		line[strcspn(line, "\n")] = '\0';
		snprintf(out, n, "%s", line + 1 + (line[1] == ' '));
	}
	if (f)
		fclose(f);
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }
static int is_check(const struct dirent *d) { return strlen(d->d_name) > 4 && strcmp(d->d_name + strlen(d->d_name) - 4, ".lab") == 0; }

/* Each check in a child process, so that a crash fails that check only. */
static bool grade_one(const char *dir, const char *file)
{
	char path[512], name[128], what[200];
	int pipefd[2], status = 0;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	snprintf(name, sizeof name, "%.*s", (int)(strlen(file) - 4), file);
	describe(path, what, sizeof what);
	fflush(stdout);
	if (pipe(pipefd) != 0)
		return false;
	pid_t pid = fork();
	if (pid == 0) {
		/* The sanitizer also prints its reports on stderr; the FAIL line
		 * carries the first one already. */
		FILE *null = fopen("/dev/null", "w");
		if (null)
			dup2(fileno(null), STDERR_FILENO);
		close(pipefd[0]);
		bool ok = run_check(path);
		if (!ok && write(pipefd[1], g.why, strlen(g.why)) < 0)
			_exit(2);
		_exit(ok ? 0 : 1);
	}
	close(pipefd[1]);
	char why[512] = "";
	ssize_t got = read(pipefd[0], why, sizeof why - 1);
	why[got > 0 ? got : 0] = '\0';
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!WIFEXITED(status))
		snprintf(why, sizeof why, "your code crashed (signal %d)", WTERMSIG(status));
	printf("%s %-26s %s\n", ok ? "PASS" : "FAIL", name, what);
	if (!ok)
		printf("     %s\n", why);
	return ok;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "checks";
	struct dirent **list;
	int n = scandir(dir, &list, is_check, by_name);
	unsigned passed = 0;
	if (n <= 0) {
		fprintf(stderr, "grader: no checks (*.lab) in %s\n", dir);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < n; i++) {
		passed += grade_one(dir, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	printf("score: %u/%u (%u of %d checks passed)\n", passed * POINTS, (unsigned)n * POINTS, passed, n);
	return passed == (unsigned)n ? 0 : 1;
}
