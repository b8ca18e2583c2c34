/* SPDX-License-Identifier: MIT */
/* Helpers of the process-space tests: see vmtest.h. */
#include <string.h>

#include "vmtest.h"

struct sim *vt_sim;
struct mmu *vt_mmu;

/* ---- a tiny kernel: user accesses through the fault handler ---- */


/* The outcome of the last handled fault, for tests that check it. */
enum mmu_vm_outcome vt_last;

/* A user access by CPU on SP (loaded there): the hardware path, then the
 * fault handler and a retry. R_OK, R_NOMEM, or 0x1000 | the error code of
 * the refused fault. */
unsigned uaccess(struct mmu_vm_space *sp, unsigned cpu, enum sim_access_kind kind, mmu_vaddr_t va,
			uint8_t byte, uint8_t *read)
{
	for (unsigned i = 0; i < 4; i++) {
		struct sim_access a = sim_access(vt_sim, cpu, kind, va, true, false, byte);
		if (a.outcome == SIM_OK) {
			if (read)
				*read = a.byte;
			return R_OK;
		}
		CHECK_EQ(a.outcome, SIM_PF);
		struct mmu_vm_fault f = mmu_vm_fault_decode(a.error_code, a.cr2, MMU_VM_FAULT_ACCESS);
		sim_set_cpu(vt_sim, cpu);
		vt_last = mmu_vm_handle_fault(sp, &f);
		sim_set_cpu(vt_sim, 0);
		if (vt_last == MMU_VM_NOMEM)
			return R_NOMEM;
		CHECK(vt_last != MMU_VM_DEAD);
		if (!mmu_vm_resolved(vt_last))
			return 0x1000 | a.error_code;
	}
	CHECK(!"four faults in a row");
	return 0;
}

unsigned uw(struct mmu_vm_space *sp, unsigned cpu, mmu_vaddr_t va, uint8_t byte)
{
	return uaccess(sp, cpu, SIM_WRITE, va, byte, NULL);
}

uint8_t ur(struct mmu_vm_space *sp, unsigned cpu, mmu_vaddr_t va)
{
	uint8_t b = 0xee;
	CHECK_EQ(uaccess(sp, cpu, SIM_READ, va, 0, &b), R_OK);
	return b;
}

mmu_pa_t pa_of(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	struct mmu_translation t = {0};
	CHECK_OK(mmu_walk(&sp->tree, va, &t));
	return mmu_pa(t.pa.bits & ~(PAGE - 1));
}

uint32_t refs(struct mmu_vm_space *sp, mmu_vaddr_t va)
{
	return sim_frame_meta(vt_sim, pa_of(sp, va))->refcount;
}

bool counters_are(struct mmu_vm_space *sp, uint64_t demand, uint64_t cow, uint64_t stack, uint64_t spurious,
			 uint64_t segv)
{
	struct mmu_vm_counters c = mmu_vm_counters_take(sp);
	bool ok = c.demand == demand && c.cow == cow && c.stack == stack && c.spurious == spurious && c.segv == segv;
	if (!ok)
		fprintf(stderr, "counters: demand=%lu cow=%lu stack=%lu spurious=%lu segv=%lu\n",
			(unsigned long)c.demand, (unsigned long)c.cow, (unsigned long)c.stack,
			(unsigned long)c.spurious, (unsigned long)c.segv);
	return ok;
}

uint32_t vt_store(void *ctx, mmu_vaddr_t va, const uint8_t *src, size_t len)
{
	unsigned cpu = *(unsigned *)ctx;
	for (size_t i = 0; i < len; i++) {
		struct sim_access a = sim_access(vt_sim, cpu, SIM_WRITE, va + i, false, true, src[i]);
		if (a.outcome == SIM_PF)
			return a.error_code;
		CHECK_EQ(a.outcome, SIM_OK);
	}
	return 0;
}

bool vt_load(void *ctx, uint8_t *dst, mmu_vaddr_t va, size_t len, uint32_t *error_code)
{
	unsigned cpu = *(unsigned *)ctx;
	for (size_t i = 0; i < len; i++) {
		struct sim_access a = sim_access(vt_sim, cpu, SIM_READ, va + i, false, true, 0);
		if (a.outcome == SIM_PF) {
			*error_code = a.error_code;
			return false;
		}
		CHECK_EQ(a.outcome, SIM_OK);
		dst[i] = a.byte;
	}
	return true;
}

void state_take(struct mmu_vm_space *sp, struct state *s)
{
	s->snap = (struct st_snapshot){0};
	st_snapshot_take(vt_sim, &sp->tree, &s->snap);
	s->frames = sim_frames_in_use(vt_sim);
	s->tables = sim_tables_in_use(vt_sim);
	s->nregions = sp->nregions;
	s->region_cap = sp->region_cap;
	s->storage = sp->region;
	CHECK(sp->nregions <= VT_STATE_REGIONS);
	memcpy(s->region, sp->region, (sp->nregions < VT_STATE_REGIONS ? sp->nregions : VT_STATE_REGIONS) * sizeof s->region[0]);
}

bool state_same(struct mmu_vm_space *sp, struct state *before)
{
	static struct state now; /* 128 KiB of regions: not on the stack */
	state_take(sp, &now);
	bool same = st_snapshot_equal(&before->snap, &now.snap) && now.frames == before->frames &&
		    now.tables == before->tables && now.nregions == before->nregions &&
		    now.region_cap == before->region_cap && now.storage == before->storage &&
		    memcmp(now.region, before->region, now.nregions * sizeof now.region[0]) == 0;
	st_snapshot_free(&now.snap);
	return same;
}

void unload(unsigned cpu) { st_load(vt_sim, cpu, mmu_kernel_tree(vt_mmu)); }

void vt_on_each_machine(void (*tests)(const struct sim_config *cfg))
{
	for (unsigned run = 0; run < 4; run++) {
		struct sim_config cfg;
		sim_config_default(&cfg);
		cfg.levels = 4 + (run & 1);
		cfg.ncpus = 2;
		cfg.pcide = run >= 2; /* PCIDs: lazy CPUs, frees reach them */
		vt_sim = st_machine(&cfg);
		vt_mmu = sim_mmu(vt_sim);
		uint64_t frames0 = sim_frames_in_use(vt_sim), tables0 = sim_tables_in_use(vt_sim);
		tests(&cfg);
		CHECK_EQ(sim_frames_in_use(vt_sim), frames0);
		CHECK_EQ(sim_tables_in_use(vt_sim), tables0);
		CHECK_EQ(mmu_user_tables(vt_mmu), 0);
		st_check_sanitizer(vt_sim);
		sim_destroy(vt_sim);
	}
}

/* ---- the test pager ---- */

static mmu_err_t vt_pager_get(void *ctx, uint64_t i, mmu_pa_t *out)
{
	struct vt_pager *p = ctx;
	p->asked++;
	if (i == p->missing)
		return MMU_E_NOTEXIST;
	if (!p->page[i].bits) {
		if (sim_frame_alloc(vt_sim, MMU_SIZE_4K, &p->page[i]) != MMU_OK)
			return MMU_E_NOMEM;
		memset(sim_phys(vt_sim, p->page[i]), 0xa0 + (int)i, PAGE);
		mmu_vm_frame_ref(vt_mmu, p->page[i]); /* the pager's own */
	}
	*out = p->page[i];
	return MMU_OK;
}

const struct mmu_vm_pager_ops vt_pager_ops = {.get_page = vt_pager_get};
const struct mmu_vm_pager_ops vt_pager_ops_writable = {.get_page = vt_pager_get, .shared_writable = true};

void vt_pager_free(struct vt_pager *p)
{
	for (unsigned i = 0; i < VT_PAGER_PAGES; i++)
		if (p->page[i].bits) {
			CHECK(mmu_vm_frame_unref(vt_mmu, p->page[i]));
			sim_frame_free(vt_sim, MMU_SIZE_4K, p->page[i]);
		}
}
