/* SPDX-License-Identifier: MIT */
/* The interpreter's driver: check, set up, run each command, report,
 * tear down. See vec.h. */
#include <string.h>

#include "tools/vec/inspect.h"
#include "tools/vec/run.h"

static const vec_handler handlers[VEC_OP_COUNT] = {
	[VEC_OP_SPACE] = vec_cmd_space,       [VEC_OP_DROP] = vec_cmd_drop,
	[VEC_OP_FRAME] = vec_cmd_frame,       [VEC_OP_MAP] = vec_cmd_map,
	[VEC_OP_UNMAP] = vec_cmd_unmap,       [VEC_OP_PROTECT] = vec_cmd_protect,
	[VEC_OP_WALK] = vec_cmd_walk,         [VEC_OP_ENTRY] = vec_cmd_entry,
	[VEC_OP_LOAD] = vec_cmd_load,         [VEC_OP_READ] = vec_cmd_read,
	[VEC_OP_WRITE] = vec_cmd_write,       [VEC_OP_EXEC] = vec_cmd_exec,
	[VEC_OP_POKE] = vec_cmd_poke,         [VEC_OP_PEEK] = vec_cmd_peek,
	[VEC_OP_STATS] = vec_cmd_stats,       [VEC_OP_TLBSTATS] = vec_cmd_tlbstats,
	[VEC_OP_PKRU] = vec_cmd_pkru,         [VEC_OP_DUMP] = vec_cmd_dump,
	[VEC_OP_PROC] = vec_cmd_proc,         [VEC_OP_REGION] = vec_cmd_region,
	[VEC_OP_FORK] = vec_cmd_fork,         [VEC_OP_KWRITE] = vec_cmd_kwrite,
	[VEC_OP_SAME] = vec_cmd_same,         [VEC_OP_EXIT] = vec_cmd_exit,
	[VEC_OP_FAULTS] = vec_cmd_faults,     [VEC_OP_HARVEST] = vec_cmd_harvest,
	[VEC_OP_KREAD] = vec_cmd_kread,       [VEC_OP_KREADSTR] = vec_cmd_kreadstr,
	VEC_INSPECT_HANDLERS
};

static void emit(const struct vec_io *io, const char *line) { io->out(io->out_ctx, line); }

/* ---- names and results shared by the commands ---- */

struct vec_proc *vec_find_proc(struct vec_session *s, const char *name)
{
	for (unsigned i = 0; i < VEC_MAX_PROCS; i++)
		if (s->proc[i].used && vec_str_eq(s->proc[i].name, name))
			return &s->proc[i];
	return NULL;
}

struct mmu_tree *vec_find_tree(struct vec_session *s, const char *name)
{
	struct vec_proc *p = vec_find_proc(s, name);
	return p ? &p->sp.tree : vec_find_pt_tree(s, name);
}

struct mmu_tree *vec_find_pt_tree(struct vec_session *s, const char *name)
{
	if (vec_str_eq(name, "kernel"))
		return mmu_kernel_tree(s->mmu);
	for (unsigned i = 0; i < VEC_MAX_SPACES; i++)
		if (s->space[i].used && vec_str_eq(s->space[i].name, name))
			return &s->space[i].tree;
	return NULL;
}

struct vec_frame *vec_find_frame(struct vec_session *s, const char *name)
{
	for (unsigned i = 0; i < VEC_MAX_FRAMES; i++)
		if (s->frame[i].used && vec_str_eq(s->frame[i].name, name))
			return &s->frame[i];
	return NULL;
}

bool vec_frame_range(struct vec_session *s, const struct vec_arg *ref, uint64_t len, mmu_pa_t *out)
{
	const struct vec_frame *f = vec_find_frame(s, ref->name);
	uint64_t size;
	if (!f)
		return false;
	size = mmu_size_bytes(f->size);
	if (ref->num > size || len > size - ref->num)
		return false;
	*out = mmu_pa_add(f->pa, ref->num);
	return true;
}

bool vec_kernel_range_ok(mmu_vaddr_t va, uint64_t len)
{
	mmu_vaddr_t last = va + (len ? len - 1 : 0);
	bool upper = (va >> 63) || (last >> 63) || last < va;
	return !upper || (va >= VEC_KERNEL_WINDOW_START && last >= va &&
			  last - VEC_KERNEL_WINDOW_START < VEC_KERNEL_WINDOW_LEN);
}

void vec_result_err(struct vec_buf *r, mmu_err_t err)
{
	if (err == MMU_OK) {
		vb_str(r, "ok");
		return;
	}
	vb_str(r, "error ");
	vb_str(r, mmu_err_name(err));
}

void vec_print_aside(struct vec_session *s, const char *text)
{
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	vb_init(&b, line, sizeof line);
	vb_dec(&b, s->line);
	vb_str(&b, ": | ");
	vb_str(&b, text);
	emit(s->io, line);
}

/* ---- reporting ---- */

static void report(struct vec_session *s, const struct vec_stmt *st, const char *result)
{
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	bool failed = st->has_expect && !vec_str_eq(result, st->expect);
	vb_init(&b, line, sizeof line);
	vb_dec(&b, st->line);
	vb_str(&b, ": ");
	vb_str(&b, result);
	if (failed) {
		vb_str(&b, " (expected ");
		vb_str(&b, st->expect);
		vb_str(&b, ") FAIL");
	}
	if (st->has_expect) {
		if (failed)
			s->failed++;
		else
			s->passed++;
	}
	emit(s->io, line);
}

/* A new TLB sanitizer report fails the file: "WHERE: tlbsan: LAST FAIL". */
static void check_sanitizer(struct vec_session *s, const char *where)
{
	const char *last = "";
	unsigned n;
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	if (!s->ops->sanitizer_reports)
		return;
	n = s->ops->sanitizer_reports(s->ctx, &last);
	if (vec_tlbsan_expected(s, where, n, last))
		return;
	if (n == s->sanitizer_seen)
		return;
	vb_init(&b, line, sizeof line);
	vb_str(&b, where);
	vb_str(&b, ": tlbsan: ");
	vb_dec(&b, n - s->sanitizer_seen);
	vb_str(&b, " report(s), last: ");
	vb_str(&b, last);
	vb_str(&b, " FAIL");
	emit(s->io, line);
	s->sanitizer_seen = n;
	s->failed++;
}

static void run_stmt(struct vec_session *s, const struct vec_stmt *st)
{
	char result[VEC_LINE_MAX];
	char where[16];
	struct vec_buf r, w;
	vb_init(&r, result, sizeof result);
	s->line = st->line;
	handlers[st->op](s, st, &r);
	report(s, st, result);
	vb_init(&w, where, sizeof where);
	vec_tlbsan_arm(s, st);
	vb_dec(&w, st->line);
	check_sanitizer(s, where);
	if (s->io->step)
		s->io->step(s->io->step_ctx, s, st);
}

/* ---- teardown: leave the machine as setup made it ---- */

static void load_kernel(void *arg)
{
	struct mmu *mmu = arg;
	mmu_tree_load(mmu_kernel_tree(mmu));
}

static void release_all(struct vec_session *s)
{
	for (unsigned cpu = 0; cpu < s->machine.cpus; cpu++)
		s->ops->run_on_cpu(s->ctx, cpu, load_kernel, s->mmu);
	vec_release_procs(s);
	vec_release_objects(s);
	if (s->kpti)
		mmu_kpti_fini(&s->kpti_template);
	s->kpti = false;
	for (unsigned i = 0; i < VEC_MAX_SPACES; i++) {
		if (s->space[i].used)
			(void)mmu_tree_destroy(&s->space[i].tree);
		s->space[i].used = false;
	}
	(void)mmu_unmap(mmu_kernel_tree(s->mmu), VEC_KERNEL_WINDOW_START, VEC_KERNEL_WINDOW_LEN, NULL);
	for (unsigned i = 0; i < VEC_MAX_FRAMES; i++) {
		if (s->frame[i].used)
			s->ops->frame_free(s->ctx, s->frame[i].size, s->frame[i].pa);
		s->frame[i].used = false;
	}
}

static void print_summary(const struct vec_io *io, unsigned passed, unsigned failed)
{
	char line[64];
	struct vec_buf b;
	vb_init(&b, line, sizeof line);
	vb_dec(&b, passed);
	vb_str(&b, " passed, ");
	vb_dec(&b, failed);
	vb_str(&b, " failed");
	emit(io, line);
}

/* ---- entry points ---- */

static void print_diag(const struct vec_io *io, const struct vec_diag *d)
{
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	vb_init(&b, line, sizeof line);
	vb_str(&b, io->file);
	vb_char(&b, ':');
	vb_dec(&b, d->line);
	vb_str(&b, ": ");
	vb_str(&b, d->msg);
	emit(io, line);
}

int vec_check(const struct vec_io *io, struct vec_machine *machine)
{
	struct vec_parser p;
	struct vec_stmt st;
	struct vec_diag d;
	enum vec_next next;
	vec_parser_init(&p, io->text, io->len);
	while ((next = vec_parse_next(&p, &st, &d)) == VEC_NEXT_STMT)
		;
	if (next == VEC_NEXT_ERROR) {
		print_diag(io, &d);
		return VEC_MALFORMED;
	}
	if (machine)
		*machine = p.machine;
	return VEC_PASSED;
}

enum start_outcome { STARTED, NOT_STARTED_MALFORMED, NOT_STARTED_SKIPPED };

static enum start_outcome start(struct vec_session *s, const struct vec_io *io, const struct vec_exec_ops *ops,
				void *ctx)
{
	const char *skip;
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	memset(s, 0, sizeof *s);
	s->io = io;
	s->ops = ops;
	s->ctx = ctx;
	if (vec_check(io, &s->machine) != VEC_PASSED)
		return NOT_STARTED_MALFORMED;
	skip = vec_inspect_skip(s);
	if (!skip)
		skip = ops->setup(ctx, &s->machine, &s->mmu);
	if (!skip && s->machine.kpti)
		skip = vec_kpti_start(s);
	if (!skip)
		return STARTED;
	vb_init(&b, line, sizeof line);
	vb_str(&b, "skip ");
	vb_str(&b, skip);
	emit(io, line);
	return NOT_STARTED_SKIPPED;
}

int vec_run(struct vec_session *s, const struct vec_io *io, const struct vec_exec_ops *ops, void *ctx)
{
	struct vec_parser p;
	struct vec_stmt st;
	struct vec_diag d;
	switch (start(s, io, ops, ctx)) {
	case STARTED:
		break;
	case NOT_STARTED_MALFORMED:
		return VEC_MALFORMED;
	case NOT_STARTED_SKIPPED:
		print_summary(io, 0, 0);
		return VEC_PASSED;
	}
	vec_parser_init(&p, io->text, io->len);
	while (vec_parse_next(&p, &st, &d) == VEC_NEXT_STMT)
		if (st.op != VEC_OP_MACHINE)
			run_stmt(s, &st);
	release_all(s);
	check_sanitizer(s, "end");
	ops->teardown(ctx);
	print_summary(io, s->passed, s->failed);
	return s->failed ? VEC_FAILED : VEC_PASSED;
}
