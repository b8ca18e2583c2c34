/* SPDX-License-Identifier: MIT */
/* Commands that need a CPU or physical memory: load read write exec poke
 * peek pkru. They go through the executor ops. */
#include "tools/vec/run.h"

struct load_args {
	struct mmu_tree *tree;
};

static void load_on_this_cpu(void *arg)
{
	struct load_args *a = arg;
	mmu_tree_load(a->tree);
}

/* `load CPU A`: mmu_tree_load must run on that CPU (it writes its CR3). */
void vec_cmd_load(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct load_args a = {vec_find_tree(s, st->arg[1].name)};
	if (!a.tree) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	s->ops->run_on_cpu(s->ctx, (unsigned)st->arg[0].num, load_on_this_cpu, &a);
	s->active[st->arg[0].num] = a.tree;
	vec_kpti_loaded(s, (unsigned)st->arg[0].num);
	vb_str(r, "ok");
}

void vec_print_access(struct vec_buf *r, enum vec_access_kind kind, const struct vec_access *a)
{
	switch (a->outcome) {
	case VEC_ACCESS_OK:
		vb_str(r, "ok");
		if (kind == VEC_READ) {
			vb_char(r, ' ');
			vb_byte(r, a->byte);
		}
		break;
	case VEC_ACCESS_PF:
		vb_str(r, "fault ");
		vb_hex(r, a->error_code);
		break;
	case VEC_ACCESS_GP:
		vb_str(r, "gp");
		break;
	}
}

/* `ok` (with the byte for a read), `fault 0xE` or `gp`; a user access on a
 * CPU running a process goes through its fault handler (`segv 0xE`). */
static void access(struct vec_session *s, const struct vec_stmt *st, enum vec_access_kind kind, uint8_t byte,
		   struct vec_buf *r)
{
	unsigned cpu = (unsigned)st->arg[0].num;
	mmu_vaddr_t va = st->arg[1].num;
	/* The executor's own kernel memory; a non-canonical VA stays `gp`. */
	if (!vec_kernel_range_ok(va, 1) && mmu_va_canonical(va, s->machine.levels)) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	if (st->user && vec_proc_user_access(s, cpu, kind, va, byte, r))
		return;
	struct vec_access a = s->ops->access(s->ctx, cpu, kind, va, st->user, byte);
	vec_print_access(r, kind, &a);
}

void vec_cmd_read(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	access(s, st, VEC_READ, 0, r);
}

void vec_cmd_write(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	access(s, st, VEC_WRITE, (uint8_t)st->arg[2].num, r);
}

void vec_cmd_exec(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	access(s, st, VEC_EXEC, 0, r);
}

/* poke/peek outside every named frame: INVALID. */
void vec_cmd_poke(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	mmu_pa_t pa;
	if (!vec_frame_range(s, &st->arg[0], 1, &pa)) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	s->ops->poke(s->ctx, pa, (uint8_t)st->arg[1].num);
	vb_str(r, "ok");
}

void vec_cmd_peek(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	mmu_pa_t pa;
	if (!vec_frame_range(s, &st->arg[0], 1, &pa)) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	vb_str(r, "ok ");
	vb_byte(r, s->ops->peek(s->ctx, pa));
}

/* Without pke=1 the CPU has no PKRU (WRPKRU would #UD): INVALID. */
void vec_cmd_pkru(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	if (!s->machine.pke) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	s->ops->set_pkru(s->ctx, (unsigned)st->arg[0].num, (uint32_t)st->arg[1].num);
	vb_str(r, "ok");
}
