/* SPDX-License-Identifier: MIT */
/* The bare-metal mmu64 port (port.c). */
#ifndef KERNEL_PORT_H
#define KERNEL_PORT_H

#include "mmu64/mmu64.h"

extern const struct mmu_port kernel_port;

/* Boot check of the port's rules (cpu_relax opens no interrupt window). */
void port_selftest(void);

#endif
