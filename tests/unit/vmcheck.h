/* SPDX-License-Identifier: MIT */
/* The translation oracle of test_property_vm.c: a process space's tree,
 * regions and frames compared with the model of vmmodel.c. Each check
 * returns NULL, or the first difference in words (a static buffer). */
#ifndef MMU64_TEST_VMCHECK_H
#define MMU64_TEST_VMCHECK_H

#include "simtest.h"
#include "vmmodel.h"

/* Frames shared in the model must be one frame in the machine, distinct
 * ones distinct: the PA seen for each model frame, 0 while unseen. */
struct vmc_frames {
	uint64_t *pa; /* [model frame id] */
	uint32_t n;
};

void vmc_frames_begin(struct vmc_frames *f, const struct vm_model *model);
/* Two model frames at one PA? Frees F's table. */
const char *vmc_frames_end(struct vmc_frames *f);

/* SP against M: the region list, then every page of every region and a
 * few pages below each, and NRANDOM pages anywhere in the window (from
 * RNG): present or not, size (2M where the model has a 2M leaf),
 * permissions (W from the model's leaf, X from the region), the frame (as
 * shared as in the model, a 2M frame's pieces in order), its references
 * (a 2M frame's at its head) and its bytes in SIM's memory. */
const char *vmc_check_space(struct sim *sim, struct mmu_vm_space *sp, const struct vm_mspace *m,
			    const struct vm_model *model, struct vmc_frames *f, struct st_rng *rng, unsigned nrandom);

/* OBJ against the model's object O: its mapping count (MAPPINGS), which
 * pages are resident and their frames (as shared as in the model: the
 * leaves that map them, the store's), references and bytes. */
const char *vmc_check_object(struct sim *sim, struct mmu_vm_object *obj, const struct vm_mobject *o,
			     uint64_t mappings, const struct vm_model *model, struct vmc_frames *f);

/* The store's pages, at PA[i] (0: never asked for): the frame the model
 * has, its references, and every byte its pattern (vm_store_byte): no
 * write ever reaches the store. */
const char *vmc_check_store(struct sim *sim, const mmu_pa_t *pa, const struct vm_model *model, struct vmc_frames *f);

#endif
