/* SPDX-License-Identifier: MIT */
/* The reverse map of memory objects on the software machine: the mapper
 * records (made, counted through splits, fork and exit, NOSPACE when full
 * with nothing changed), the page-out of an object page from two
 * unrelated spaces with one shootdown (dirty reported, the next fault
 * asks the pager again, the data intact), a private copy left alone, BUSY
 * while a mapper's space lock is held elsewhere, and the Accessed test
 * and clear of a clock. Frames and tables back to the start, the TLB
 * sanitizer silent, on each of the four machines. */
#include <string.h>

#include "vmtest.h"

#define RW (MMU_PROT_R | MMU_PROT_W)
#define VA 0x400000ull
#define VB 0x800000ull
#define NPAGES VT_PAGER_PAGES
#define NREC 4

/* A pager object with NREC records, and its store; the data frames in
 * use when it was made. */
struct fixture {
	struct vt_pager st;
	struct mmu_vm_object o;
	mmu_pa_t slots[NPAGES];
	struct mmu_vm_object_mapper rec[NREC];
	uint64_t frames0;
};

static void fixture_init(struct fixture *f, unsigned records)
{
	memset(f, 0, sizeof *f);
	f->frames0 = sim_frames_in_use(vt_sim);
	f->st.missing = VT_PAGER_PAGES; /* no page refused; shared regions may write */
	CHECK_OK(mmu_vm_object_init_pager(vt_mmu, &f->o, f->slots, NPAGES, &vt_pager_ops_writable, &f->st));
	CHECK_OK(mmu_vm_object_set_mapper_storage(&f->o, f->rec, records));
}

/* The end of a test: the object released (no record left), and every
 * frame back, the sanitizer silent. */
static void fixture_release(struct fixture *f)
{
	CHECK_EQ(f->o.nmappers, 0u);
	CHECK_OK(mmu_vm_object_release(&f->o));
	vt_pager_free(&f->st);
	CHECK_EQ(sim_frames_in_use(vt_sim), f->frames0);
	st_check_sanitizer(vt_sim);
}

/* The two spaces of a test, loaded on CPUs 0 and 1, unloaded and exited. */
static void exit_both(struct mmu_vm_space *a, struct mmu_vm_space *b)
{
	unload(0);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(a));
	CHECK_OK(mmu_vm_space_exit(b));
}

/* SP's record in O: its region count (0: no record). */
static unsigned record_of(const struct mmu_vm_object *o, const struct mmu_vm_space *sp)
{
	for (unsigned i = 0; i < o->nmappers; i++)
		if (o->mapper[i].space == sp)
			return o->mapper[i].regions;
	return 0;
}

static bool mapped(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	struct mmu_translation t;
	return mmu_walk(&sp->tree, va, &t) == MMU_OK;
}

static uint64_t resident(struct mmu_vm_object *o, uint64_t i)
{
	mmu_pa_t pa;
	return mmu_vm_object_page(o, i, &pa) == MMU_OK ? pa.bits : 0;
}

/* ---- arguments and storage ---- */

static void test_args(void)
{
	static struct fixture f;
	struct mmu_vm_object anon;
	mmu_pa_t slots[NPAGES];
	struct mmu_vm_object_mapper rec[NREC];
	struct mmu_vm_space sp;
	bool dirty = true, ref = true;
	f.st.missing = VT_PAGER_PAGES;
	CHECK_OK(mmu_vm_object_init_pager(vt_mmu, &f.o, f.slots, NPAGES, &vt_pager_ops_writable, &f.st));
	CHECK_OK(mmu_vm_object_init_anon(vt_mmu, &anon, slots, NPAGES));
	CHECK_ERR(mmu_vm_object_set_mapper_storage(&f.o, NULL, 2), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_object_set_mapper_storage(&f.o, rec, 0), MMU_E_INVALID);
	/* Without records: no page-out, no test. */
	CHECK_ERR(mmu_vm_object_page_out(&f.o, 0, &dirty), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_object_page_referenced(&f.o, 0, MMU_VM_ACCESSED_CLEAR, &ref), MMU_E_INVALID);
	/* Mapped before it kept records: they were never counted. */
	CHECK_OK(mmu_vm_space_create(vt_mmu, &sp));
	CHECK_OK(mmu_vm_region_add_object(&sp, VA, PAGE, RW, MMU_VM_SHARED, &f.o, 0));
	CHECK_ERR(mmu_vm_object_set_mapper_storage(&f.o, rec, NREC), MMU_E_BUSY);
	CHECK_OK(mmu_vm_region_remove(&sp, VA, PAGE));
	CHECK_OK(mmu_vm_object_set_mapper_storage(&f.o, f.rec, 1));
	CHECK_OK(mmu_vm_region_add_object(&sp, VA, PAGE, RW, MMU_VM_SHARED, &f.o, 0));
	CHECK_EQ(f.o.nmappers, 1u);
	CHECK_ERR(mmu_vm_object_set_mapper_storage(&f.o, NULL, 0), MMU_E_BUSY);
	/* Grown into another array: the record moves. */
	CHECK_OK(mmu_vm_object_set_mapper_storage(&f.o, rec, NREC));
	CHECK(f.o.mapper == rec && record_of(&f.o, &sp) == 1);
	CHECK_OK(mmu_vm_object_set_mapper_storage(&f.o, f.rec, NREC));
	CHECK_ERR(mmu_vm_object_page_out(&f.o, NPAGES, &dirty), MMU_E_INVALID);
	CHECK_ERR(mmu_vm_object_page_out(&f.o, 0, &dirty), MMU_E_NOTEXIST);
	CHECK_ERR(mmu_vm_object_page_referenced(&f.o, 0, MMU_VM_ACCESSED_KEEP, &ref), MMU_E_NOTEXIST);
	/* A HOW that is neither: INVALID before anything else is looked at. */
	CHECK_ERR(mmu_vm_object_page_referenced(&f.o, 0, (enum mmu_vm_accessed)2, &ref), MMU_E_INVALID);
	/* An anonymous object without a store: its pages have nowhere to go. */
	CHECK_OK(mmu_vm_object_set_mapper_storage(&anon, rec, NREC));
	CHECK_ERR(mmu_vm_object_page_out(&anon, 0, &dirty), MMU_E_INVALID);
	CHECK_OK(mmu_vm_space_exit(&sp));
	CHECK_EQ(f.o.nmappers, 0u);
	CHECK_OK(mmu_vm_object_release(&anon));
	CHECK_ERR(mmu_vm_object_set_mapper_storage(&anon, rec, NREC), MMU_E_INVALID);
	CHECK_OK(mmu_vm_object_release(&f.o));
	CHECK(dirty && ref); /* errors leave the answers alone */
}

/* ---- page-out from two unrelated spaces ---- */

static void test_pageout_shared(void)
{
	static struct fixture f;
	fixture_init(&f, NREC);
	struct mmu_vm_space a, b;
	bool dirty = true;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &a));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &b));
	CHECK_OK(mmu_vm_region_add_object(&a, VA, 4 * PAGE, RW, MMU_VM_SHARED, &f.o, 0));
	CHECK_OK(mmu_vm_region_add_object(&b, VB, 2 * PAGE, RW, MMU_VM_SHARED, &f.o, 2));
	CHECK(record_of(&f.o, &a) == 1 && record_of(&f.o, &b) == 1);
	st_load(vt_sim, 0, &a.tree);
	st_load(vt_sim, 1, &b.tree);
	CHECK_EQ(ur(&a, 0, VA + 2 * PAGE), 0xa2);
	CHECK_EQ(ur(&b, 1, VB), 0xa2);
	mmu_pa_t frame = f.st.page[2];
	CHECK_EQ(mmu_vm_frame_refs(vt_mmu, frame), 4); /* pager, object, two leaves */
	uint64_t tables = mmu_user_tables(vt_mmu);
	(void)mmu_counters_take(vt_mmu);
	/* Read only: clean. Both leaves go with one shootdown. */
	CHECK_OK(mmu_vm_object_page_out(&f.o, 2, &dirty));
	struct mmu_counters c = mmu_counters_take(vt_mmu);
	CHECK(!dirty);
	CHECK_EQ(c.full, 2);  /* one full flush on each CPU */
	CHECK_EQ(c.ipis, 1);  /* one shootdown: CPU 1 */
	CHECK_EQ(c.invlpg, 0);
	CHECK(!mapped(&a, VA + 2 * PAGE) && !mapped(&b, VB));
	CHECK_EQ(resident(&f.o, 2), 0);
	CHECK_EQ(mmu_vm_frame_refs(vt_mmu, frame), 1); /* the pager's alone */
	CHECK_EQ(mmu_user_tables(vt_mmu), tables);     /* tables stay */
	/* The next fault in each asks the pager again: the same bytes. */
	unsigned asked = f.st.asked;
	CHECK_EQ(uw(&b, 1, VB + 5, 0x5b), R_OK);
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK_EQ(f.st.asked, asked + 1);
	CHECK_EQ(ur(&a, 0, VA + 2 * PAGE), 0xa2);
	CHECK_EQ(ur(&a, 0, VA + 2 * PAGE + 5), 0x5b);
	CHECK_EQ(f.st.asked, asked + 1);
	/* Written through B: dirty; the write is in the pager's frame. */
	CHECK_OK(mmu_vm_object_page_out(&f.o, 2, &dirty));
	CHECK(dirty);
	CHECK_EQ(sim_phys(vt_sim, frame)[5], 0x5b);
	CHECK_EQ(ur(&b, 1, VB + 5), 0x5b);
	CHECK_OK(mmu_vm_object_page_out(&f.o, 2, NULL));
	/* A page resident but mapped nowhere goes too. */
	CHECK_EQ(ur(&a, 0, VA + 3 * PAGE), 0xa3);
	CHECK_OK(mmu_vm_region_remove(&a, VA + 3 * PAGE, PAGE));
	CHECK_OK(mmu_vm_object_page_out(&f.o, 3, &dirty));
	CHECK(!dirty);
	exit_both(&a, &b);
	fixture_release(&f);
}

/* ---- a private region: its copy stays, its uncopied page goes ---- */

static void test_private(void)
{
	static struct fixture f;
	fixture_init(&f, NREC);
	struct mmu_vm_space a, b;
	bool dirty = true;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &a));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &b));
	CHECK_OK(mmu_vm_region_add_object(&a, VA, 4 * PAGE, RW, MMU_VM_PRIVATE, &f.o, 0));
	CHECK_OK(mmu_vm_region_add_object(&b, VB, 4 * PAGE, MMU_PROT_R, MMU_VM_SHARED, &f.o, 0));
	st_load(vt_sim, 0, &a.tree);
	st_load(vt_sim, 1, &b.tree);
	CHECK_EQ(uw(&a, 0, VA + PAGE, 0x55), R_OK); /* A's copy of page 1 */
	mmu_pa_t copy = pa_of(&a, VA + PAGE);
	CHECK_EQ(ur(&a, 0, VA + 2 * PAGE), 0xa2);   /* page 2: the object's */
	CHECK_EQ(ur(&b, 1, VB + PAGE), 0xa1);
	CHECK_EQ(ur(&b, 1, VB + 2 * PAGE), 0xa2);
	CHECK_OK(mmu_vm_object_page_out(&f.o, 1, &dirty));
	CHECK(!dirty); /* the copy's D is not the object page's */
	CHECK(mapped(&a, VA + PAGE) && !mapped(&b, VB + PAGE));
	CHECK_EQ(pa_of(&a, VA + PAGE).bits, copy.bits);
	CHECK_EQ(ur(&a, 0, VA + PAGE), 0x55);
	CHECK_OK(mmu_vm_object_page_out(&f.o, 2, &dirty));
	CHECK(!mapped(&a, VA + 2 * PAGE) && !mapped(&b, VB + 2 * PAGE));
	CHECK_EQ(mmu_vm_frame_refs(vt_mmu, f.st.page[2]), 1);
	/* The private page comes back read-only, and copies on write. */
	CHECK_EQ(uw(&a, 0, VA + 2 * PAGE, 0x66), R_OK);
	CHECK_EQ(ur(&b, 1, VB + 2 * PAGE), 0xa2);
	exit_both(&a, &b);
	fixture_release(&f);
}

/* ---- NOSPACE when the records are full: nothing changed ---- */

static void test_nospace(void)
{
	static struct fixture f;
	static struct state snap;
	fixture_init(&f, 1);
	struct mmu_vm_space a, b, c;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &a));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &b));
	CHECK_OK(mmu_vm_region_add_object(&a, VA, PAGE, RW, MMU_VM_SHARED, &f.o, 0));
	CHECK_OK(mmu_vm_region_add_object(&a, VB, PAGE, RW, MMU_VM_PRIVATE, &f.o, 1)); /* A's record */
	CHECK_EQ(record_of(&f.o, &a), 2);
	state_take(&b, &snap);
	CHECK_ERR(mmu_vm_region_add_object(&b, VA, PAGE, RW, MMU_VM_SHARED, &f.o, 0), MMU_E_NOSPACE);
	CHECK(state_same(&b, &snap));
	/* The argument errors come first. */
	CHECK_ERR(mmu_vm_region_add_object(&b, VA + 8, PAGE, RW, MMU_VM_SHARED, &f.o, 0), MMU_E_UNALIGNED);
	CHECK_EQ(f.o.mappings, 2);
	st_snapshot_free(&snap.snap);
	st_load(vt_sim, 0, &a.tree);
	CHECK_EQ(ur(&a, 0, VA), 0xa0);
	state_take(&a, &snap);
	memset(&c, 0, sizeof c);
	CHECK_ERR(mmu_vm_fork(&a, &c), MMU_E_NOSPACE);
	CHECK(state_same(&a, &snap));
	st_snapshot_free(&snap.snap);
	CHECK(!c.live);
	CHECK(f.o.nmappers == 1 && f.o.mappings == 2);
	/* A bigger array: both go. */
	CHECK_OK(mmu_vm_object_set_mapper_storage(&f.o, f.rec, NREC));
	CHECK_OK(mmu_vm_region_add_object(&b, VA, PAGE, RW, MMU_VM_SHARED, &f.o, 0));
	CHECK_OK(mmu_vm_fork(&a, &c));
	CHECK(record_of(&f.o, &c) == 2 && !f.o.mapper[2].forking);
	CHECK_EQ(f.o.nmappers, 3u);
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK_OK(mmu_vm_space_exit(&b));
	CHECK_OK(mmu_vm_space_exit(&a));
	fixture_release(&f);
}

/* ---- BUSY while a mapper's space lock is held elsewhere ---- */

static void test_busy(void)
{
	static struct fixture f;
	fixture_init(&f, NREC);
	struct mmu_vm_space a, b;
	bool dirty = true, ref = false;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &a));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &b));
	CHECK_OK(mmu_vm_region_add_object(&a, VA, PAGE, RW, MMU_VM_SHARED, &f.o, 0));
	CHECK_OK(mmu_vm_region_add_object(&b, VB, PAGE, RW, MMU_VM_SHARED, &f.o, 0));
	st_load(vt_sim, 0, &a.tree);
	CHECK_EQ(ur(&a, 0, VA), 0xa0);
	uint64_t frame = resident(&f.o, 0);
	atomic_store(&b.lock, true); /* a fault of B's, say, in flight */
	CHECK_ERR(mmu_vm_object_page_out(&f.o, 0, &dirty), MMU_E_BUSY);
	CHECK_ERR(mmu_vm_object_page_referenced(&f.o, 0, MMU_VM_ACCESSED_CLEAR, &ref), MMU_E_BUSY);
	CHECK(dirty && !ref);
	CHECK(mapped(&a, VA) && resident(&f.o, 0) == frame);
	CHECK(!atomic_load(&a.lock)); /* the lock it had taken, dropped */
	atomic_store(&b.lock, false);
	CHECK_OK(mmu_vm_object_page_out(&f.o, 0, &dirty));
	CHECK(!mapped(&a, VA));
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&a));
	CHECK_OK(mmu_vm_space_exit(&b));
	fixture_release(&f);
}

/* ---- the records follow splits, merges, remove, fork and exit ---- */

static void test_records(void)
{
	static struct fixture f;
	fixture_init(&f, NREC);
	struct mmu_vm_space p, c;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &p));
	CHECK_OK(mmu_vm_region_add_object(&p, VA, 6 * PAGE, RW, MMU_VM_SHARED, &f.o, 1));
	CHECK_OK(mmu_vm_region_protect(&p, VA + 2 * PAGE, PAGE, MMU_PROT_R));
	CHECK_EQ(record_of(&f.o, &p), 3);
	CHECK_OK(mmu_vm_region_protect(&p, VA + 2 * PAGE, PAGE, RW)); /* merges back */
	CHECK_EQ(record_of(&f.o, &p), 1);
	CHECK_OK(mmu_vm_region_remove(&p, VA + PAGE, 2 * PAGE));
	CHECK_EQ(record_of(&f.o, &p), 2);
	CHECK_OK(mmu_vm_region_resize(&p, VA + 3 * PAGE, PAGE));
	CHECK_EQ(record_of(&f.o, &p), 2);
	st_load(vt_sim, 0, &p.tree);
	CHECK_EQ(uw(&p, 0, VA + 3 * PAGE, 0x31), R_OK); /* page 4 */
	CHECK_OK(mmu_vm_fork(&p, &c));
	CHECK_EQ(record_of(&f.o, &c), 2);
	st_load(vt_sim, 1, &c.tree);
	CHECK_EQ(ur(&c, 1, VA + 3 * PAGE), 0x31);
	/* Page 4 goes out of the parent and the child; each faults it back. */
	bool dirty = false;
	CHECK_OK(mmu_vm_object_page_out(&f.o, 4, &dirty));
	CHECK(dirty && !mapped(&p, VA + 3 * PAGE) && !mapped(&c, VA + 3 * PAGE));
	CHECK_EQ(ur(&c, 1, VA + 3 * PAGE), 0x31);
	CHECK_OK(mmu_vm_region_remove(&p, VA, PAGE));
	CHECK_EQ(record_of(&f.o, &p), 1);
	unload(1);
	CHECK_OK(mmu_vm_space_exit(&c));
	CHECK(record_of(&f.o, &c) == 0 && f.o.nmappers == 1);
	CHECK_OK(mmu_vm_region_remove(&p, VA + 3 * PAGE, PAGE));
	CHECK_EQ(f.o.nmappers, 0u); /* no region over it left: no record */
	unload(0);
	CHECK_OK(mmu_vm_space_exit(&p));
	fixture_release(&f);
}

/* ---- the Accessed bit across mappers: a clock's test ---- */

static void test_referenced(void)
{
	static struct fixture f;
	fixture_init(&f, NREC);
	struct mmu_vm_space a, b;
	bool ref = false;
	CHECK_OK(mmu_vm_space_create(vt_mmu, &a));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &b));
	CHECK_OK(mmu_vm_region_add_object(&a, VA, PAGE, RW, MMU_VM_SHARED, &f.o, 0));
	CHECK_OK(mmu_vm_region_add_object(&b, VB, 2 * PAGE, RW, MMU_VM_PRIVATE, &f.o, 0));
	st_load(vt_sim, 0, &a.tree);
	st_load(vt_sim, 1, &b.tree);
	CHECK_EQ(ur(&a, 0, VA), 0xa0);
	CHECK_EQ(ur(&b, 1, VB), 0xa0);
	CHECK_OK(mmu_vm_object_page_referenced(&f.o, 0, MMU_VM_ACCESSED_KEEP, &ref));
	CHECK(ref);
	(void)mmu_counters_take(vt_mmu);
	CHECK_OK(mmu_vm_object_page_referenced(&f.o, 0, MMU_VM_ACCESSED_CLEAR, &ref));
	struct mmu_counters c = mmu_counters_take(vt_mmu);
	CHECK(ref);
	CHECK_EQ(c.ipis, 1); /* both leaves' A, one shootdown */
	CHECK_OK(mmu_vm_object_page_referenced(&f.o, 0, MMU_VM_ACCESSED_KEEP, &ref));
	CHECK(!ref);
	CHECK_OK(mmu_vm_object_page_referenced(&f.o, 0, MMU_VM_ACCESSED_CLEAR, &ref));
	CHECK(!ref);
	CHECK_EQ(mmu_counters_take(vt_mmu).ipis, 0); /* nothing taken: nothing owed */
	/* The flush took the cached translations: the next use sets A. */
	CHECK_EQ(ur(&b, 1, VB), 0xa0);
	CHECK_OK(mmu_vm_object_page_referenced(&f.o, 0, MMU_VM_ACCESSED_KEEP, &ref));
	CHECK(ref);
	/* B's copy is not the object's page: its A is not reported. */
	CHECK_EQ(uw(&b, 1, VB + PAGE, 0x77), R_OK);
	CHECK_OK(mmu_vm_object_page_referenced(&f.o, 1, MMU_VM_ACCESSED_CLEAR, &ref));
	CHECK(!ref);
	mmu_pte_t leaf;
	CHECK_OK(mmu_entry(&b.tree, VB + PAGE, MMU_LEVEL_PT, &leaf));
	CHECK(leaf & MMU_PTE_A);
	exit_both(&a, &b);
	fixture_release(&f);
}

/* ---- an anonymous object's pages in a store ---- */

#define SLOTS 4

static struct {
	uint8_t page[SLOTS][PAGE];
	unsigned refs[SLOTS];
	unsigned limit; /* slots it may hold: the store is full beyond */
} store;

static mmu_err_t store_write(void *ctx, mmu_pa_t frame, uint64_t *slot)
{
	(void)ctx;
	for (unsigned i = 0; i < store.limit; i++)
		if (!store.refs[i]) {
			memcpy(store.page[i], sim_phys(vt_sim, frame), PAGE);
			store.refs[i] = 1;
			*slot = i;
			return MMU_OK;
		}
	return MMU_E_NOMEM;
}

static mmu_err_t store_read(void *ctx, uint64_t slot, mmu_pa_t frame)
{
	(void)ctx;
	memcpy(sim_phys(vt_sim, frame), store.page[slot], PAGE);
	return MMU_OK;
}

static void store_dup(void *ctx, uint64_t slot) { (void)ctx, store.refs[slot]++; }
static void store_slot_free(void *ctx, uint64_t slot) { (void)ctx, store.refs[slot]--; }

static const struct mmu_vm_swap_ops swap_ops = {
	.write = store_write, .read = store_read, .dup = store_dup, .free = store_slot_free};

static unsigned store_used(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SLOTS; i++)
		n += store.refs[i] != 0;
	return n;
}

/* Two spaces share an anonymous object's page: out to the store with one
 * shootdown (the frame freed), back in on the next touch of either, the
 * bytes intact; a full store is NOMEM with the leaves as they were; a
 * frame for the page-in missing is NOMEM with the page still out;
 * release frees the slots of pages still out. */
static void test_anon_swap(void)
{
	uint64_t frames0 = sim_frames_in_use(vt_sim);
	static struct state snap_a, snap_b;
	struct mmu_vm_object o;
	mmu_pa_t slots[NPAGES];
	struct mmu_vm_object_mapper rec[NREC];
	struct mmu_vm_space a, b;
	bool dirty = false;
	memset(&store, 0, sizeof store);
	store.limit = SLOTS;
	CHECK_OK(mmu_vm_object_init_anon(vt_mmu, &o, slots, NPAGES));
	CHECK_OK(mmu_vm_object_set_mapper_storage(&o, rec, NREC));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &a));
	CHECK_OK(mmu_vm_space_create(vt_mmu, &b));
	CHECK_OK(mmu_vm_region_add_object(&a, VA, 4 * PAGE, RW, MMU_VM_SHARED, &o, 0));
	CHECK_OK(mmu_vm_region_add_object(&b, VB, 4 * PAGE, RW, MMU_VM_PRIVATE, &o, 0));
	st_load(vt_sim, 0, &a.tree);
	st_load(vt_sim, 1, &b.tree);
	CHECK_EQ(uw(&a, 0, VA + PAGE + 3, 0x11), R_OK);
	CHECK_EQ(ur(&b, 1, VB + PAGE + 3), 0x11);
	CHECK_ERR(mmu_vm_object_page_out(&o, 1, &dirty), MMU_E_INVALID); /* no store yet */
	CHECK_OK(mmu_vm_object_set_swap(&o, &swap_ops, NULL));
	/* A full store: NOMEM, the leaves as they were. */
	store.limit = 0;
	state_take(&a, &snap_a);
	state_take(&b, &snap_b);
	CHECK_ERR(mmu_vm_object_page_out(&o, 1, &dirty), MMU_E_NOMEM);
	CHECK(state_same(&a, &snap_a) && state_same(&b, &snap_b));
	st_snapshot_free(&snap_a.snap);
	st_snapshot_free(&snap_b.snap);
	CHECK_EQ(ur(&b, 1, VB + PAGE + 3), 0x11);
	store.limit = SLOTS;
	uint64_t frames = sim_frames_in_use(vt_sim);
	CHECK_OK(mmu_vm_object_page_out(&o, 1, &dirty));
	CHECK(dirty);
	CHECK(!mapped(&a, VA + PAGE) && !mapped(&b, VB + PAGE));
	CHECK_EQ(sim_frames_in_use(vt_sim), frames - 1);
	CHECK_EQ(store_used(), 1u);
	CHECK_EQ(resident(&o, 1), 0);
	CHECK_ERR(mmu_vm_object_page_out(&o, 1, &dirty), MMU_E_NOTEXIST);
	CHECK_ERR(mmu_vm_object_set_swap(&o, NULL, NULL), MMU_E_BUSY);
	/* No frame for the page-in: NOMEM, the page still out. */
	sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, 0);
	CHECK_EQ(uaccess(&b, 1, SIM_READ, VB + PAGE, 0, NULL), R_NOMEM);
	sim_fail_alloc_after(vt_sim, MMU_FRAME_DATA, -1);
	CHECK(store_used() == 1 && resident(&o, 1) == 0);
	CHECK_EQ(ur(&b, 1, VB + PAGE + 3), 0x11); /* back in: the store's slot freed */
	CHECK_EQ(vt_last, MMU_VM_DEMAND);
	CHECK_EQ(store_used(), 0u);
	CHECK_EQ(ur(&a, 0, VA + PAGE + 3), 0x11);
	CHECK_EQ(pa_of(&a, VA + PAGE).bits, pa_of(&b, VB + PAGE).bits);
	/* Out again, and released while out: the slot goes with it. */
	CHECK_OK(mmu_vm_object_page_out(&o, 1, NULL));
	CHECK_EQ(store_used(), 1u);
	exit_both(&a, &b);
	CHECK_OK(mmu_vm_object_release(&o));
	CHECK_EQ(store_used(), 0u);
	CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
	st_check_sanitizer(vt_sim);
}

static void all_tests(const struct sim_config *cfg)
{
	(void)cfg;
	test_args();
	test_pageout_shared();
	test_private();
	test_nospace();
	test_busy();
	test_records();
	test_referenced();
	test_anon_swap();
}

int test_main(int argc, char **argv)
{
	(void)argc, (void)argv;
	vt_on_each_machine(all_tests);
	return 0;
}
