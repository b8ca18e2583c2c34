/* SPDX-License-Identifier: MIT */
/* Kernel-wide declarations between the files of kernel/. */
#ifndef KERNEL_KERNEL_H
#define KERNEL_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu64/mmu64.h"

/* pic.c */
void pic_disable(void);

/* lapic.c */
uint64_t lapic_pa(void);
void lapic_init(void);
unsigned lapic_id(void);
void lapic_eoi(void);
void lapic_send(unsigned apic_id, uint32_t icr_lo);
void pit_delay_us(unsigned us);
unsigned fw_cfg_cpus(void);

/* smp.c: CPUs are numbered 0 (the BSP) .. smp_cpus()-1 in bring-up order. */
void smp_init(void);
unsigned smp_cpus(void);
unsigned smp_apic_id(unsigned cpu);
void smp_send_ipi(unsigned cpu, unsigned vector);
/* idt.c: wake IPIs taken, every CPU (port_selftest). */
extern _Atomic uint64_t wake_ipis;
/* Run FN(ARG) on CPU and wait for it to return (directly when CPU is this
 * one). Interrupts stay on while waiting, so shootdowns progress. */
void run_on_cpu(unsigned cpu, void (*fn)(void *), void *arg);
/* Start FN(ARG) on another CPU without waiting; its mailbox (percpu
 * call_fn) reads NULL again once FN returned. */
void post_on_cpu(unsigned cpu, void (*fn)(void *), void *arg);

/* machine.c: the MMU instance a vector runs on, NULL before setup. */
extern struct mmu *kernel_mmu;
void ipi_tlb_handler(void);

#endif
