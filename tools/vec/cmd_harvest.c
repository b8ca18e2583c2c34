/* SPDX-License-Identifier: MIT */
/* `harvest A VA LEN accessed|dirty|both`: mmu_harvest with no batch (so
 * every cleared bit is invalidated before the command answers), one line
 * per leaf that had a bit asked for, `VA SIZE PHYS BITS`, then `ok N`
 * with N the lines. docs/VECTORS.md, "Extension: harvesting A and D". */
#include "tools/vec/inspect.h"

struct harvest_lines {
	struct vec_session *s;
	uint64_t n;
};

static void print_leaf(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t, unsigned had)
{
	static const char *const size_names[] = {[MMU_SIZE_4K] = "4K", [MMU_SIZE_2M] = "2M", [MMU_SIZE_1G] = "1G"};
	struct harvest_lines *h = ctx;
	char line[VEC_LINE_MAX];
	struct vec_buf b;
	vb_init(&b, line, sizeof line);
	vb_hex(&b, va);
	vb_char(&b, ' ');
	vb_str(&b, t->size <= MMU_SIZE_1G ? size_names[t->size] : "?");
	vb_char(&b, ' ');
	vec_print_pa(h->s, &b, t->pa, t->size);
	if (had & MMU_HARVEST_ACCESSED)
		vb_str(&b, " A");
	if (had & MMU_HARVEST_DIRTY)
		vb_str(&b, " D");
	vec_print_aside(h->s, line);
	h->n++;
}

/* A process's tree too (a page-out scans processes); the kernel tree
 * within the vectors' window only, as every command. */
void vec_cmd_harvest(struct vec_session *s, const struct vec_stmt *st, struct vec_buf *r)
{
	struct mmu_tree *tree = vec_find_tree(s, st->arg[0].name);
	mmu_vaddr_t va = st->arg[1].num;
	uint64_t len = st->arg[2].num;
	struct harvest_lines h = {s, 0};
	bool ok = tree && vec_kernel_range_ok(va, len);
	mmu_err_t err = ok ? mmu_harvest(tree, va, len, (unsigned)st->arg[3].num, print_leaf, &h, NULL) : MMU_E_INVALID;
	if (err != MMU_OK) {
		vec_result_err(r, err);
		return;
	}
	vb_str(r, "ok ");
	vb_dec(r, h.n);
}
