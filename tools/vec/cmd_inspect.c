/* SPDX-License-Identifier: MIT */
/* Inspection and experiment commands on page tables and TLBs: levels (a
 * walk level by level, like xv6's vmprint), leaves (mmu_leaves), tlb (a CPU's cached
 * translations), setpte and invlpg (a leaf written and a page invalidated
 * behind the library's back, to make and watch a stale entry), tlbsan (the
 * sanitizer reports such a vector expects). docs/VECTORS-INSPECT.md. */
#include <string.h>

#include "tools/vec/inspect.h"

#define VEC_TLB_LIST_MAX 128 /* entries printed by `tlb`, sorted by VA */
#define VEC_LEAVES_MAX 128   /* leaves printed by `leaves` */

static const char *const level_names[] = {
	[MMU_LEVEL_PT] = "pt", [MMU_LEVEL_PD] = "pd", [MMU_LEVEL_PDPT] = "pdpt",
	[MMU_LEVEL_PML4] = "pml4", [MMU_LEVEL_PML5] = "pml5",
};
static const char *const size_names[] = {[MMU_SIZE_4K] = "4K", [MMU_SIZE_2M] = "2M", [MMU_SIZE_1G] = "1G"};

static enum mmu_level top_level(const struct vec_session *s)
{
	return s->machine.levels == 5 ? MMU_LEVEL_PML5 : MMU_LEVEL_PML4;
}

static enum mmu_size leaf_size(enum mmu_level level)
{
	return level == MMU_LEVEL_PT ? MMU_SIZE_4K : level == MMU_LEVEL_PD ? MMU_SIZE_2M : MMU_SIZE_1G;
}

static void *table_ptr(struct vec_session *s, mmu_pa_t pa)
{
	struct mmu_port *port = &s->mmu->port;
	if (port->direct_map)
		return port->direct_map + mmu_pa_bits(pa);
	return port->ops->phys_to_virt(port->ctx, pa);
}

/* ---- entry flags of setpte ---- */

static bool flag_bit(const char *s, size_t n, uint64_t *bit)
{
	static const struct {
		const char *name;
		uint64_t bit;
	} names[] = {
		{"P", MMU_PTE_P}, {"RW", MMU_PTE_RW}, {"US", MMU_PTE_US}, {"PWT", MMU_PTE_PWT},
		{"PCD", MMU_PTE_PCD}, {"A", MMU_PTE_A}, {"D", MMU_PTE_D}, {"XD", MMU_PTE_XD},
	};
	uint64_t key;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (vec_token_is(s, n, names[i].name)) {
			*bit = names[i].bit;
			return true;
		}
	}
	if (n > 3 && memcmp(s, "PK=", 3) == 0 && vec_parse_number(s + 3, n - 3, &key) && key < 16) {
		*bit = key << MMU_PTE_PK_SHIFT;
		return true;
	}
	return false;
}

bool vec_parse_pte_flags(const char *s, size_t n, uint64_t *out)
{
	uint64_t flags = 0, bit;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		if (!flag_bit(s + start, i - start, &bit))
			return false;
		flags |= bit;
		start = i + 1;
	}
	*out = flags;
	return true;
}

/* ---- levels ---- */

/* "pd[3] 0x67 -> F+0x0: P RW US A D" (raw: the whole entry and pa=). */
static void print_level_line(struct vec_session *s, enum mmu_level level, mmu_vaddr_t va, mmu_pte_t e)
{
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	uint64_t addr = mmu_pte_addr_mask(e, level);
	bool leaf = mmu_pte_present(e) && mmu_pte_is_leaf(e, level);
	vb_init(&b, line, sizeof line);
	vb_str(&b, level_names[level]);
	vb_char(&b, '[');
	vb_dec(&b, mmu_va_index(va, level));
	vb_str(&b, "] ");
	if (e == 0) {
		vb_str(&b, "none");
		vec_print_aside(s, line);
		return;
	}
	vb_hex(&b, s->io->raw ? e : e & ~addr);
	if (s->io->raw) {
		vb_str(&b, " pa=");
		vb_hex(&b, e & addr);
	}
	vb_str(&b, " -> ");
	if (!mmu_pte_present(e))
		vb_str(&b, "not present");
	else if (leaf)
		vec_print_pa(s, &b, mmu_pa(e & addr), leaf_size(level));
	else
		vb_str(&b, "table");
	vb_char(&b, ':');
	vec_print_entry_flags(&b, e, level);
	vec_print_aside(s, line);
}

/* `levels A VA`: one line per level from the root down to the leaf or the
 * first entry that is not present; the result is the leaf's size or
 * `none LEVEL`. */
void vec_cmd_levels(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *tree = vec_find_tree(s, st->arg[0].name);
	mmu_vaddr_t va = st->arg[1].num;
	if (!tree || !mmu_va_canonical(va, s->machine.levels)) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	for (enum mmu_level level = top_level(s); level >= MMU_LEVEL_PT; level--) {
		mmu_pte_t e = 0;
		mmu_err_t err = mmu_entry(tree, va, level, &e);
		if (err != MMU_OK) {
			vec_result_err(r, err);
			return;
		}
		print_level_line(s, level, va, e);
		if (!mmu_pte_present(e)) {
			vb_str(r, "ok none ");
			vb_str(r, level_names[level]);
			return;
		}
		if (mmu_pte_is_leaf(e, level)) {
			vb_str(r, "ok ");
			vb_str(r, size_names[leaf_size(level)]);
			return;
		}
	}
	vb_str(r, "ok");
}

/* `... N more` after the lines a listing printed, when it left N out. */
static void print_more(struct vec_session *s, uint64_t n)
{
	char line[64];
	struct vec_buf b;
	if (n == 0)
		return;
	vb_init(&b, line, sizeof line);
	vb_str(&b, "... ");
	vb_dec(&b, n);
	vb_str(&b, " more");
	vec_print_aside(s, line);
}

/* ---- leaves ---- */

struct leaves_list {
	struct vec_session *s;
	uint64_t total;
};

/* "0x200000 H+0x0 2M rw-u A D": where the leaf starts in the range, then
 * its translation as `walk` prints it. */
static bool print_leaf(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t)
{
	struct leaves_list *l = ctx;
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	if (l->total++ >= VEC_LEAVES_MAX)
		return true;
	vb_init(&b, line, sizeof line);
	vb_hex(&b, va);
	vb_char(&b, ' ');
	vec_print_translation(l->s, &b, t);
	vec_print_aside(l->s, line);
	return true;
}

/* `leaves A VA LEN`: one line per present leaf of the range (mmu_leaves),
 * then `ok N`; errors as the library gives them (a range reaching the
 * kernel half outside the vectors' window is INVALID here). */
void vec_cmd_leaves(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *tree = vec_find_tree(s, st->arg[0].name);
	struct leaves_list l = {.s = s};
	mmu_err_t err = MMU_E_INVALID;
	if (tree && vec_kernel_range_ok(st->arg[1].num, st->arg[2].num))
		err = mmu_leaves(tree, st->arg[1].num, st->arg[2].num, print_leaf, &l);
	if (err != MMU_OK) {
		vec_result_err(r, err);
		return;
	}
	if (l.total > VEC_LEAVES_MAX)
		print_more(s, l.total - VEC_LEAVES_MAX);
	vb_str(r, "ok ");
	vb_dec(r, l.total);
}

/* ---- tlb ---- */

struct tlb_list {
	struct vec_tlb_entry e[VEC_TLB_LIST_MAX];
	unsigned n, total;
};

static bool tlb_before(const struct vec_tlb_entry *a, const struct vec_tlb_entry *b)
{
	return a->va != b->va ? a->va < b->va : a->pcid < b->pcid;
}

/* Keeps the VEC_TLB_LIST_MAX lowest entries, sorted (insertion). */
static void tlb_collect(void *arg, const struct vec_tlb_entry *e)
{
	struct tlb_list *l = arg;
	unsigned i;
	l->total++;
	if (l->n == VEC_TLB_LIST_MAX && !tlb_before(e, &l->e[l->n - 1]))
		return;
	if (l->n < VEC_TLB_LIST_MAX)
		l->n++;
	for (i = l->n - 1; i > 0 && tlb_before(e, &l->e[i - 1]); i--)
		l->e[i] = l->e[i - 1];
	l->e[i] = *e;
}

static void print_tlb_entry(struct vec_session *s, const struct vec_tlb_entry *e)
{
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	vb_init(&b, line, sizeof line);
	vb_hex(&b, e->va);
	vb_char(&b, ' ');
	vb_str(&b, size_names[e->size]);
	vb_str(&b, " -> ");
	vec_print_pa(s, &b, e->pa, e->size);
	vb_str(&b, " r");
	vb_char(&b, e->w ? 'w' : '-');
	vb_char(&b, e->xd ? '-' : 'x');
	vb_char(&b, e->u ? 'u' : '-');
	if (e->dirty)
		vb_str(&b, " D");
	if (e->global)
		vb_str(&b, " G");
	if (e->pkey) {
		vb_str(&b, " PK=");
		vb_dec(&b, e->pkey);
	}
	if (e->pcid) {
		vb_str(&b, " pcid=");
		vb_dec(&b, e->pcid);
	}
	vec_print_aside(s, line);
}

/* `tlb CPU`: CPU's cached translations by VA, then `ok N`. */
void vec_cmd_tlb(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	static struct tlb_list list; /* a few kilobytes: not on a kernel stack */
	list.n = list.total = 0;
	s->ops->tlb_entries(s->ctx, (unsigned)st->arg[0].num, tlb_collect, &list);
	for (unsigned i = 0; i < list.n; i++)
		print_tlb_entry(s, &list.e[i]);
	print_more(s, list.total - list.n);
	vb_str(r, "ok ");
	vb_dec(r, list.total);
}

/* ---- setpte and invlpg ---- */

/* The leaf mapping VA: its level and where it lives. NOTEXIST when VA is
 * not mapped. */
static mmu_err_t find_leaf(struct vec_session *s, struct mmu_tree *tree, mmu_vaddr_t va, enum mmu_level *level,
			   mmu_pte_t **slot)
{
	mmu_pa_t table = tree->root;
	for (enum mmu_level l = top_level(s); l >= MMU_LEVEL_PT; l--) {
		mmu_pte_t *entry = (mmu_pte_t *)table_ptr(s, table) + mmu_va_index(va, l);
		mmu_pte_t e = *(volatile mmu_pte_t *)entry;
		if (!mmu_pte_present(e))
			return MMU_E_NOTEXIST;
		if (mmu_pte_is_leaf(e, l)) {
			*level = l;
			*slot = entry;
			return MMU_OK;
		}
		table = mmu_pa(e & MMU_PTE_ADDR_MASK);
	}
	return MMU_E_NOTEXIST;
}

/* `setpte A VA F[+OFF] FLAGS`: rewrite the present leaf mapping VA in
 * space A (or `kernel`) to point at F+OFF with FLAGS, and invalidate
 * nothing. What the library keeps track of stays true: P is required, PS,
 * G, the PAT bit and the software bits are kept from the old entry, and
 * F+OFF must be a whole, aligned leaf's worth of a named frame. */
void vec_cmd_setpte(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	const mmu_pte_t keep = MMU_PTE_PS | MMU_PTE_G | MMU_PTE_SW9 | MMU_PTE_SW10 | MMU_PTE_SW11 |
			       MMU_PTE_PAT_HUGE | (0x7full << 52);
	struct mmu_tree *tree = vec_find_pt_tree(s, st->arg[0].name);
	mmu_vaddr_t va = st->arg[1].num;
	uint64_t flags = st->arg[3].num;
	enum mmu_level level = MMU_LEVEL_PT;
	mmu_pte_t *slot = NULL;
	mmu_pa_t pa;
	mmu_err_t err;
	if (!tree || !mmu_va_canonical(va, s->machine.levels) || !(flags & MMU_PTE_P) ||
	    mmu_va_is_kernel(va) != tree->is_kernel) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	err = find_leaf(s, tree, va, &level, &slot);
	if (err != MMU_OK) {
		vec_result_err(r, err);
		return;
	}
	uint64_t bytes = mmu_size_bytes(leaf_size(level));
	if (!vec_frame_range(s, &st->arg[2], bytes, &pa) || !mmu_is_aligned(mmu_pa_bits(pa), bytes)) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	mmu_pte_t keep_here = level == MMU_LEVEL_PT ? keep & ~MMU_PTE_PAT_HUGE : keep;
	*(volatile mmu_pte_t *)slot = mmu_pa_bits(pa) | flags | (*slot & keep_here);
	vb_str(r, "ok");
}

struct invlpg_args {
	struct mmu_port *port;
	mmu_vaddr_t va;
};

static void invlpg_here(void *arg)
{
	struct invlpg_args *a = arg;
	a->port->ops->invlpg(a->port->ctx, a->va);
}

/* `invlpg CPU VA`: the instruction on that CPU, outside the library (not
 * counted by tlbstats). A non-canonical VA would #GP: INVALID. */
void vec_cmd_invlpg(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct invlpg_args a = {&s->mmu->port, st->arg[1].num};
	if (!mmu_va_canonical(a.va, s->machine.levels)) {
		vec_result_err(r, MMU_E_INVALID);
		return;
	}
	s->ops->run_on_cpu(s->ctx, (unsigned)st->arg[0].num, invlpg_here, &a);
	vb_str(r, "ok");
}

/* ---- tlbsan ---- */

void vec_cmd_tlbsan(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	(void)s;
	(void)st;
	vb_str(r, "ok");
}

void vec_tlbsan_arm(struct vec_session *s, const struct vec_stmt *st)
{
	s->tlbsan_armed = s->tlbsan_pending;
	s->tlbsan_pending = st->op == VEC_OP_TLBSAN;
	if (s->tlbsan_pending)
		s->tlbsan_next = (unsigned)st->arg[0].num;
	if (s->tlbsan_armed)
		s->tlbsan_expected = s->tlbsan_next;
}

/* "LINE: tlbsan: N report(s), last: MSG (expected)", or with
 * "(expected M) FAIL" when the count differs. */
bool vec_tlbsan_expected(struct vec_session *s, const char *where, unsigned reports, const char *last)
{
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	unsigned got = reports - s->sanitizer_seen;
	if (!s->tlbsan_armed && s->tlbsan_pending && vec_str_eq(where, "end")) {
		/* The file ended right after `tlbsan N`: nothing met it. */
		vb_init(&b, line, sizeof line);
		vb_str(&b, "end: tlbsan: no command after `tlbsan` FAIL");
		s->io->out(s->io->out_ctx, line);
		s->tlbsan_pending = false;
		s->failed++;
	}
	if (!s->tlbsan_armed)
		return false;
	s->tlbsan_armed = false;
	s->sanitizer_seen = reports;
	vb_init(&b, line, sizeof line);
	vb_str(&b, where);
	vb_str(&b, ": tlbsan: ");
	vb_dec(&b, got);
	vb_str(&b, " report(s)");
	if (got) {
		vb_str(&b, ", last: ");
		vb_str(&b, last);
	}
	if (got == s->tlbsan_expected) {
		vb_str(&b, " (expected)");
		s->passed++;
	} else {
		vb_str(&b, " (expected ");
		vb_dec(&b, s->tlbsan_expected);
		vb_str(&b, ") FAIL");
		s->failed++;
	}
	s->io->out(s->io->out_ctx, line);
	return true;
}

const char *vec_inspect_skip(const struct vec_session *s)
{
	if (s->machine.needs_tlb_list && !s->ops->tlb_entries)
		return "this executor cannot list TLB entries (`tlb`)";
	if (s->machine.needs_sanitizer && !s->ops->sanitizer_reports)
		return "this executor has no TLB sanitizer (`tlbsan`)";
	return NULL;
}
