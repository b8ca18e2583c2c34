/* SPDX-License-Identifier: MIT */
/* The local APIC (xAPIC MMIO: TCG has no x2APIC), the PIT as a delay for
 * INIT-SIPI-SIPI, and fw_cfg for the number of CPUs QEMU started. */
#include "kernel/bootinfo.h"
#include "kernel/cpu.h"
#include "kernel/kernel.h"
#include "kernel/klib.h"
#include "kernel/layout.h"

#define LAPIC_ID 0x20
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define SVR_ENABLE 0x100
#define ICR_PENDING (1u << 12)
#define APIC_BASE_ADDR_MASK 0xffffff000ull

static volatile uint32_t *lapic;

uint64_t lapic_pa(void) { return rdmsr(MSR_APIC_BASE) & APIC_BASE_ADDR_MASK; }

static uint32_t lapic_read(unsigned reg) { return lapic[reg / 4]; }
static void lapic_write(unsigned reg, uint32_t v) { lapic[reg / 4] = v; }

/* Called on every CPU. The page is reached through the direct-map address
 * of its physical address: uncached in the bootstrap tables, and mapped
 * `uc` at the same address in the library's kernel tree (machine.c). */
void lapic_init(void)
{
	lapic = phys_to_virt(lapic_pa());
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

unsigned lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }

void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

void lapic_send(unsigned apic_id, uint32_t icr_lo)
{
	/* Masked so that no handler on this CPU interleaves its own ICR writes. */
	bool on = irq_save();
	while (lapic_read(LAPIC_ICR_LO) & ICR_PENDING)
		cpu_pause();
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	irq_restore(on);
}

/* PIT channel 2 in mode 0, gated through port 0x61, polled on its output:
 * at most 54 ms per call. */
void pit_delay_us(unsigned us)
{
	uint32_t count = (uint32_t)((uint64_t)us * 1193182 / 1000000);
	if (count == 0)
		count = 1;
	if (count > 0xffff)
		count = 0xffff;
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
	outb(0x43, 0xb0); /* channel 2, lobyte/hibyte, mode 0 */
	outb(0x42, (uint8_t)count);
	outb(0x42, (uint8_t)(count >> 8));
	for (unsigned i = 0; !(inb(0x61) & 0x20); i++)
		if (i > 100000000)
			kpanic("PIT channel 2 never fired");
}

#define FW_CFG_SELECTOR 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_NB_CPUS 0x05

static void fw_cfg_read(uint16_t key, void *buf, unsigned n)
{
	outw(FW_CFG_SELECTOR, key);
	for (unsigned i = 0; i < n; i++)
		((uint8_t *)buf)[i] = inb(FW_CFG_DATA);
}

unsigned fw_cfg_cpus(void)
{
	char sig[4];
	uint16_t n = 1;
	fw_cfg_read(FW_CFG_SIGNATURE, sig, 4);
	if (memcmp(sig, "QEMU", 4) != 0)
		return 1;
	fw_cfg_read(FW_CFG_NB_CPUS, &n, 2);
	return n ? n : 1;
}
