/* SPDX-License-Identifier: MIT */
/* The translation oracle of the process-space property test: see vmcheck.h. */
#include "vmcheck.h"

#include <inttypes.h>
#include <string.h>

static char msg[256];

void vmc_frames_begin(struct vmc_frames *f, const struct vm_model *model)
{
	f->n = model->nframes;
	f->pa = calloc(f->n + 1, sizeof(*f->pa));
	if (!f->pa) {
		fprintf(stderr, "vmcheck: out of memory\n");
		exit(1);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

const char *vmc_frames_end(struct vmc_frames *f)
{
	size_t n = 0;
	for (uint32_t i = 0; i < f->n; i++)
		if (f->pa[i])
			f->pa[n++] = f->pa[i];
	qsort(f->pa, n, sizeof(*f->pa), cmp_u64);
	const char *err = NULL;
	for (size_t i = 1; i < n && !err; i++)
		if (f->pa[i] == f->pa[i - 1]) {
			snprintf(msg, sizeof(msg), "two frames of the model share 0x%" PRIx64, f->pa[i]);
			err = msg;
		}
	free(f->pa);
	f->pa = NULL;
	return err;
}

static const char *check_page(struct sim *sim, struct mmu_vm_space *sp, const struct vm_mspace *m,
			      const struct vm_model *model, struct vmc_frames *f, mmu_vaddr_t page)
{
	const struct vm_mpage *pg = &m->page[(page - VM_WIN) / VM_PAGE];
	struct mmu_translation t;
	mmu_err_t err = mmu_walk(&sp->tree, page, &t);
	if ((pg->frame >= 0) != (err == MMU_OK)) {
		snprintf(msg, sizeof(msg), "page 0x%" PRIx64 ": walk %s, the model %s", page, mmu_err_name(err),
			 pg->frame >= 0 ? "maps it" : "maps nothing");
		return msg;
	}
	if (pg->frame < 0)
		return NULL;
	int ri = vmm_region_at(m, page);
	unsigned prot = MMU_PROT_R | MMU_PROT_U | (pg->wr ? MMU_PROT_W : 0) |
			(ri >= 0 && (m->region[ri].prot & MMU_PROT_X) ? MMU_PROT_X : 0);
	uint64_t pa = t.pa.bits;
	const struct vm_mframe *mf = &model->frame[pg->frame];
	uint32_t refs = sim_frame_meta(sim, mmu_pa(pa))->refcount;
	if (t.size != MMU_SIZE_4K || t.prot != prot)
		snprintf(msg, sizeof(msg), "page 0x%" PRIx64 ": leaf size %u prot 0x%x, the model prot 0x%x", page,
			 t.size, t.prot, prot);
	else if (f->pa[pg->frame] && f->pa[pg->frame] != pa)
		snprintf(msg, sizeof(msg), "page 0x%" PRIx64 " maps 0x%" PRIx64 ", the frame the model shares here is at 0x%" PRIx64,
			 page, pa, f->pa[pg->frame]);
	else if (refs != mf->refs)
		snprintf(msg, sizeof(msg), "frame 0x%" PRIx64 " has %u references, the model %u", pa, refs, mf->refs);
	else
		msg[0] = 0;
	f->pa[pg->frame] = pa;
	for (unsigned b = 0; b < VM_NBYTES && !msg[0]; b++) {
		uint8_t have = *sim_phys(sim, mmu_pa(pa + vm_byte_offset(b)));
		if (have != mf->byte[b])
			snprintf(msg, sizeof(msg), "byte %u of frame 0x%" PRIx64 " is 0x%02x, the model 0x%02x", b, pa,
				 have, mf->byte[b]);
	}
	return msg[0] ? msg : NULL;
}

const char *vmc_check_space(struct sim *sim, struct mmu_vm_space *sp, const struct vm_mspace *m,
			    const struct vm_model *model, struct vmc_frames *f, struct st_rng *rng, unsigned nrandom)
{
	if (sp->nregions != m->nregions || memcmp(sp->region, m->region, m->nregions * sizeof(m->region[0])) != 0) {
		snprintf(msg, sizeof(msg), "the regions differ from the model's (%u regions, the model %u)",
			 sp->nregions, m->nregions);
		return msg;
	}
	const char *err = NULL;
	for (unsigned i = 0; i < m->nregions && !err; i++) {
		mmu_vaddr_t lo = m->region[i].start - 8 * VM_PAGE, end = m->region[i].start + m->region[i].len;
		for (mmu_vaddr_t p = lo < VM_WIN ? VM_WIN : lo; p < end && !err; p += VM_PAGE)
			err = check_page(sim, sp, m, model, f, p);
	}
	for (unsigned i = 0; i < nrandom && !err; i++)
		err = check_page(sim, sp, m, model, f, VM_WIN + st_rng_below(rng, VM_WIN_PAGES) * VM_PAGE);
	return err;
}
