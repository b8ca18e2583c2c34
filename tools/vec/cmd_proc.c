/* SPDX-License-Identifier: MIT */
/* Process commands: proc region fork same exit faults, and user
 * accesses on a CPU running a process (the hardware path, then the
 * process's fault handler, then a retry). The policy is the library's
 * (include/mmu64/vm.h); this file only names things and prints. */
#include <string.h>

#include "tools/vec/run.h"

/* Accesses retried per command: a resolved fault is followed by one more
 * hardware access; more than this many faults in a row is refused. */
#define VEC_FAULT_RETRIES 4

static struct vec_proc *free_proc_slot(struct vec_session *s)
{
	for (unsigned i = 0; i < VEC_MAX_PROCS; i++)
		if (!s->proc[i].used)
			return &s->proc[i];
	return NULL;
}

struct vec_proc *vec_active_proc(struct vec_session *s, unsigned cpu)
{
	for (unsigned i = 0; i < VEC_MAX_PROCS; i++)
		if (s->proc[i].used && s->active[cpu] == &s->proc[i].sp.tree)
			return &s->proc[i];
	return NULL;
}

/* A slot for new process NAME: DUPLICATED when the name is taken (a space
 * or `kernel` included), NOMEM when the table is full. */
static mmu_err_t new_proc_slot(struct vec_session *s, const char *name, struct vec_proc **out)
{
	if (vec_find_tree(s, name))
		return MMU_E_DUPLICATED;
	*out = free_proc_slot(s);
	return *out ? MMU_OK : MMU_E_NOMEM;
}

static void proc_named(struct vec_proc *p, const char *name)
{
	p->used = true;
	memcpy(p->name, name, sizeof p->name);
}

void vec_cmd_proc(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = NULL;
	mmu_err_t err = new_proc_slot(s, st->arg[0].name, &p);
	if (err == MMU_OK)
		err = mmu_vm_space_create(s->mmu, &p->sp);
	if (err == MMU_OK && s->kpti && (err = mmu_vm_kpti_enable(&p->sp, &s->kpti_template)) != MMU_OK)
		(void)mmu_vm_space_exit(&p->sp);
	if (err == MMU_OK)
		proc_named(p, st->arg[0].name);
	vec_result_err(r, err);
}

/* ---- KPTI: processes get shadows; user accesses run on them ---- */

const char *vec_kpti_start(struct vec_session *s)
{
	unsigned n = 0;
	const struct mmu_kpti_range *ranges = NULL;
	if (!s->ops->kpti_ranges || !s->ops->set_user_cr3) {
		s->ops->teardown(s->ctx);
		return "kpti=1: the executor has no KPTI";
	}
	ranges = s->ops->kpti_ranges(s->ctx, &n);
	if (mmu_kpti_init(s->mmu, &s->kpti_template, ranges, n) != MMU_OK) {
		s->ops->teardown(s->ctx);
		return "kpti=1: the executor's KPTI ranges were refused";
	}
	s->kpti = true;
	return NULL;
}

struct user_cr3_call {
	struct mmu_vm_space *sp;
	uint64_t cr3;
};

static void user_cr3_on_cpu(void *arg)
{
	struct user_cr3_call *c = arg;
	c->cr3 = mmu_vm_user_cr3(c->sp);
}

/* At `load`: the CR3 of the next exit to user mode is not known yet (with
 * PCIDs it depends on the invalidations before that exit). */
void vec_kpti_loaded(struct vec_session *s, unsigned cpu)
{
	if (s->kpti)
		s->ops->set_user_cr3(s->ctx, cpu, 0);
}

/* Before each user access of process P on CPU: the exit's CR3, taken on
 * that CPU, as a kernel does last thing before returning to user mode
 * (with PCIDs it names that CPU's PCID and pays that CPU's flush debt). */
static void kpti_exit_to_user(struct vec_session *s, unsigned cpu, struct vec_proc *p)
{
	if (!s->kpti)
		return;
	struct user_cr3_call c = {.sp = &p->sp, .cr3 = 0};
	s->ops->run_on_cpu(s->ctx, cpu, user_cr3_on_cpu, &c);
	s->ops->set_user_cr3(s->ctx, cpu, c.cr3);
}

/* `max=0` is a stack that may not hold its own length: INVALID. */
void vec_cmd_region(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	uint64_t max = st->has_max ? st->arg[5].num : 0;
	if (!p || (st->has_max && max == 0)) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	vec_result_err(r, mmu_vm_region_add(&p->sp, st->arg[1].num, st->arg[2].num, (unsigned)st->arg[3].num,
					    (enum mmu_vm_kind)st->arg[4].num, max));
}

void vec_cmd_fork(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *parent = vec_find_proc(s, st->arg[0].name), *child = NULL;
	mmu_err_t err = parent ? new_proc_slot(s, st->arg[1].name, &child) : MMU_E_INVALID;
	/* A parent in its own array (`rstorage`): the child gets one as big. */
	bool own = err == MMU_OK && parent->sp.region == parent->slots;
	if (err == MMU_OK)
		err = mmu_vm_fork_with_storage(&parent->sp, &child->sp, own ? child->slots : NULL,
					       own ? parent->sp.region_cap : 0);
	if (err == MMU_OK)
		proc_named(child, st->arg[1].name);
	vec_result_err(r, err);
}

void vec_cmd_exit(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	mmu_err_t err = p ? mmu_vm_space_exit(&p->sp) : MMU_E_INVALID;
	if (err == MMU_OK)
		p->used = false;
	vec_result_err(r, err);
}

void vec_release_procs(struct vec_session *s)
{
	for (unsigned i = 0; i < VEC_MAX_PROCS; i++) {
		if (s->proc[i].used)
			(void)mmu_vm_space_exit(&s->proc[i].sp);
		s->proc[i].used = false;
	}
	for (unsigned cpu = 0; cpu < MMU_MAX_CPUS; cpu++)
		s->active[cpu] = NULL;
}

static void print_counter(struct vec_buf *r, const char *name, uint64_t v)
{
	vb_char(r, ' ');
	vb_str(r, name);
	vb_char(r, '=');
	vb_dec(r, v);
}

void vec_cmd_faults(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	if (!p) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	struct mmu_vm_counters c = mmu_vm_counters_take(&p->sp);
	vb_str(r, "ok");
	print_counter(r, "demand", c.demand);
	print_counter(r, "cow", c.cow);
	print_counter(r, "stack", c.stack);
	print_counter(r, "spurious", c.spurious);
	print_counter(r, "segv", c.segv);
	if (c.swapin) /* mmu64's own: never printed in a file without `pageout` */
		print_counter(r, "swapin", c.swapin);
}

/* `ok same` when both addresses are in one physical page. */
void vec_cmd_same(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *a = vec_find_tree(s, st->arg[0].name), *b = vec_find_tree(s, st->arg[2].name);
	struct mmu_translation ta, tb;
	bool ok = a && b && vec_kernel_range_ok(st->arg[1].num, 1) && vec_kernel_range_ok(st->arg[3].num, 1);
	mmu_err_t err = ok ? MMU_OK : MMU_E_INVALID;
	if (err == MMU_OK)
		err = mmu_walk(a, st->arg[1].num, &ta);
	if (err == MMU_OK)
		err = mmu_walk(b, st->arg[3].num, &tb);
	if (err != MMU_OK) {
		vec_result_err(r, err);
		return;
	}
	bool same = (mmu_pa_bits(ta.pa) >> MMU_PAGE_SHIFT) == (mmu_pa_bits(tb.pa) >> MMU_PAGE_SHIFT);
	vb_str(r, same ? "ok same" : "ok different");
}

/* ---- the fault handler, run on the faulting CPU ---- */

struct fault_call {
	struct mmu_vm_space *sp;
	struct mmu_vm_fault fault;
	enum mmu_vm_outcome outcome;
};

static void handle_on_cpu(void *arg)
{
	struct fault_call *c = arg;
	c->outcome = mmu_vm_handle_fault(c->sp, &c->fault);
}

bool vec_proc_user_access(struct vec_session *s, unsigned cpu, enum vec_access_kind kind, mmu_vaddr_t va,
			  uint8_t byte, struct vec_buf *r)
{
	struct vec_proc *p = vec_active_proc(s, cpu);
	if (!p)
		return false;
	struct vec_access a = {.outcome = VEC_ACCESS_PF};
	for (unsigned i = 0; i <= VEC_FAULT_RETRIES; i++) {
		kpti_exit_to_user(s, cpu, p);
		a = s->ops->access(s->ctx, cpu, kind, va, /*user=*/true, byte);
		if (a.outcome != VEC_ACCESS_PF) {
			vec_print_access(r, kind, &a);
			return true;
		}
		struct fault_call c = {.sp = &p->sp, .fault = mmu_vm_fault_decode(a.error_code, va, MMU_VM_FAULT_ACCESS)};
		s->ops->run_on_cpu(s->ctx, cpu, handle_on_cpu, &c);
		/* docs/VECTORS.md: out of memory prints `error NOMEM`; an
		 * exited space (not reachable from a vector) `error INVALID`. */
		if (c.outcome == MMU_VM_NOMEM || c.outcome == MMU_VM_DEAD) {
			vec_result_err(r, c.outcome == MMU_VM_NOMEM ? MMU_E_NOMEM : MMU_E_INVALID);
			return true;
		}
		if (!mmu_vm_resolved(c.outcome))
			break;
	}
	vb_str(r, "segv ");
	vb_hex(r, a.error_code);
	return true;
}
