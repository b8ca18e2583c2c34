/* SPDX-License-Identifier: MIT */
/* Page-table commands: space drop frame map unmap protect walk entry stats
 * tlbstats dump. They call mmu64 directly, on CPU 0. */
#include <string.h>

#include "tools/vec/inspect.h"


static const char *const size_names[] = {[MMU_SIZE_4K] = "4K", [MMU_SIZE_2M] = "2M", [MMU_SIZE_1G] = "1G"};

/* ---- spaces and frames ---- */

static struct vec_space *free_space_slot(struct vec_session *s)
{
	for (unsigned i = 0; i < VEC_MAX_SPACES; i++)
		if (!s->space[i].used)
			return &s->space[i];
	return NULL;
}

static struct vec_frame *free_frame_slot(struct vec_session *s)
{
	for (unsigned i = 0; i < VEC_MAX_FRAMES; i++)
		if (!s->frame[i].used)
			return &s->frame[i];
	return NULL;
}

/* `space A`: DUPLICATED when the name is taken (`kernel` included), NOMEM
 * when the interpreter's table is full. */
void vec_cmd_space(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_space *slot;
	mmu_err_t err;
	if (vec_find_tree(s, st->arg[0].name)) {
		vec_result_err(r, MMU_E_DUPLICATED);
		return;
	}
	slot = free_space_slot(s);
	if (!slot) {
		vec_result_err(r, MMU_E_NOMEM);
		return;
	}
	err = mmu_tree_create(s->mmu, &slot->tree);
	if (err == MMU_OK) {
		slot->used = true;
		memcpy(slot->name, st->arg[0].name, sizeof slot->name);
	}
	vec_result_err(r, err);
}

static struct vec_space *find_space(struct vec_session *s, const char *name)
{
	for (unsigned i = 0; i < VEC_MAX_SPACES; i++)
		if (s->space[i].used && vec_str_eq(s->space[i].name, name))
			return &s->space[i];
	return NULL;
}

/* `drop kernel` goes to the library, which refuses it (INVALID). */
void vec_cmd_drop(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct vec_space *space = find_space(s, st->arg[0].name);
	struct mmu_tree *tree = space ? &space->tree : vec_find_pt_tree(s, st->arg[0].name);
	mmu_err_t err = tree ? mmu_tree_destroy(tree) : MMU_E_INVALID;
	if (err == MMU_OK && space)
		space->used = false;
	vec_result_err(r, err);
}

void vec_cmd_frame(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	enum mmu_size size = st->nargs > 1 ? (enum mmu_size)st->arg[1].num : MMU_SIZE_4K;
	struct vec_frame *slot;
	mmu_err_t err;
	if (vec_find_frame(s, st->arg[0].name)) {
		vec_result_err(r, MMU_E_DUPLICATED);
		return;
	}
	slot = free_frame_slot(s);
	err = slot ? s->ops->frame_alloc(s->ctx, size, &slot->pa) : MMU_E_NOMEM;
	if (err == MMU_OK) {
		slot->used = true;
		slot->size = size;
		memcpy(slot->name, st->arg[0].name, sizeof slot->name);
	}
	vec_result_err(r, err);
}

/* ---- range operations ----
 * A range in the kernel half outside the vectors' window is INVALID here:
 * it would reach the executor's own mappings (vec_kernel_range_ok). */

void vec_cmd_map(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *tree = vec_find_pt_tree(s, st->arg[0].name);
	uint64_t len = st->arg[3].num;
	mmu_pa_t pa;
	if (!tree || !vec_frame_range(s, &st->arg[2], len, &pa) || !vec_kernel_range_ok(st->arg[1].num, len)) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	vec_result_err(r, mmu_map(tree, st->arg[1].num, pa, len, (unsigned)st->arg[4].num, &st->opts, NULL));
}

void vec_cmd_unmap(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *tree = vec_find_pt_tree(s, st->arg[0].name);
	bool ok = tree && vec_kernel_range_ok(st->arg[1].num, st->arg[2].num);
	vec_result_err(r, ok ? mmu_unmap(tree, st->arg[1].num, st->arg[2].num, NULL) : MMU_E_INVALID);
}

void vec_cmd_protect(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *tree = vec_find_pt_tree(s, st->arg[0].name);
	mmu_err_t err = MMU_E_INVALID;
	if (tree && vec_kernel_range_ok(st->arg[1].num, st->arg[2].num))
		err = mmu_protect(tree, st->arg[1].num, st->arg[2].num, (unsigned)st->arg[3].num, NULL);
	vec_result_err(r, err);
}

/* ---- walk and entry ---- */

/* NAME+0xOFF of the named frame holding PA, or anon+0xOFF (offset in the
 * leaf of SIZE). */
void vec_print_pa(struct vec_session *s, struct vec_buf *r, mmu_pa_t pa, enum mmu_size size)
{
	uint64_t bits = mmu_pa_bits(pa);
	for (unsigned i = 0; i < VEC_MAX_FRAMES; i++) {
		const struct vec_frame *f = &s->frame[i];
		uint64_t base = mmu_pa_bits(f->pa);
		if (f->used && bits >= base && bits - base < mmu_size_bytes(f->size)) {
			vb_str(r, f->name);
			vb_char(r, '+');
			vb_hex(r, bits - base);
			return;
		}
	}
	vb_str(r, "anon+");
	vb_hex(r, bits & (mmu_size_bytes(size) - 1));
}

static void print_perm(struct vec_buf *r, unsigned prot, bool nx)
{
	vb_char(r, 'r');
	vb_char(r, prot & MMU_PROT_W ? 'w' : '-');
	vb_char(r, (prot & MMU_PROT_X) || !nx ? 'x' : '-');
	vb_char(r, prot & MMU_PROT_U ? 'u' : '-');
}

void vec_print_translation(struct vec_session *s, struct vec_buf *r, const struct mmu_translation *t)
{
	vec_print_pa(s, r, t->pa, t->size);
	vb_char(r, ' ');
	vb_str(r, t->size <= MMU_SIZE_1G ? size_names[t->size] : "?");
	vb_char(r, ' ');
	print_perm(r, t->prot, s->machine.nx);
	if (t->leaf & MMU_PTE_A)
		vb_str(r, " A");
	if (t->leaf & MMU_PTE_D)
		vb_str(r, " D");
	if (t->leaf & MMU_PTE_G)
		vb_str(r, " G");
}

void vec_cmd_walk(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *tree = vec_find_tree(s, st->arg[0].name);
	struct mmu_translation t;
	bool ok = tree && vec_kernel_range_ok(st->arg[1].num, 1);
	mmu_err_t err = ok ? mmu_walk(tree, st->arg[1].num, &t) : MMU_E_INVALID;
	if (err != MMU_OK) {
		vec_result_err(r, err);
		return;
	}
	vb_str(r, "ok ");
	vec_print_translation(s, r, &t);
}

/* The flags of E at LEVEL in the order of VECTORS.md. */
void vec_print_entry_flags(struct vec_buf *r, mmu_pte_t e, enum mmu_level level)
{
	static const struct {
		mmu_pte_t bit;
		const char *name;
	} low[] = {
		{MMU_PTE_P, "P"}, {MMU_PTE_RW, "RW"}, {MMU_PTE_US, "US"}, {MMU_PTE_PWT, "PWT"},
		{MMU_PTE_PCD, "PCD"}, {MMU_PTE_A, "A"}, {MMU_PTE_D, "D"},
	};
	bool huge_leaf = level != MMU_LEVEL_PT && mmu_pte_is_leaf(e, level);
	unsigned pkey = (unsigned)((e & MMU_PTE_PK_MASK) >> MMU_PTE_PK_SHIFT);
	for (size_t i = 0; i < sizeof low / sizeof low[0]; i++)
		if (e & low[i].bit) {
			vb_char(r, ' ');
			vb_str(r, low[i].name);
		}
	if (e & MMU_PTE_PS)
		vb_str(r, level == MMU_LEVEL_PT ? " PAT" : " PS");
	if (e & MMU_PTE_G)
		vb_str(r, " G");
	if (huge_leaf && (e & MMU_PTE_PAT_HUGE))
		vb_str(r, " PAT");
	if (pkey) {
		vb_str(r, " PK=");
		vb_dec(r, pkey);
	}
	if (e & MMU_PTE_XD)
		vb_str(r, " XD");
}

void vec_cmd_entry(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *tree = vec_find_tree(s, st->arg[0].name);
	enum mmu_level level = (enum mmu_level)st->arg[2].num;
	mmu_pte_t e = 0;
	mmu_err_t err;
	if (!tree || !vec_kernel_range_ok(st->arg[1].num, 1)) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	err = level > s->machine.levels ? MMU_E_NOTEXIST : mmu_entry(tree, st->arg[1].num, level, &e);
	if (err != MMU_OK && err != MMU_E_NOTEXIST) {
		vec_result_err(r, err);
		return;
	}
	vb_str(r, "ok");
	if (err == MMU_E_NOTEXIST || e == 0) {
		vb_str(r, " none");
		return;
	}
	vec_print_entry_flags(r, e, level);
}

/* ---- counters and dumps ---- */

void vec_cmd_stats(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	(void)st;
	vb_str(r, "ok tables=");
	vb_dec(r, (uint64_t)mmu_user_tables(s->mmu));
	vb_str(r, " frames=");
	vb_dec(r, s->ops->frames_in_use(s->ctx));
}

void vec_cmd_tlbstats(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_counters c = mmu_counters_take(s->mmu);
	(void)st;
	vb_str(r, "ok invlpg=");
	vb_dec(r, c.invlpg);
	vb_str(r, " full=");
	vb_dec(r, c.full);
	vb_str(r, " ipis=");
	vb_dec(r, c.ipis);
}

static void dump_line(void *ctx, const char *line) { vec_print_aside(ctx, line); }

/* A user tree: its user half. The kernel tree: the vectors' window only,
 * since what else the kernel half holds differs between executors. */
void vec_cmd_dump(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *tree = vec_find_tree(s, st->arg[0].name);
	mmu_vaddr_t start = 0, end = 1ull << (mmu_va_bits(s->machine.levels) - 1);
	if (!tree) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	if (tree == mmu_kernel_tree(s->mmu)) {
		start = VEC_KERNEL_WINDOW_START;
		end = VEC_KERNEL_WINDOW_START + VEC_KERNEL_WINDOW_LEN;
	}
	mmu_dump(tree, start, end, dump_line, s);
	vb_str(r, "ok");
}
