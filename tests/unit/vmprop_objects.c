/* SPDX-License-Identifier: MIT */
/* The memory objects of the process-space property test (vmprop.h):
 * anonymous objects and objects over the store, a tiny pager whose page
 * I holds vm_store_byte(I, offset) in every byte (its page
 * VM_STORE_MISSING does not exist); regions over them, shared and
 * private; release, BUSY while mapped; huge pages turned on and off. Each
 * call checked against the model's answer, which then follows. */
#include <inttypes.h>
#include <string.h>

#include "vmprop.h"

/* ---- the store: the pager of the pager-backed objects ---- */

static mmu_err_t store_get(void *ctx, uint64_t i, mmu_pa_t *out)
{
	(void)ctx;
	if (i == VM_STORE_MISSING)
		return MMU_E_NOTEXIST;
	if (!R.store[i].bits) {
		if (sim_frame_alloc(R.sim, MMU_SIZE_4K, &R.store[i]) != MMU_OK)
			FAIL("the store found no frame for page %" PRIu64, i);
		uint8_t *p = sim_phys(R.sim, R.store[i]);
		for (unsigned off = 0; off < VM_PAGE; off++)
			p[off] = vm_store_byte(i, off);
		mmu_vm_frame_ref(R.mmu, R.store[i]); /* the pager's own */
	}
	*out = R.store[i];
	return MMU_OK;
}

static const struct mmu_vm_pager_ops store_ops = {.get_page = store_get};

/* ---- objects ---- */

static uint64_t mappings_of(const struct mmu_vm_object *obj)
{
	struct vm_mspace *live[NSPACES];
	unsigned n = 0;
	for (int s = 0; s < NSPACES; s++)
		if (R.live[s])
			live[n++] = R.ms[s];
	return vmm_mappings(live, n, obj);
}

static void object_init(unsigned k)
{
	bool pager = chance(50);
	uint32_t npages = 1 + (uint32_t)rnd(VM_MOBJ_PAGES);
	snprintf(R.desc, sizeof(R.desc), "object %u init: %s, %u pages", k, pager ? "the store's" : "anonymous", npages);
	mmu_err_t err = pager ? mmu_vm_object_init_pager(R.mmu, &R.obj[k], R.obj_slots[k], npages, &store_ops, NULL)
			      : mmu_vm_object_init_anon(R.mmu, &R.obj[k], R.obj_slots[k], npages);
	expect_err(err, MMU_OK);
	expect_err(mmu_vm_object_set_mapper_storage(&R.obj[k], R.obj_mappers[k], NSPACES), MMU_OK);
	vmm_object_init(&R.model, k, &R.obj[k], pager, npages);
	if (R.swap && !pager && chance(70))
		swap_give_object(k); /* its pages go to the spaces' store */
	R.counts[N_OBJECT]++;
}

static void object_release(unsigned k)
{
	uint64_t mappings = mappings_of(&R.obj[k]);
	snprintf(R.desc, sizeof(R.desc), "object %u release (%" PRIu64 " regions map it)", k, mappings);
	as_any_cpu();
	mmu_err_t want = vmm_object_release(&R.model, k, mappings);
	expect_err(mmu_vm_object_release(&R.obj[k]), want);
	R.counts[want == MMU_OK ? N_RELEASE : want == MMU_E_BUSY ? N_RELEASE_BUSY : N_REFUSED]++;
}

/* A page of live object K (now and then beyond its end) out of every
 * space that maps it; the dirty answer is not modelled (no D bits). */
static void object_page_out(unsigned k)
{
	uint64_t i = rnd(R.model.object[k].npages + (chance(5) ? 2 : 0));
	snprintf(R.desc, sizeof(R.desc), "object %u page %" PRIu64 " out", k, i);
	as_any_cpu();
	mmu_err_t want = vmm_object_page_out(&R.model, R.ms, R.live, NSPACES, k, i);
	bool dirty;
	expect_err(mmu_vm_object_page_out(&R.obj[k], i, &dirty), want);
	R.counts[want == MMU_OK ? N_OBJECT_PAGE_OUT : N_REFUSED]++;
}

void do_object_change(void)
{
	unsigned k = (unsigned)rnd(VM_MOBJECTS);
	if (!R.model.object[k].live && chance(80))
		object_init(k);
	else if (R.model.object[k].live && chance(50))
		object_page_out(k);
	else
		object_release(k);
}

/* A live object, NULL when there is none. */
static struct mmu_vm_object *pick_object(void)
{
	unsigned start = (unsigned)rnd(VM_MOBJECTS);
	for (unsigned i = 0; i < VM_MOBJECTS; i++)
		if (R.model.object[(start + i) % VM_MOBJECTS].live)
			return &R.obj[(start + i) % VM_MOBJECTS];
	return NULL;
}

/* Some of OBJ's pages (now and then beyond its end: INVALID), where
 * region add puts an anon region. */
void do_region_add_object(int s)
{
	struct mmu_vm_object *obj = pick_object();
	if (!obj)
		return;
	const struct vm_mobject *o = vmm_object_of(&R.model, obj);
	uint64_t first = rnd(o->npages + (chance(5) ? 2 : 0));
	uint64_t len = (1 + rnd(first < o->npages ? o->npages - first + (chance(5) ? 2 : 0) : 2)) * VM_PAGE;
	mmu_vaddr_t va = VM_WIN + rnd(VM_NSLOTS) * VM_SLOT + (1ull << 20) + rnd(512) * VM_PAGE;
	enum mmu_vm_kind share = chance(50) ? MMU_VM_SHARED : MMU_VM_PRIVATE;
	unsigned prot = MMU_PROT_R | (chance(70) ? MMU_PROT_W : 0) | (chance(20) ? MMU_PROT_X : 0);
	if (o->pager && share == MMU_VM_SHARED)
		prot &= ~(unsigned)MMU_PROT_W; /* the store never changes */
	snprintf(R.desc, sizeof(R.desc), "region add space %d va 0x%" PRIx64 " len 0x%" PRIx64 " prot %u %s object %d page %" PRIu64,
		 s, va, len, prot, share == MMU_VM_SHARED ? "shared" : "private", (int)(obj - R.obj), first);
	as_any_cpu();
	mmu_err_t want = vmm_add_object(&R.model, R.ms[s], va, len, prot, share, obj, first);
	expect_err(mmu_vm_region_add_object(&R.sp[s], va, len, prot, share, obj, first), want);
	R.counts[want == MMU_OK ? N_OBJECT_ADD : want == MMU_E_NOSPACE ? N_NOSPACE : N_REFUSED]++;
}

bool may_write_store(int s, mmu_vaddr_t va, uint64_t len)
{
	const struct vm_mspace *m = R.ms[s];
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct mmu_vm_region *r = &m->region[i];
		const struct vm_mobject *o = r->obj ? vmm_object_of(&R.model, r->obj) : NULL;
		if (o && o->pager && r->kind == MMU_VM_SHARED && va < r->start + r->len && r->start < va + len)
			return false;
	}
	return true;
}

void do_set_huge(int s)
{
	bool on = !R.ms[s]->huge || chance(20);
	snprintf(R.desc, sizeof(R.desc), "huge pages %s in space %d", on ? "on" : "off", s);
	as_any_cpu();
	expect_err(mmu_vm_space_set_huge(&R.sp[s], on), MMU_OK);
	R.ms[s]->huge = on;
	R.counts[N_HUGE]++;
}

void check_objects(struct vmc_frames *f)
{
	for (unsigned k = 0; k < VM_MOBJECTS; k++) {
		if (!R.model.object[k].live)
			continue;
		snprintf(R.desc, sizeof(R.desc), "check object %u", k);
		const char *err = vmc_check_object(R.sim, &R.obj[k], &R.model.object[k], mappings_of(&R.obj[k]),
						   &R.model, f);
		if (err)
			FAIL("%s", err);
	}
	snprintf(R.desc, sizeof(R.desc), "check the store");
	const char *err = vmc_check_store(R.sim, R.store, &R.model, f);
	if (err)
		FAIL("%s", err);
}

void objects_teardown(void)
{
	for (unsigned k = 0; k < VM_MOBJECTS; k++)
		if (R.model.object[k].live)
			object_release(k);
	for (unsigned i = 0; i < VM_MOBJ_PAGES; i++) {
		if (!R.store[i].bits)
			continue;
		if (!mmu_vm_frame_unref(R.mmu, R.store[i]))
			FAIL("store page %u: the pager's was not its last reference", i);
		sim_frame_free(R.sim, MMU_SIZE_4K, R.store[i]);
		vmm_frame_put(&R.model, R.model.store[i]);
	}
}
