/* SPDX-License-Identifier: MIT */
/* The swap store (kswap.h). Its hooks run under a space's lock, with
 * interrupts in whatever state the caller left them, on any CPU: the
 * pool's spinlock is taken with interrupts off and never held across a
 * call into mmu64. A slot whose count is off panics: the library owes
 * the store exact references. */
#include "kernel/kswap.h"

#include "kernel/bootinfo.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/spinlock.h"

static struct {
	uint8_t page[KSWAP_SLOTS][MMU_PAGE_SIZE];
	uint32_t refs[KSWAP_SLOTS];
	uint64_t used;
} pool __attribute__((aligned(4096)));

static struct spinlock pool_lock = SPINLOCK_INIT;

static mmu_err_t kswap_write(void *ctx, mmu_pa_t frame, uint64_t *slot)
{
	(void)ctx;
	bool on = spin_lock_irqsave(&pool_lock);
	mmu_err_t err = MMU_E_NOMEM;
	for (uint64_t i = 0; i < KSWAP_SLOTS && err != MMU_OK; i++) {
		if (pool.refs[i] == 0) {
			pool.refs[i] = 1;
			pool.used++;
			*slot = i;
			err = MMU_OK;
		}
	}
	spin_unlock_irqrestore(&pool_lock, on);
	if (err == MMU_OK) /* the slot is ours alone until the entry holds it */
		memcpy(pool.page[*slot], phys_to_virt(frame.bits), MMU_PAGE_SIZE);
	return err;
}

/* SLOT's count, checked (the pool lock held). */
static uint32_t *slot_refs(uint64_t slot, const char *hook)
{
	if (slot >= KSWAP_SLOTS || pool.refs[slot] == 0)
		kpanic("kswap: %s of slot %lu, which holds nothing", hook, (unsigned long)slot);
	return &pool.refs[slot];
}

static mmu_err_t kswap_read(void *ctx, uint64_t slot, mmu_pa_t frame)
{
	(void)ctx;
	bool on = spin_lock_irqsave(&pool_lock);
	(void)slot_refs(slot, "read");
	spin_unlock_irqrestore(&pool_lock, on);
	/* The caller's entry holds a reference: nobody rewrites the slot. */
	memcpy(phys_to_virt(frame.bits), pool.page[slot], MMU_PAGE_SIZE);
	return MMU_OK;
}

static void kswap_dup(void *ctx, uint64_t slot)
{
	(void)ctx;
	bool on = spin_lock_irqsave(&pool_lock);
	++*slot_refs(slot, "dup");
	spin_unlock_irqrestore(&pool_lock, on);
}

static void kswap_free(void *ctx, uint64_t slot)
{
	(void)ctx;
	bool on = spin_lock_irqsave(&pool_lock);
	if (--*slot_refs(slot, "free") == 0)
		pool.used--;
	spin_unlock_irqrestore(&pool_lock, on);
}

static const struct mmu_vm_swap_ops kswap_ops = {kswap_write, kswap_read, kswap_dup, kswap_free};

mmu_err_t kswap_set(struct mmu_vm_space *sp, bool on)
{
	return mmu_vm_space_set_swap(sp, on ? &kswap_ops : NULL, NULL);
}

mmu_err_t kswap_set_object(struct mmu_vm_object *obj) { return mmu_vm_object_set_swap(obj, &kswap_ops, NULL); }

uint64_t kswap_slots_used(void)
{
	bool on = spin_lock_irqsave(&pool_lock);
	uint64_t n = pool.used;
	spin_unlock_irqrestore(&pool_lock, on);
	return n;
}
