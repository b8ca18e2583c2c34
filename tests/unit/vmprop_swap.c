/* SPDX-License-Identifier: MIT */
/* Swap in the process-space property test (vmprop.h), in the runs that
 * have it (R.swap): a store of VM_SWAP_SLOTS pages of the host's memory,
 * reference counted, that writes into its lowest free slot below a limit
 * drawn per run (NOMEM beyond); random page-outs and store changes, each
 * checked against the model's answer; the store's slots, their
 * references and bytes, and every swap entry against the model. */
#include <inttypes.h>
#include <string.h>

#include "vmprop.h"

static struct swapstore {
	uint8_t page[VM_SWAP_SLOTS][VM_PAGE];
	uint32_t refs[VM_SWAP_SLOTS];
	unsigned limit, used;
} store;

static mmu_err_t store_write(void *ctx, mmu_pa_t frame, uint64_t *slot)
{
	struct swapstore *st = ctx;
	for (unsigned i = 0; i < st->limit; i++) {
		if (st->refs[i] == 0) {
			memcpy(st->page[i], sim_phys(R.sim, frame), VM_PAGE);
			st->refs[i] = 1;
			st->used++;
			*slot = i;
			return MMU_OK;
		}
	}
	return MMU_E_NOMEM;
}

static uint32_t *slot_refs(struct swapstore *st, uint64_t slot, const char *hook)
{
	if (slot >= st->limit || st->refs[slot] == 0)
		FAIL("swap %s of slot %" PRIu64 ", which holds nothing", hook, slot);
	return &st->refs[slot];
}

static mmu_err_t store_read(void *ctx, uint64_t slot, mmu_pa_t frame)
{
	struct swapstore *st = ctx;
	(void)slot_refs(st, slot, "read");
	memcpy(sim_phys(R.sim, frame), st->page[slot], VM_PAGE);
	return MMU_OK;
}

static void store_dup(void *ctx, uint64_t slot) { ++*slot_refs(ctx, slot, "dup"); }

static void store_free(void *ctx, uint64_t slot)
{
	struct swapstore *st = ctx;
	if (--*slot_refs(st, slot, "free") == 0)
		st->used--;
}

static const struct mmu_vm_swap_ops store_ops = {store_write, store_read, store_dup, store_free};

void swap_setup(void)
{
	memset(&store, 0, sizeof(store));
	/* From the seed, not the random source: runs without swap stay as
	 * they were before swap came into the test. */
	R.swap = ((R.seed * 0x9e3779b97f4a7c15ull) >> 62) != 0;
	if (R.swap)
		store.limit = R.model.slot_limit = 4 + (unsigned)rnd(VM_SWAP_SLOTS - 3);
}

void swap_give(int s, bool on)
{
	snprintf(R.desc, sizeof(R.desc), "swap store %s for space %d", on ? "on" : "off", s);
	as_any_cpu();
	mmu_err_t want = vmm_set_swap(R.ms[s], on);
	expect_err(mmu_vm_space_set_swap(&R.sp[s], on ? &store_ops : NULL, &store), want);
	R.counts[N_SWAP_STORE]++;
}

void swap_give_object(unsigned k)
{
	expect_err(mmu_vm_object_set_swap(&R.obj[k], &store_ops, &store), MMU_OK);
	R.model.object[k].swap = true;
}

/* Whether the model has a 4K page at VA of S whose frame S has alone. */
static bool alone(int s, mmu_vaddr_t va)
{
	const struct vm_mpage *pg = vmm_page(R.ms[s], va);
	return pg->frame >= 0 && !pg->huge && vmm_frame_refs(&R.model, pg->frame) == 1;
}

void do_swap_op(int s)
{
	if (chance(4)) {
		swap_give(s, !R.ms[s]->swap || chance(30));
		return;
	}
	/* Mostly a page the space has alone: few random ones are. */
	mmu_vaddr_t va = pick_user_va(s) & ~(VM_PAGE - 1);
	for (unsigned i = 0; i < 16 && chance(90) && !alone(s, va); i++)
		va = pick_user_va(s) & ~(VM_PAGE - 1);
	if (chance(3))
		va += 8;
	snprintf(R.desc, sizeof(R.desc), "page out space %d va 0x%" PRIx64, s, va);
	as_any_cpu();
	mmu_err_t want = vmm_page_out(&R.model, R.ms, R.live, NSPACES, R.ms[s], va);
	expect_err(mmu_vm_page_out(&R.sp[s], va), want);
	R.counts[want == MMU_OK ? N_PAGE_OUT : N_PAGE_OUT_REFUSED]++;
}

void check_swap_counts(void)
{
	if (!R.swap)
		return;
	if (store.used != R.model.slots_used)
		FAIL("%u swap slots in use, the model %u", store.used, R.model.slots_used);
	for (int s = 0; s < NSPACES; s++)
		if (R.live[s] && R.sp[s].swapped != R.ms[s]->swapped)
			FAIL("space %d has %" PRIu64 " pages swapped, the model %" PRIu64, s, R.sp[s].swapped,
			     R.ms[s]->swapped);
}

/* Every page of S's regions: a swap entry of the model's slot exactly
 * where the model has the page in swap. */
static void check_entries(int s)
{
	const struct vm_mspace *m = R.ms[s];
	for (unsigned i = 0; i < m->nregions; i++) {
		for (mmu_vaddr_t p = m->region[i].start; p < m->region[i].start + m->region[i].len; p += VM_PAGE) {
			const struct vm_mpage *pg = &m->page[(p - VM_WIN) / VM_PAGE];
			mmu_pte_t v = 0;
			bool swap = mmu_entry(&R.sp[s].tree, p, MMU_LEVEL_PT, &v) == MMU_OK && mmu_vm_pte_is_swap(v);
			if (swap != (pg->slot1 != 0) || (swap && mmu_vm_swap_slot(v) != pg->slot1 - 1))
				FAIL("space %d page 0x%" PRIx64 ": entry 0x%" PRIx64 ", the model's slot %d", s, p, v,
				     (int)pg->slot1 - 1);
		}
	}
}

void check_swap(void)
{
	if (!R.swap)
		return;
	snprintf(R.desc, sizeof(R.desc), "check the swap store");
	for (unsigned i = 0; i < VM_SWAP_SLOTS; i++) {
		const struct vm_mslot *ms = &R.model.slot[i];
		if (store.refs[i] != ms->refs)
			FAIL("swap slot %u has %u references, the model %u", i, store.refs[i], ms->refs);
		for (unsigned b = 0; b < VM_NBYTES && ms->refs; b++)
			if (store.page[i][vm_byte_offset(b)] != ms->byte[b])
				FAIL("byte %u of swap slot %u is 0x%02x, the model 0x%02x", b, i,
				     store.page[i][vm_byte_offset(b)], ms->byte[b]);
	}
	for (int s = 0; s < NSPACES; s++)
		if (R.live[s])
			check_entries(s);
}
