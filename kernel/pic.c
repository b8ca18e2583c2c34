/* SPDX-License-Identifier: MIT */
/* The legacy 8259 PICs: SeaBIOS leaves them unmasked with IRQ0 on vector 8,
 * where the timer would look like a #DF. We use the LAPIC only. */
#include "kernel/cpu.h"
#include "kernel/kernel.h"

void pic_disable(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}
