/* SPDX-License-Identifier: MIT */
/* A test-and-set lock that also masks interrupts on this CPU, so an
 * interrupt handler on the same CPU can never spin on a lock its CPU holds. */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

#include <stdatomic.h>
#include <stdbool.h>

#include "kernel/cpu.h"

struct spinlock {
	atomic_flag held;
};
#define SPINLOCK_INIT {ATOMIC_FLAG_INIT}

static inline bool spin_lock_irqsave(struct spinlock *l)
{
	bool on = irq_save();
	while (atomic_flag_test_and_set_explicit(&l->held, memory_order_acquire))
		cpu_pause();
	return on;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, bool on)
{
	atomic_flag_clear_explicit(&l->held, memory_order_release);
	irq_restore(on);
}

#endif
