/* SPDX-License-Identifier: MIT */
/* The kernel's access to the user memory of the process a CPU runs, through
 * the library's copies (include/mmu64/vm.h): kwrite (copy-to-user), kread
 * (copy-from-user) and kreadstr (strncpy-from-user). The executor makes
 * each byte's supervisor access with EFLAGS.AC=1; the library resolves the
 * faults. This file only calls and prints. */
#include "tools/vec/run.h"

#define KREADSTR_MAX 32 /* the longest string kreadstr copies (its result fits a line) */

/* One copy on the process's CPU, run there by run_on_cpu. */
struct ucopy {
	struct vec_session *s;
	struct mmu_vm_space *sp;
	unsigned cpu;
	mmu_vaddr_t va;
	uint8_t buf[KREADSTR_MAX];
	size_t len;   /* kwrite, kread: the bytes; kreadstr: MAX, then the length */
	uint32_t error_code;
	mmu_err_t err;
};

/* The store of copy-to-user: one byte at a time through the executor. */
static uint32_t store_through_executor(void *ctx, mmu_vaddr_t va, const uint8_t *src, size_t len)
{
	struct ucopy *u = ctx;
	for (size_t i = 0; i < len; i++) {
		struct vec_access a = u->s->ops->user_copy_write(u->s->ctx, u->cpu, va + i, src[i]);
		if (a.outcome == VEC_ACCESS_PF)
			return a.error_code;
	}
	return 0;
}

/* The load of copy-from-user, the same way. */
static bool load_through_executor(void *ctx, uint8_t *dst, mmu_vaddr_t va, size_t len, uint32_t *error_code)
{
	struct ucopy *u = ctx;
	for (size_t i = 0; i < len; i++) {
		struct vec_access a = u->s->ops->user_copy_read(u->s->ctx, u->cpu, va + i);
		if (a.outcome == VEC_ACCESS_PF) {
			*error_code = a.error_code;
			return false;
		}
		dst[i] = a.byte;
	}
	return true;
}

static void kwrite_on_cpu(void *arg)
{
	struct ucopy *u = arg;
	u->err = mmu_vm_copy_to_user(u->sp, u->va, u->buf, u->len, store_through_executor, u, &u->error_code);
}

static void kread_on_cpu(void *arg)
{
	struct ucopy *u = arg;
	u->err = mmu_vm_copy_from_user(u->sp, u->buf, u->va, u->len, load_through_executor, u, &u->error_code);
}

static void kreadstr_on_cpu(void *arg)
{
	struct ucopy *u = arg;
	u->err = mmu_vm_strncpy_from_user(u->sp, (char *)u->buf, u->va, u->len, load_through_executor, u, &u->len,
					  &u->error_code);
}

/* Run FN for the process on the command's CPU: false (R says `error
 * INVALID`) when CPU runs no process or the executor lacks the access. */
static bool run_copy(struct vec_session *s, const struct vec_stmt *st, bool store, vec_cpu_fn fn, struct ucopy *u,
		     struct vec_buf *r)
{
	u->s = s;
	u->cpu = (unsigned)st->arg[0].num;
	u->va = st->arg[1].num;
	struct vec_proc *p = vec_active_proc(s, u->cpu);
	if (!p || !(store ? s->ops->user_copy_write != NULL : s->ops->user_copy_read != NULL)) {
		vec_result_err(r, MMU_E_INVALID);
		return false;
	}
	u->sp = &p->sp;
	s->ops->run_on_cpu(s->ctx, u->cpu, fn, u);
	return true;
}

/* An error, or `fault 0xE` for a refused copy (E: the #PF error code, the
 * library's refusal flag dropped); false when the copy completed. */
static bool copy_failed(const struct ucopy *u, struct vec_buf *r)
{
	if (u->err != MMU_OK) {
		vec_result_err(r, u->err);
		return true;
	}
	if (u->error_code == 0)
		return false;
	vb_str(r, "fault ");
	vb_hex(r, u->error_code & ~MMU_VM_COPY_REFUSED);
	return true;
}

/* `ok`, or `fault 0xE` when the copy is refused. A VA outside the user
 * half never reaches the store: the library's access_ok check makes it
 * `error INVALID`. */
void vec_cmd_kwrite(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct ucopy u = {.len = 1, .buf = {(uint8_t)st->arg[2].num}};
	if (run_copy(s, st, true, kwrite_on_cpu, &u, r) && !copy_failed(&u, r))
		vb_str(r, "ok");
}

/* `ok 0xNN`, or `fault 0xE` as kwrite. */
void vec_cmd_kread(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct ucopy u = {.len = 1};
	if (run_copy(s, st, false, kread_on_cpu, &u, r) && !copy_failed(&u, r)) {
		vb_str(r, "ok ");
		vb_byte(r, u.buf[0]);
	}
}

/* A string byte as it prints: itself when a visible ASCII character that
 * neither a vector line (`#`, blanks) nor the quotes would misread, else
 * \xNN. */
static void print_string_byte(struct vec_buf *r, uint8_t c)
{
	if (c > ' ' && c < 0x7f && c != '#' && c != '"' && c != '\\') {
		vb_char(r, (char)c);
		return;
	}
	char digits[sizeof "0xNN"];
	struct vec_buf d;
	vb_init(&d, digits, sizeof digits);
	vb_byte(&d, c);
	vb_str(r, "\\x");
	vb_str(r, digits + 2);
}

/* `ok LEN "TEXT"`, with ` unterminated` when no NUL came within MAX bytes
 * (LEN is then MAX); `fault 0xE` as kwrite; MAX outside 1..32: `error
 * INVALID`. */
void vec_cmd_kreadstr(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	uint64_t max = st->arg[2].num;
	if (max == 0 || max > KREADSTR_MAX) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	struct ucopy u = {.len = (size_t)max};
	if (!run_copy(s, st, false, kreadstr_on_cpu, &u, r) || copy_failed(&u, r))
		return;
	vb_str(r, "ok ");
	vb_dec(r, u.len);
	vb_str(r, " \"");
	for (size_t i = 0; i < u.len; i++)
		print_string_byte(r, u.buf[i]);
	vb_char(r, '"');
	if (u.len == max)
		vb_str(r, " unterminated");
}
