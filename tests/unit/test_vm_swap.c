/* SPDX-License-Identifier: MIT */
/* Swap of anonymous private pages on the software machine, with a store
 * kept here: page-out then page-in by read, write and the kernel's
 * copies, data intact; fork with swapped pages (each side pages in its
 * own copy, slot references right); exit, remove and shrink free slots;
 * protect keeps swap entries; every error changes nothing; NOMEM at
 * page-in; and a clock that pages out cold pages (mmu_harvest's A bits)
 * so a working set twice the machine's memory runs with its data intact.
 * 4 and 5 levels, PCIDs off and on; frames, tables and slots back to the
 * start, the TLB sanitizer silent. */
#include <stdio.h>
#include <string.h>

#include "vmtest.h"

/* ---- the store: SLOTS pages of the host's memory, reference counted ---- */

#define SLOTS 128

struct store {
	uint8_t page[SLOTS][PAGE];
	unsigned refs[SLOTS];
	unsigned limit;       /* slots it may use (full beyond: NOMEM) */
	bool fail_read;       /* the next read answers NOMEM */
	uint64_t writes, reads;
};

static struct store store;

static mmu_err_t store_write(void *ctx, mmu_pa_t frame, uint64_t *slot)
{
	struct store *s = ctx;
	for (unsigned i = 0; i < s->limit; i++) {
		if (s->refs[i] == 0) {
			memcpy(s->page[i], sim_phys(vt_sim, frame), PAGE);
			s->refs[i] = 1;
			s->writes++;
			*slot = i;
			return MMU_OK;
		}
	}
	return MMU_E_NOMEM;
}

static mmu_err_t store_read(void *ctx, uint64_t slot, mmu_pa_t frame)
{
	struct store *s = ctx;
	CHECK(slot < SLOTS && s->refs[slot] > 0);
	if (s->fail_read) {
		s->fail_read = false;
		return MMU_E_NOMEM;
	}
	memcpy(sim_phys(vt_sim, frame), s->page[slot], PAGE);
	s->reads++;
	return MMU_OK;
}

static void store_dup(void *ctx, uint64_t slot)
{
	struct store *s = ctx;
	CHECK(slot < SLOTS && s->refs[slot] > 0);
	s->refs[slot]++;
}

static void store_free(void *ctx, uint64_t slot)
{
	struct store *s = ctx;
	CHECK(slot < SLOTS && s->refs[slot] > 0);
	s->refs[slot]--;
}

static const struct mmu_vm_swap_ops store_ops = {store_write, store_read, store_dup, store_free};

static unsigned slots_used(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SLOTS; i++)
		n += store.refs[i] != 0;
	return n;
}

static void store_reset(unsigned limit)
{
	memset(&store, 0, sizeof store);
	store.limit = limit;
}

/* ---- helpers ---- */

/* A space with the store and an anon region of NPAGES at VA, each page
 * filled with its own pattern (seed SEED). */
static void space_with_pages(struct mmu_vm_space *sp, mmu_vaddr_t va, unsigned npages, uint8_t seed)
{
	CHECK_OK(mmu_vm_space_create(vt_mmu, sp));
	CHECK_OK(mmu_vm_space_set_swap(sp, &store_ops, &store));
	CHECK_OK(mmu_vm_region_add(sp, va, npages * PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &sp->tree);
	for (unsigned i = 0; i < npages; i++) {
		CHECK_EQ(uw(sp, 0, va + i * PAGE, seed), R_OK);
		uint8_t *p = sim_phys(vt_sim, pa_of(sp, va + i * PAGE));
		for (unsigned b = 0; b < PAGE; b++)
			p[b] = (uint8_t)(seed + i * 7 + b * 13);
	}
}

/* Whether the page at VA (mapped) holds the pattern of page I, seed SEED. */
static bool page_intact(struct mmu_vm_space *sp, mmu_vaddr_t va, unsigned i, uint8_t seed)
{
	const uint8_t *p = sim_phys(vt_sim, pa_of(sp, va));
	for (unsigned b = 0; b < PAGE; b++)
		if (p[b] != (uint8_t)(seed + i * 7 + b * 13))
			return false;
	return true;
}

static bool swapped_at(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	mmu_pte_t v;
	return mmu_entry(&sp->tree, va, MMU_LEVEL_PT, &v) == MMU_OK && mmu_vm_pte_is_swap(v);
}

static struct mmu_vm_counters take(struct mmu_vm_space *sp) { return mmu_vm_counters_take(sp); }

/* The machine's figures at a test's start, with the store emptied. */
struct start {
	uint64_t frames, tables;
};

static struct start begin(unsigned slots)
{
	store_reset(slots);
	return (struct start){sim_frames_in_use(vt_sim), sim_tables_in_use(vt_sim)};
}

/* SP (loaded on CPU 0, and maybe 1) exits; frames, tables and slots are
 * back at START, the sanitizer silent. */
static void finish(struct mmu_vm_space *sp, struct start start)
{
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(sp));
	CHECK_EQ(slots_used(), 0);
	CHECK_EQ(sim_frames_in_use(vt_sim), start.frames);
	CHECK_EQ(sim_tables_in_use(vt_sim), start.tables);
	st_check_sanitizer(vt_sim);
}

/* ---- the tests ---- */

/* Page-out while both CPUs cached the page, then page-in by a read, a
 * write, copy-from-user and copy-to-user; the data comes back intact. */
static void test_roundtrip(void)
{
	struct start start = begin(SLOTS);
	struct mmu_vm_space p;
	const mmu_vaddr_t va = 0x400000;
	space_with_pages(&p, va, 4, 0x30);
	st_load(vt_sim, 0, &p.tree);
	st_load(vt_sim, 1, &p.tree);
	for (unsigned i = 0; i < 4; i++)
		(void)ur(&p, 1, va + i * PAGE);
	(void)take(&p);
	for (unsigned i = 0; i < 4; i++)
		CHECK_OK(mmu_vm_page_out(&p, va + i * PAGE));
	CHECK_EQ(sim_frames_in_use(vt_sim), start.frames);
	CHECK_EQ(slots_used(), 4);
	CHECK_EQ(p.swapped, 4);
	struct mmu_translation t;
	CHECK_EQ(mmu_walk(&p.tree, va, &t), MMU_E_NOTEXIST);
	CHECK(swapped_at(&p, va));
	/* CPU 1's cached translations went with the flush: it faults. */
	CHECK_EQ(ur(&p, 1, va + 5), (uint8_t)(0x30 + 5 * 13));
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK(page_intact(&p, va, 0, 0x30));
	CHECK_EQ(uw(&p, 0, va + PAGE + 1, 0xee), R_OK);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK_EQ(*sim_phys(vt_sim, pa_of(&p, va + PAGE)), (uint8_t)(0x30 + 7));
	CHECK_EQ(sim_phys(vt_sim, pa_of(&p, va + PAGE))[1], 0xee);
	unsigned cpu = 0;
	uint32_t code = 1;
	uint8_t buf[PAGE + 16];
	CHECK_OK(mmu_vm_copy_from_user(&p, buf, va + 3 * PAGE - 8, 16, vt_load, &cpu, &code));
	CHECK_EQ(code, 0);
	CHECK_EQ(buf[0], (uint8_t)(0x30 + 2 * 7 + (PAGE - 8) * 13));
	CHECK_EQ(buf[8], (uint8_t)(0x30 + 3 * 7));
	CHECK(page_intact(&p, va + 2 * PAGE, 2, 0x30));
	CHECK_OK(mmu_vm_page_out(&p, va));
	const uint8_t msg[4] = {1, 2, 3, 4};
	CHECK_OK(mmu_vm_copy_to_user(&p, va + 8, msg, sizeof msg, vt_store, &cpu, &code));
	CHECK_EQ(code, 0);
	CHECK_EQ(sim_phys(vt_sim, pa_of(&p, va))[9], 2);
	CHECK_EQ(sim_phys(vt_sim, pa_of(&p, va))[7], (uint8_t)(0x30 + 7 * 13));
	struct mmu_vm_counters c = take(&p);
	CHECK_EQ(c.demand, 5);
	CHECK_EQ(c.swapin, 5);
	CHECK_EQ(p.swapped, 0);
	CHECK_EQ(slots_used(), 0);
	CHECK_EQ(refs(&p, va), 1);
	finish(&p, start);
}

/* Every error, in the contract's order, changes nothing. */
static void test_errors(void)
{
	store_reset(1);
	struct mmu_vm_space p, c;
	const mmu_vaddr_t va = 0x400000;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_region_add(&p, va, 4 * PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &p.tree);
	CHECK_EQ(uw(&p, 0, va, 1), R_OK);
	CHECK_EQ(mmu_vm_page_out(&p, va), MMU_E_INVALID); /* no store */
	static const struct mmu_vm_swap_ops partial = {store_write, store_read, store_dup, NULL};
	CHECK_EQ(mmu_vm_space_set_swap(&p, &partial, &store), MMU_E_INVALID);
	CHECK_OK(mmu_vm_space_set_swap(&p, &store_ops, &store));
	CHECK_OK(mmu_vm_region_add(&p, 0x800000, PAGE, 0, MMU_VM_GUARD, 0));
	struct state before;
	state_take(&p, &before);
	CHECK_EQ(mmu_vm_page_out(&p, 0x800000), MMU_E_INVALID);          /* guard */
	CHECK_EQ(mmu_vm_page_out(&p, 0x900000), MMU_E_INVALID);          /* no region */
	CHECK_EQ(mmu_vm_page_out(&p, 0xffff800000000000ull), MMU_E_INVALID); /* kernel half */
	CHECK_EQ(mmu_vm_page_out(&p, va + 8), MMU_E_UNALIGNED);
	CHECK_EQ(mmu_vm_page_out(&p, va + PAGE), MMU_E_NOTEXIST); /* never touched */
	CHECK(state_same(&p, &before));
	/* The store full: NOMEM, the leaf back as it was. */
	CHECK_EQ(uw(&p, 0, va + PAGE, 2), R_OK);
	CHECK_OK(mmu_vm_page_out(&p, va));
	st_snapshot_free(&before.snap);
	state_take(&p, &before);
	CHECK_EQ(mmu_vm_page_out(&p, va + PAGE), MMU_E_NOMEM);
	CHECK_EQ(mmu_vm_page_out(&p, va), MMU_E_NOTEXIST); /* already out */
	CHECK(state_same(&p, &before));
	CHECK_EQ(ur(&p, 0, va + PAGE), 2);
	/* A store with pages out stays until they are back. */
	CHECK_EQ(mmu_vm_space_set_swap(&p, NULL, NULL), MMU_E_BUSY);
	/* Shared after fork: the store is written first and is full: NOMEM,
	 * nothing changed in either space. */
	CHECK_OK(mmu_vm_fork(&p, &c));
	CHECK_EQ(mmu_vm_page_out(&p, va + PAGE), MMU_E_NOMEM);
	CHECK_EQ(mmu_vm_page_out(&c, va + PAGE), MMU_E_NOMEM);
	CHECK_EQ(refs(&p, va + PAGE), 2);
	CHECK_EQ(pa_of(&p, va + PAGE).bits, pa_of(&c, va + PAGE).bits);
	CHECK_EQ(store.refs[0], 2);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_EQ(store.refs[0], 1);
	CHECK_EQ(ur(&p, 0, va), 1);
	CHECK_OK(mmu_vm_space_set_swap(&p, NULL, NULL));
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_EQ(mmu_vm_page_out(&p, va), MMU_E_INVALID); /* dead */
	CHECK_EQ(mmu_vm_space_set_swap(&p, &store_ops, &store), MMU_E_INVALID);
	st_snapshot_free(&before.snap);
	CHECK_EQ(slots_used(), 0);
}

/* Huge pages and memory objects: a 2M leaf and an object's own page are
 * never paged out; a private copy is. */
static void test_huge_and_objects(void)
{
	store_reset(SLOTS);
	struct mmu_vm_space p;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_space_set_swap(&p, &store_ops, &store));
	CHECK_OK(mmu_vm_space_set_huge(&p, true));
	st_load(vt_sim, 0, &p.tree);
	CHECK_OK(mmu_vm_region_add(&p, 0x200000, 2 * MB, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	CHECK_EQ(uw(&p, 0, 0x200000, 1), R_OK);
	CHECK_EQ(mmu_vm_page_out(&p, 0x200000), MMU_E_INVALID);
	mmu_pa_t slot[4] = {{0}};
	struct mmu_vm_object obj;
	CHECK_OK(mmu_vm_object_init_anon(vt_mmu, &obj, slot, 4));
	CHECK_OK(mmu_vm_region_add_object(&p, 0x1000000, 4 * PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_SHARED, &obj, 0));
	CHECK_OK(mmu_vm_region_add_object(&p, 0x2000000, 4 * PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_PRIVATE, &obj, 0));
	CHECK_EQ(uw(&p, 0, 0x1000000, 7), R_OK);
	CHECK_EQ(mmu_vm_page_out(&p, 0x1000000), MMU_E_INVALID); /* shared */
	CHECK_EQ(ur(&p, 0, 0x2000000), 7);
	CHECK_EQ(mmu_vm_page_out(&p, 0x2000000), MMU_E_INVALID); /* the object's page */
	CHECK_EQ(uw(&p, 0, 0x2000000, 9), R_OK);                  /* now a private copy */
	CHECK_OK(mmu_vm_page_out(&p, 0x2000000));
	CHECK_EQ(ur(&p, 0, 0x2000000), 9);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK_EQ(ur(&p, 0, 0x1000000), 7);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_OK(mmu_vm_object_release(&obj));
	CHECK_EQ(slots_used(), 0);
}

/* Fork copies swap entries and dups their slots; each side pages in its
 * own copy; exit frees the rest. */
static void test_fork(void)
{
	struct start start = begin(SLOTS);
	struct mmu_vm_space p, c;
	const mmu_vaddr_t va = 0x400000;
	space_with_pages(&p, va, 3, 0x50);
	CHECK_OK(mmu_vm_page_out(&p, va));
	CHECK_OK(mmu_vm_page_out(&p, va + PAGE));
	CHECK_OK(mmu_vm_fork(&p, &c));
	CHECK(swapped_at(&c, va) && swapped_at(&c, va + PAGE));
	CHECK_EQ(c.swapped, 2);
	CHECK_EQ(store.refs[0], 2);
	CHECK_EQ(store.refs[1], 2);
	CHECK_EQ(mmu_vm_page_out(&c, va), MMU_E_NOTEXIST);
	st_load(vt_sim, 1, &c.tree);
	CHECK_EQ(uw(&c, 1, va, 0x99), R_OK);
	CHECK_EQ(store.refs[0], 1);
	CHECK_EQ(ur(&p, 0, va + 1), (uint8_t)(0x50 + 13));
	CHECK(page_intact(&p, va, 0, 0x50));
	CHECK_EQ(*sim_phys(vt_sim, pa_of(&c, va)), 0x99);
	CHECK(pa_of(&p, va).bits != pa_of(&c, va).bits);
	CHECK_EQ(store.refs[0], 0);
	CHECK_EQ(refs(&p, va), 1);
	/* The child goes without paging in the second: one reference left. */
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_EQ(store.refs[1], 1);
	CHECK_EQ(ur(&p, 0, va + PAGE), (uint8_t)(0x50 + 7));
	CHECK(page_intact(&p, va + PAGE, 1, 0x50));
	finish(&p, start);
}

/* The reverse map: a page shared by a parent, its child and grandchild,
 * cached on both CPUs (the grandchild's lazily under PCIDs), paged out
 * from any of them: one slot with three references, the frame freed, each
 * pages in its own copy. BUSY while a mapper is not in the family or not
 * acceptable (another store; an extra reference); exit unlinks. */
static void test_family(void)
{
	struct start start = begin(SLOTS);
	struct mmu_vm_space p, c, g;
	const mmu_vaddr_t va = 0x400000;
	space_with_pages(&p, va, 3, 0x30);
	CHECK_OK(mmu_vm_fork(&p, &c));
	CHECK_OK(mmu_vm_fork(&c, &g));
	CHECK_EQ(refs(&p, va), 3);
	st_load(vt_sim, 1, &g.tree);
	CHECK_EQ(ur(&g, 1, va + 1), (uint8_t)(0x30 + 13));
	st_load(vt_sim, 1, &c.tree);
	CHECK_EQ(ur(&c, 1, va + 1), (uint8_t)(0x30 + 13));
	CHECK_EQ(ur(&p, 0, va + 1), (uint8_t)(0x30 + 13));
	uint64_t frames = sim_frames_in_use(vt_sim);
	CHECK_OK(mmu_vm_page_out(&c, va));
	CHECK(swapped_at(&p, va) && swapped_at(&c, va) && swapped_at(&g, va));
	CHECK_EQ(store.refs[0], 3);
	CHECK_EQ(store.writes, 1);
	CHECK_EQ(p.swapped + c.swapped + g.swapped, 3);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames - 1);
	CHECK_EQ(mmu_vm_page_out(&p, va), MMU_E_NOTEXIST);
	st_check_sanitizer(vt_sim);
	/* Each pages in its own copy, the slot's references dropping. */
	CHECK_EQ(ur(&p, 0, va + 1), (uint8_t)(0x30 + 13));
	CHECK(page_intact(&p, va, 0, 0x30));
	CHECK_EQ(store.refs[0], 2);
	CHECK_EQ(uw(&c, 1, va, 0x77), R_OK);
	CHECK_EQ(*sim_phys(vt_sim, pa_of(&c, va)), 0x77);
	CHECK_EQ(store.refs[0], 1);
	st_load(vt_sim, 1, &g.tree);
	CHECK_EQ(ur(&g, 1, va + 1), (uint8_t)(0x30 + 13));
	CHECK(page_intact(&g, va, 0, 0x30));
	CHECK_EQ(store.refs[0], 0);
	/* A reference nobody in the family holds (a mapper elsewhere, a fork
	 * not yet linked): BUSY, nothing changed. */
	sim_frame_meta(vt_sim, pa_of(&p, va + PAGE))->refcount++;
	CHECK_EQ(mmu_vm_page_out(&p, va + PAGE), MMU_E_BUSY);
	sim_frame_meta(vt_sim, pa_of(&p, va + PAGE))->refcount--;
	CHECK_EQ(refs(&p, va + PAGE), 3);
	/* A member with another store: BUSY (its entry would name a slot of
	 * a store it does not use). */
	static struct store other;
	CHECK_OK(mmu_vm_space_set_swap(&g, &store_ops, &other));
	CHECK_EQ(mmu_vm_page_out(&p, va + PAGE), MMU_E_BUSY);
	CHECK(!swapped_at(&p, va + PAGE) && !swapped_at(&g, va + PAGE));
	CHECK_OK(mmu_vm_space_set_swap(&g, &store_ops, &store));
	/* The child exits: out of the family, the grandchild still in it. */
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK(p.family_next == &g && g.family_next == &p && p.family_prev == &g);
	CHECK_EQ(refs(&p, va + PAGE), 2);
	CHECK_OK(mmu_vm_page_out(&g, va + PAGE));
	CHECK(swapped_at(&p, va + PAGE) && swapped_at(&g, va + PAGE));
	CHECK_EQ(store.refs[0], 2);
	CHECK_EQ(ur(&p, 0, va + PAGE + 2), (uint8_t)(0x30 + 7 + 26));
	CHECK(page_intact(&p, va + PAGE, 1, 0x30));
	CHECK_OK(mmu_vm_space_exit(&g));
	CHECK(p.family_next == &p && p.family_prev == &p);
	CHECK_EQ(store.refs[0], 0);
	finish(&p, start);
}

/* Remove, shrink and exit free slots and the tables that held only swap
 * entries; protect keeps them, and page-in takes the region's
 * permissions of then. */
static void test_zap_and_protect(void)
{
	struct start start = begin(SLOTS);
	struct mmu_vm_space p;
	const mmu_vaddr_t va = 0x400000;
	space_with_pages(&p, va, 8, 0x70);
	for (unsigned i = 0; i < 8; i++)
		CHECK_OK(mmu_vm_page_out(&p, va + i * PAGE));
	CHECK_OK(mmu_vm_region_protect(&p, va, 2 * PAGE, MMU_PROT_R));
	CHECK(swapped_at(&p, va));
	CHECK_EQ(uw(&p, 0, va, 1) & 0x1000, 0x1000); /* refused, still out */
	CHECK(swapped_at(&p, va));
	CHECK_EQ(ur(&p, 0, va + 2), (uint8_t)(0x70 + 26));
	struct mmu_translation t;
	CHECK_OK(mmu_walk(&p.tree, va, &t));
	CHECK_EQ(t.prot & MMU_PROT_W, 0);
	CHECK_OK(mmu_vm_region_protect(&p, va, 2 * PAGE, MMU_PROT_R | MMU_PROT_W));
	CHECK_EQ(uw(&p, 0, va, 1), R_OK); /* the only reference: taken over */
	CHECK_EQ(vt_last, MMU_VM_COW);
	CHECK_EQ(slots_used(), 7);
	CHECK_OK(mmu_vm_region_resize(&p, va, 6 * PAGE));
	CHECK_EQ(slots_used(), 5);
	CHECK_OK(mmu_vm_region_remove(&p, va + 2 * PAGE, 2 * PAGE));
	CHECK_EQ(slots_used(), 3);
	CHECK_EQ(p.swapped, 3);
	/* A page table that holds swap entries only goes with them. */
	struct mmu_vm_space q;
	uint64_t tables1 = sim_tables_in_use(vt_sim);
	space_with_pages(&q, 0x40000000, 2, 0x11);
	CHECK_OK(mmu_vm_page_out(&q, 0x40000000));
	CHECK_OK(mmu_vm_page_out(&q, 0x40001000));
	CHECK_OK(mmu_vm_region_remove(&q, 0x40000000, 2 * PAGE));
	CHECK_EQ(sim_tables_in_use(vt_sim), tables1 + 1); /* its root only */
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&q));
	finish(&p, start);
}

/* NOMEM at page-in (no frame; the store's read) changes nothing. */
static void test_nomem_pagein(void)
{
	struct start start = begin(SLOTS);
	struct mmu_vm_space p;
	const mmu_vaddr_t va = 0x400000;
	space_with_pages(&p, va, 2, 0x21);
	CHECK_OK(mmu_vm_page_out(&p, va));
	(void)take(&p);
	struct state before;
	state_take(&p, &before);
	sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, 0);
	CHECK_EQ(uaccess(&p, 0, SIM_READ, va, 0, NULL), R_NOMEM);
	sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, -1);
	CHECK(state_same(&p, &before));
	store.fail_read = true;
	CHECK_EQ(uaccess(&p, 0, SIM_READ, va, 0, NULL), R_NOMEM);
	CHECK(state_same(&p, &before));
	CHECK_EQ(store.refs[0], 1);
	CHECK_EQ(ur(&p, 0, va + 3), (uint8_t)(0x21 + 39));
	CHECK(page_intact(&p, va, 0, 0x21));
	struct mmu_vm_counters c = take(&p);
	CHECK_EQ(c.swapin, 1);
	st_snapshot_free(&before.snap);
	finish(&p, start);
}

/* ---- a clock page-out under a memory limit ----
 * The working example of reclaim: a machine whose memory holds 16 pages
 * runs a process that uses 32. When a fault finds no frame, the clock
 * harvests the accessed bits (mmu_harvest) and sweeps its hand over the
 * pages: a page used since the last sweep gets a second chance, a cold
 * one is paged out. Four hot pages, touched every other access, mostly
 * stay in (each goes out about once in 20 of its uses); 28 cold ones,
 * touched in turn, cycle through swap (out before each next use). Every
 * byte comes back. */

#define CLOCK_PAGES 32
#define CLOCK_HOT 4

struct clock {
	struct mmu_vm_space *sp;
	mmu_vaddr_t base;
	unsigned hand;
	bool referenced[CLOCK_PAGES];
	unsigned outs[CLOCK_PAGES]; /* page-outs per page */
};

static void clock_saw(void *ctx, mmu_vaddr_t va, const struct mmu_translation *t, unsigned had)
{
	(void)t, (void)had;
	struct clock *c = ctx;
	c->referenced[(va - c->base) / PAGE] = true;
}

/* Page out up to WANT cold pages; returns how many went. */
static unsigned clock_reclaim(struct clock *c, unsigned want)
{
	mmu_err_t err = mmu_harvest(&c->sp->tree, c->base, CLOCK_PAGES * PAGE, MMU_HARVEST_ACCESSED, clock_saw, c,
				    NULL);
	CHECK(err == MMU_OK || err == MMU_E_NOTEXIST);
	unsigned freed = 0;
	for (unsigned step = 0; step < 2 * CLOCK_PAGES && freed < want; step++) {
		unsigned i = c->hand;
		c->hand = (c->hand + 1) % CLOCK_PAGES;
		if (c->referenced[i]) {
			c->referenced[i] = false; /* a second chance */
			continue;
		}
		if (mmu_vm_page_out(c->sp, c->base + i * PAGE) == MMU_OK) {
			c->outs[i]++;
			freed++;
		}
	}
	return freed;
}

/* A user access that reclaims when the fault finds no frame. */
static void clock_access(struct clock *c, enum sim_access_kind kind, unsigned i, uint8_t byte, uint8_t *read)
{
	unsigned r;
	while ((r = uaccess(c->sp, 0, kind, c->base + i * PAGE + i, byte, read)) == R_NOMEM)
		CHECK(clock_reclaim(c, 2) > 0);
	CHECK_EQ(r, R_OK);
}

static void test_clock(void)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.ncpus = 1;
	cfg.mem = 16 * PAGE;
	vt_sim = st_machine(&cfg);
	vt_mmu = sim_mmu(vt_sim);
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	store_reset(SLOTS);
	struct mmu_vm_space p;
	struct clock c = {.sp = &p, .base = 0x400000};
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_space_set_swap(&p, &store_ops, &store));
	CHECK_OK(mmu_vm_region_add(&p, c.base, CLOCK_PAGES * PAGE, MMU_PROT_R | MMU_PROT_W, MMU_VM_ANON, 0));
	st_load(vt_sim, 0, &p.tree);
	uint8_t expect[CLOCK_PAGES] = {0};
	for (unsigned step = 0; step < 40 * CLOCK_PAGES; step++) {
		unsigned i = step % 2 ? CLOCK_HOT + (step / 2) % (CLOCK_PAGES - CLOCK_HOT) : (step / 2) % CLOCK_HOT;
		uint8_t got = 0;
		clock_access(&c, SIM_READ, i, 0, &got);
		CHECK_EQ(got, expect[i]);
		expect[i] = (uint8_t)(step * 7 + i);
		clock_access(&c, SIM_WRITE, i, expect[i], NULL);
		CHECK(sim_frames_in_use(vt_sim) - frames0 <= 16);
	}
	unsigned hot_outs = 0, cold_outs = 0;
	for (unsigned i = 0; i < CLOCK_PAGES; i++) {
		uint8_t got = 0;
		clock_access(&c, SIM_READ, i, 0, &got);
		CHECK_EQ(got, expect[i]);
		*(i < CLOCK_HOT ? &hot_outs : &cold_outs) += c.outs[i];
	}
	struct mmu_vm_counters k = take(&p);
	printf("clock: %u page-outs of cold pages, %u of hot ones, %lu page-ins, %lu writes to the store\n",
	       cold_outs, hot_outs, (unsigned long)k.swapin, (unsigned long)store.writes);
	CHECK(cold_outs > 20 * (CLOCK_PAGES - CLOCK_HOT));
	CHECK(hot_outs < cold_outs / 10); /* each hot page out about once in 20 of its uses, every cold one each time */
	CHECK_EQ(k.swapin, store.reads);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&p));
	CHECK_EQ(slots_used(), 0);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	CHECK_EQ(mmu_user_tables(vt_mmu), 0);
	st_check_sanitizer(vt_sim);
	sim_destroy(vt_sim);
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_roundtrip();
	test_errors();
	test_huge_and_objects();
	test_fork();
	test_family();
	test_zap_and_protect();
	test_nomem_pagein();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	test_clock();
	return 0;
}
