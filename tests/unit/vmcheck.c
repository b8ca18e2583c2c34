/* SPDX-License-Identifier: MIT */
/* The translation oracle of the process-space property test: see vmcheck.h. */
#include "vmcheck.h"

#include <inttypes.h>
#include <string.h>

static char msg[400];

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

/* Model frame ID at PA: where it was seen, its references, its bytes. */
static const char *check_frame(struct sim *sim, uint64_t pa, int32_t id, const struct vm_model *model,
			       struct vmc_frames *f, const char *what)
{
	const struct vm_mframe *mf = &model->frame[id], *head = &model->frame[mf->head];
	/* A 2M frame's references are its head's; its pieces lie in order. */
	uint64_t head_pa = head->big ? pa & ~(VM_HUGE - 1) : pa;
	uint32_t refs = sim_frame_meta(sim, mmu_pa(head_pa))->refcount;
	if (f->pa[id] && f->pa[id] != pa)
		snprintf(msg, sizeof(msg), "%s is at 0x%" PRIx64 ", the frame the model shares there at 0x%" PRIx64, what,
			 pa, f->pa[id]);
	else if (pa - head_pa != (uint64_t)(id - mf->head) * VM_PAGE)
		snprintf(msg, sizeof(msg), "%s is at 0x%" PRIx64 ", piece %d of its 2M frame in the model", what, pa,
			 id - mf->head);
	else if (refs != head->refs)
		snprintf(msg, sizeof(msg), "%s (frame 0x%" PRIx64 ") has %u references, the model %u", what, head_pa, refs,
			 head->refs);
	else
		msg[0] = 0;
	f->pa[id] = pa;
	for (unsigned b = 0; b < VM_NBYTES && !msg[0]; b++)
		if (*sim_phys(sim, mmu_pa(pa + vm_byte_offset(b))) != mf->byte[b])
			snprintf(msg, sizeof(msg), "byte %u of %s is 0x%02x, the model 0x%02x", b, what,
				 *sim_phys(sim, mmu_pa(pa + vm_byte_offset(b))), mf->byte[b]);
	return msg[0] ? msg : NULL;
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
	enum mmu_size size = pg->huge ? MMU_SIZE_2M : MMU_SIZE_4K;
	if (t.size != size || t.prot != prot) {
		snprintf(msg, sizeof(msg), "page 0x%" PRIx64 ": leaf size %u prot 0x%x, the model size %u prot 0x%x", page,
			 t.size, t.prot, size, prot);
		return msg;
	}
	char what[40];
	snprintf(what, sizeof(what), "page 0x%" PRIx64, page);
	return check_frame(sim, t.pa.bits, pg->frame, model, f, what);
}

const char *vmc_check_space(struct sim *sim, struct mmu_vm_space *sp, const struct vm_mspace *m,
			    const struct vm_model *model, struct vmc_frames *f, struct st_rng *rng, unsigned nrandom)
{
	if (sp->nregions != m->nregions) {
		snprintf(msg, sizeof(msg), "%u regions, the model %u", sp->nregions, m->nregions);
		return msg;
	}
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct mmu_vm_region *a = &sp->region[i], *b = &m->region[i];
		if (memcmp(a, b, sizeof(*a)) != 0) {
			snprintf(msg, sizeof(msg),
				 "region %u: 0x%" PRIx64 " len 0x%" PRIx64 " prot %u kind %u max 0x%" PRIx64 " page %" PRIu64
				 ", the model 0x%" PRIx64 " len 0x%" PRIx64 " prot %u kind %u max 0x%" PRIx64 " page %" PRIu64,
				 i, a->start, a->len, a->prot, a->kind, a->max, a->first_page, b->start, b->len, b->prot,
				 b->kind, b->max, b->first_page);
			return msg;
		}
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

const char *vmc_check_object(struct sim *sim, struct mmu_vm_object *obj, const struct vm_mobject *o,
			     uint64_t mappings, const struct vm_model *model, struct vmc_frames *f)
{
	if (obj->mappings != mappings) {
		snprintf(msg, sizeof(msg), "the object's mapping count is %" PRIu64 ", the model %" PRIu64, obj->mappings,
			 mappings);
		return msg;
	}
	for (uint32_t i = 0; i < o->npages; i++) {
		mmu_pa_t pa;
		mmu_err_t err = mmu_vm_object_page(obj, i, &pa);
		if ((err == MMU_OK) != (o->page[i] >= 0)) {
			snprintf(msg, sizeof(msg), "object page %u: %s, the model %s", i, mmu_err_name(err),
				 o->page[i] >= 0 ? "resident" : "not resident");
			return msg;
		}
		char what[40];
		snprintf(what, sizeof(what), "object page %u", i);
		if (err == MMU_OK && check_frame(sim, pa.bits, o->page[i], model, f, what))
			return msg;
		uint64_t in_store = o->slot1[i] ? ((uint64_t)(o->slot1[i] - 1) << 12) | 2 : 0;
		if (err != MMU_OK && obj->slot[i].bits != in_store) {
			snprintf(msg, sizeof(msg), "object page %u: slot %" PRIx64 ", the model's swap slot %d", i,
				 obj->slot[i].bits, (int)o->slot1[i] - 1);
			return msg;
		}
	}
	return NULL;
}

const char *vmc_check_store(struct sim *sim, const mmu_pa_t *pa, const struct vm_model *model, struct vmc_frames *f)
{
	for (uint32_t i = 0; i < VM_MOBJ_PAGES; i++) {
		if ((pa[i].bits != 0) != (model->store[i] >= 0)) {
			snprintf(msg, sizeof(msg), "store page %u %s, the model's %s", i, pa[i].bits ? "made" : "not made",
				 model->store[i] >= 0 ? "made" : "not");
			return msg;
		}
		if (!pa[i].bits)
			continue;
		char what[40];
		snprintf(what, sizeof(what), "store page %u", i);
		if (check_frame(sim, pa[i].bits, model->store[i], model, f, what))
			return msg;
		const uint8_t *p = sim_phys(sim, pa[i]);
		for (unsigned off = 0; off < VM_PAGE; off++)
			if (p[off] != vm_store_byte(i, off)) {
				snprintf(msg, sizeof(msg), "store page %u: byte 0x%x is 0x%02x, not 0x%02x", i, off, p[off],
					 vm_store_byte(i, off));
				return msg;
			}
	}
	return NULL;
}
