/* SPDX-License-Identifier: MIT */
/* Inspection and experiment commands on process spaces and trees: shadow
 * (a KPTI shadow's dump and audit), regions (a process's regions),
 * rprotect, rremove and rresize (region protect, remove and resize),
 * rminaddr (the lowest mappable address), rhuge (2M pages), rstorage (the region storage),
 * promote (a space's promotion of full tables). docs/VECTORS-INSPECT.md. */
#include "tools/vec/inspect.h"

#define VEC_WINDOW_START 0xffffc80000000000ull /* the vectors' kernel window */
#define VEC_WINDOW_END 0xffffd00000000000ull

static void aside_line(void *ctx, const char *line) { vec_print_aside(ctx, line); }

/* `shadow P`: the dump of P's shadow tree, its user half (the process's
 * own tables, shared) and the vectors' kernel window (which a shadow never
 * maps), then `ok`. The rest of the shadow's kernel half is the executor's
 * entry path, so it is not shown, and neither is the KPTI audit, which
 * looks at it, except in raw mode (mmu64 run --annotate, mmu64 view): its
 * lines, then `kpti audit: N violation(s)`. NOTEXIST: P has no shadow (kpti=0). */
void vec_cmd_shadow(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	if (!p || !p->sp.kpti) {
		vec_result_err(r, p ? MMU_E_NOTEXIST : MMU_E_INVALID);
		return;
	}
	mmu_vm_kpti_dump(&p->sp, 0, 1ull << (mmu_va_bits(s->machine.levels) - 1), aside_line, s);
	mmu_vm_kpti_dump(&p->sp, VEC_WINDOW_START, VEC_WINDOW_END, aside_line, s);
	if (s->io->raw) {
		char line[48];
		struct vec_buf b;
		vb_init(&b, line, sizeof line);
		vb_str(&b, "kpti audit: ");
		vb_dec(&b, mmu_vm_kpti_audit(&p->sp, aside_line, s));
		vb_str(&b, " violation(s)");
		vec_print_aside(s, line);
	}
	vb_str(r, "ok");
}

static void print_region(struct vec_session *s, const struct mmu_vm_region *g)
{
	static const char *const kinds[] = {
		[MMU_VM_ANON] = "anon", [MMU_VM_STACK] = "stack", [MMU_VM_EAGER] = "eager", [MMU_VM_GUARD] = "guard",
		[MMU_VM_SHARED] = "shared", [MMU_VM_PRIVATE] = "private",
	};
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	vb_init(&b, line, sizeof line);
	vb_hex(&b, g->start);
	vb_char(&b, '-');
	vb_hex(&b, g->start + g->len);
	vb_char(&b, ' ');
	vb_char(&b, g->prot & MMU_PROT_R ? 'r' : '-');
	vb_char(&b, g->prot & MMU_PROT_W ? 'w' : '-');
	vb_char(&b, g->prot & MMU_PROT_X ? 'x' : '-');
	vb_str(&b, g->prot & MMU_PROT_R ? "u " : "- "); /* a guard maps no user page */
	vb_str(&b, g->kind <= MMU_VM_PRIVATE ? kinds[g->kind] : "?");
	if (g->obj) {
		vb_str(&b, " page=");
		vb_dec(&b, g->first_page);
	}
	if (g->kind == MMU_VM_STACK) {
		vb_str(&b, " max=");
		vb_hex(&b, g->max);
	}
	vec_print_aside(s, line);
}

/* `regions P`: one line per region by address, then `ok N`. */
void vec_cmd_regions(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	if (!p) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	for (unsigned i = 0; i < p->sp.nregions; i++)
		print_region(s, &p->sp.region[i]);
	vb_str(r, "ok ");
	vb_dec(r, p->sp.nregions);
}

void vec_cmd_rprotect(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	vec_result_err(r, p ? mmu_vm_region_protect(&p->sp, st->arg[1].num, st->arg[2].num, (unsigned)st->arg[3].num)
			    : MMU_E_INVALID);
}

void vec_cmd_rremove(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	vec_result_err(r, p ? mmu_vm_region_remove(&p->sp, st->arg[1].num, st->arg[2].num) : MMU_E_INVALID);
}

void vec_cmd_rresize(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	vec_result_err(r, p ? mmu_vm_region_resize(&p->sp, st->arg[1].num, st->arg[2].num) : MMU_E_INVALID);
}

void vec_cmd_rminaddr(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	vec_result_err(r, p ? mmu_vm_space_set_min_addr(&p->sp, st->arg[1].num) : MMU_E_INVALID);
}

/* `rhuge P on|off`: demand faults of P may map 2M pages
 * (mmu_vm_space_set_huge). */
void vec_cmd_rhuge(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	vec_result_err(r, p ? mmu_vm_space_set_huge(&p->sp, st->arg[1].num != 0) : MMU_E_INVALID);
}

/* `rstorage P N`: P's regions move to the first N slots of the array the
 * interpreter keeps for P (N 0: back to the space's inline slots).
 * INVALID above VEC_PROC_SLOTS; NOSPACE when P has more than N regions. */
void vec_cmd_rstorage(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_proc *p = vec_find_proc(s, st->arg[0].name);
	uint64_t n = st->arg[1].num;
	if (!p || n > VEC_PROC_SLOTS) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	vec_result_err(r, mmu_vm_space_set_region_storage(&p->sp, n ? p->slots : NULL, (unsigned)n));
}

/* `promote A on|off`: space A's maps and protects promote full tables to
 * huge leaves from now on (mmu_tree_set_promote). Spaces only: INVALID
 * for a process or `kernel`. */
void vec_cmd_promote(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *tree = vec_find_pt_tree(s, st->arg[0].name);
	if (!tree || tree == mmu_kernel_tree(s->mmu)) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	mmu_tree_set_promote(tree, st->arg[1].num != 0);
	vb_str(r, "ok");
}
