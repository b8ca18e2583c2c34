/* SPDX-License-Identifier: MIT */
/* Shared memory and the file (memobj.h).
 *
 * A pool object is made and mapped by one system call and reachable only
 * through the regions that map it (fork copies them), so once none does
 * it is dead for good: memobj_sweep releases it, and the library's BUSY
 * tells the sweep which objects are still mapped. A slot is claimed under
 * the pool lock (FREE or LIVE to BUSY) and the library is called with the
 * lock dropped, as proc.c never holds its lock across a call into mmu64. */
#include "kernel/memobj.h"

#include <stdbool.h>

#include "kernel/bootinfo.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/kswap.h"
#include "kernel/pmem.h"
#include "kernel/proc.h"
#include "kernel/spinlock.h"
#include "kernel/user/syscall.h"

#define SHM_OBJECTS 8
#define SHM_PAGES 64 /* the largest shared mapping: 256 KiB */

enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_LIVE };

struct shm {
	enum slot_state state;
	struct mmu_vm_object obj;
	mmu_pa_t slots[SHM_PAGES];
	struct mmu_vm_object_mapper mapper[NPROC]; /* one per process at most */
};

static struct shm shm[SHM_OBJECTS];
static struct spinlock shm_lock = SPINLOCK_INIT;
static struct mmu *shm_mmu;

static struct {
	struct mmu_vm_object obj;
	mmu_pa_t slots[UFILE_PAGES];
	struct mmu_vm_object_mapper mapper[NPROC]; /* one per process at most */
	mmu_pa_t frame[UFILE_PAGES]; /* the file's contents, the kernel's for good */
} file;

/* The file's pager: its pages are always in memory, each with the
 * kernel's own reference, so the answer is the frame itself. */
static mmu_err_t file_get_page(void *ctx, uint64_t index, mmu_pa_t *out)
{
	(void)ctx;
	*out = file.frame[index];
	return MMU_OK;
}

static const struct mmu_vm_pager_ops file_pager = {.get_page = file_get_page};

void memobj_init(struct mmu *mmu)
{
	shm_mmu = mmu;
	for (uint64_t p = 0; p < UFILE_PAGES; p++) {
		if (pmem_data_alloc(MMU_SIZE_4K, &file.frame[p]) != MMU_OK)
			kpanic("memobj: no frame for the file");
		uint64_t *word = phys_to_virt(file.frame[p].bits);
		for (uint64_t i = 0; i < MMU_PAGE_SIZE / 8; i++)
			word[i] = ufile_word(p, i);
		mmu_vm_frame_ref(mmu, file.frame[p]);
	}
	if (mmu_vm_object_init_pager(mmu, &file.obj, file.slots, UFILE_PAGES, &file_pager, NULL) != MMU_OK)
		kpanic("memobj: the file's object");
	if (mmu_vm_object_set_mapper_storage(&file.obj, file.mapper, NPROC) != MMU_OK)
		kpanic("memobj: the file's mapper records");
}

mmu_err_t memobj_file_page_out(uint64_t page, bool *dirty)
{
	return mmu_vm_object_page_out(&file.obj, page, dirty);
}

/* SP is the caller's, inside its system call: its regions stay, so the
 * object stays mapped (and live) throughout. */
mmu_err_t memobj_page_out_at(struct mmu_vm_space *sp, uint64_t va, bool *dirty)
{
	struct mmu_vm_region r;
	if (!mmu_vm_region_get(sp, va, &r) || !r.obj)
		return MMU_E_INVALID;
	return mmu_vm_object_page_out(r.obj, r.first_page + ((va - r.start) >> MMU_PAGE_SHIFT), dirty);
}

mmu_err_t memobj_map_file(struct mmu_vm_space *sp, uint64_t va, uint64_t len, unsigned prot)
{
	return mmu_vm_region_add_object(sp, va, len, prot, MMU_VM_PRIVATE, &file.obj, 0);
}

/* Move a slot from FROM to TO under the pool lock: false when it was not
 * in FROM. */
static bool shm_claim(struct shm *s, enum slot_state from, enum slot_state to)
{
	bool on = spin_lock_irqsave(&shm_lock);
	bool ok = s->state == from;
	if (ok)
		s->state = to;
	spin_unlock_irqrestore(&shm_lock, on);
	return ok;
}

static struct shm *shm_claim_free(void)
{
	for (unsigned i = 0; i < SHM_OBJECTS; i++)
		if (shm_claim(&shm[i], SLOT_FREE, SLOT_BUSY))
			return &shm[i];
	return NULL;
}

mmu_err_t memobj_map_shared(struct mmu_vm_space *sp, uint64_t va, uint64_t len, unsigned prot)
{
	if (len == 0 || len % MMU_PAGE_SIZE || len / MMU_PAGE_SIZE > SHM_PAGES)
		return MMU_E_INVALID;
	struct shm *s = shm_claim_free();
	if (!s)
		return MMU_E_NOSPACE;
	mmu_err_t err = mmu_vm_object_init_anon(shm_mmu, &s->obj, s->slots, len / MMU_PAGE_SIZE);
	if (err == MMU_OK)
		err = mmu_vm_object_set_mapper_storage(&s->obj, s->mapper, NPROC);
	if (err == MMU_OK)
		err = kswap_set_object(&s->obj); /* its pages may go to the swap pool */
	if (err == MMU_OK) {
		err = mmu_vm_region_add_object(sp, va, len, prot, MMU_VM_SHARED, &s->obj, 0);
		if (err != MMU_OK)
			(void)mmu_vm_object_release(&s->obj); /* unmapped: nothing resident */
	}
	(void)shm_claim(s, SLOT_BUSY, err == MMU_OK ? SLOT_LIVE : SLOT_FREE);
	return err;
}

/* A slot another CPU holds (making the object, or sweeping it) is waited
 * for, not skipped: that sweep may have found the object still mapped by
 * the very region whose removal called us, and no later sweep may come.
 * No process is preempted, and a holder's calls (object init, region add,
 * release) flush nothing, so it never waits for this CPU's shootdown
 * acknowledgement while we spin with interrupts off. */
static void sweep_slot(struct shm *s)
{
	while (!shm_claim(s, SLOT_LIVE, SLOT_BUSY)) {
		if (shm_claim(s, SLOT_FREE, SLOT_FREE))
			return;
		cpu_pause();
	}
	mmu_err_t err = mmu_vm_object_release(&s->obj); /* BUSY while a region maps it */
	if (err != MMU_OK && err != MMU_E_BUSY)
		kpanic("memobj: releasing a shared object: %s", mmu_err_name(err));
	(void)shm_claim(s, SLOT_BUSY, err == MMU_OK ? SLOT_FREE : SLOT_LIVE);
}

void memobj_sweep(void)
{
	for (unsigned i = 0; i < SHM_OBJECTS; i++)
		sweep_slot(&shm[i]);
}
